package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	gojson "github.com/goccy/go-json"
	"strings"
)

// Envelope is the EventBridge event around a detail, its fields in
// EventBridge's order (putevents writes it as EventBridge delivers it:
// https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).
// Detail stays raw until the detail-type says what it is.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Input is one decoded event as it arrived: a native signal, or a CloudWatch
// alarm state change that still has to be mapped to a model.
type Input struct {
	// ID is the EventBridge event id, empty for a bare detail.
	ID string
	// Source is the EventBridge source, empty for a bare detail.
	Source string
	// Native is set for "ML Model Signal" events and bare details.
	Native *Event
	// Alarm is set for "CloudWatch Alarm State Change" and "CloudWatch
	// Alarm Contributor State Change" events.
	Alarm *AlarmStateChange
	// ProcessingJob, DataQuality and Execution are set for the AWS service
	// events of their detail-types (see awsAdapters).
	ProcessingJob *ProcessingJobStateChange
	DataQuality   *DataQualityResult
	Execution     *ExecutionStatusChange
	// ModelPackage and Deployed are set for the version timeline's events
	// (see VersionChange): they are not signals.
	ModelPackage *ModelPackageStateChange
	Deployed     *VersionDeployed
	// Key, when set, identifies the event for idempotency instead of ID:
	// AWS may send one change as several events with different ids.
	Key string
}

// anyEvent decodes every accepted shape in one pass: an EventBridge
// envelope (whose detail is either kind — native and alarm field names do
// not collide) or a bare native detail, whose fields sit at the top level.
// Decoding the same bytes once rather than three times is most of the
// router's per-event cost.
type anyEvent struct {
	DetailType *string       `json:"detail-type"`
	ID         string        `json:"id"`
	Source     string        `json:"source"`
	Resources  []string      `json:"resources"`
	Detail     *eitherDetail `json:"detail"`
	wire
}

type eitherDetail struct {
	wire
	AlarmStateChange
}

// Parse decodes a bare native detail, an EventBridge envelope around one, or
// an EventBridge "CloudWatch Alarm State Change" event, of at most
// MaxEventBytes.
func Parse(data []byte) (Input, error) {
	if err := sizeError(data); err != nil {
		return Input{}, err
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Input{}, fmt.Errorf("empty event")
	}
	if data[0] != '{' {
		_, err := DecodeDetail(data, true) // says what it is instead
		return Input{}, err
	}
	var e anyEvent
	if fastDecode(data, &e) != nil {
		if in, ok, err := parseAWS(data); ok {
			return in, err
		}
		// The fast decoder found a problem; encoding/json's errors are the
		// ones jsonError turns into messages with positions and fields.
		e = anyEvent{}
		err := json.Unmarshal(data, &e)
		if err == nil {
			err = fmt.Errorf("malformed JSON")
		}
		err = jsonError(data, err)
		var fe *FieldError
		if errors.As(err, &fe) {
			if f, ok := strings.CutPrefix(fe.Field, "detail."); ok {
				return Input{}, fmt.Errorf("detail: %w", &FieldError{Field: f, Msg: fe.Msg})
			}
		}
		return Input{}, err
	}
	if e.DetailType == nil {
		ev, err := e.wire.event(func() []byte { return data }, true)
		if err != nil {
			return Input{}, err
		}
		return Input{Native: &ev}, nil
	}
	in := Input{ID: e.ID, Source: e.Source}
	if e.Detail == nil {
		return in, fmt.Errorf("EventBridge event %s has no detail", e.ID)
	}
	switch *e.DetailType {
	case DetailType:
		ev, err := e.Detail.wire.event(func() []byte { return detailJSON(data) }, true)
		if err != nil {
			return in, fmt.Errorf("detail: %w", err)
		}
		in.Native = &ev
	case AlarmDetailType:
		a := e.Detail.AlarmStateChange
		if a.AlarmName == "" {
			return in, fmt.Errorf("detail: CloudWatch alarm event has no alarmName")
		}
		a.Resources = e.Resources
		in.Alarm = &a
	case AlarmContributorDetailType:
		a := e.Detail.AlarmStateChange
		if a.AlarmName == "" || a.AlarmContributor == nil {
			return in, fmt.Errorf("detail: CloudWatch alarm contributor event has no alarmName or no alarmContributor")
		}
		a.Resources = e.Resources
		in.Alarm = &a
	case ProcessingJobDetailType, DataQualityDetailType, ExecutionDetailType, ModelPackageDetailType, VersionDeployedDetailType:
		in, _, err := parseAWS(data)
		return in, err
	default:
		return in, fmt.Errorf("unsupported detail-type %q (want one of %s)", *e.DetailType, strings.Join(quoteAll(DetailTypes), ", "))
	}
	return in, nil
}

// detailJSON extracts the raw detail, for the rare message that names
// unknown fields.
func detailJSON(data []byte) []byte {
	var env struct {
		Detail json.RawMessage `json:"detail"`
	}
	json.Unmarshal(data, &env)
	return env.Detail
}

// Resolve returns the native event for the input, mapping an external
// event to its model with modelsFor (the models whose match globs of a kind
// accept a name). An event with nothing to evaluate is an *Ignored error.
func (in Input) Resolve(modelsFor ModelsFor) (Event, error) {
	switch {
	case in.Native != nil:
		return *in.Native, nil
	case in.Alarm != nil:
		return in.Alarm.Signal(modelsFor)
	case in.ProcessingJob != nil:
		return in.ProcessingJob.Signal(modelsFor)
	case in.DataQuality != nil:
		return in.DataQuality.Signal(modelsFor)
	case in.Execution != nil:
		return in.Execution.Signal(modelsFor)
	case in.ModelPackage != nil, in.Deployed != nil:
		return Event{}, fmt.Errorf("a model version change is no signal: read it with VersionChange")
	}
	return Event{}, fmt.Errorf("empty input")
}

// fastDecode decodes with goccy/go-json, several times faster than
// encoding/json on the router's hot path (most of the per-event cost).
func fastDecode(data []byte, v any) error { return gojson.Unmarshal(data, v) }

// DetailTypes are the EventBridge detail-types Parse reads.
var DetailTypes = []string{DetailType, AlarmDetailType, AlarmContributorDetailType,
	ProcessingJobDetailType, DataQualityDetailType, ExecutionDetailType,
	ModelPackageDetailType, VersionDeployedDetailType}
