package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Ignored is what an adapter says of an event it reads but that has
// nothing to evaluate (a job or execution still running): not a fault, so
// neither quarantined nor retried; the router logs the reason.
type Ignored struct{ Reason string }

func (e *Ignored) Error() string { return e.Reason }

// awsAdapters decode the AWS service events read besides CloudWatch
// alarms, by detail-type, into their field of Input.
var awsAdapters = map[string]func(in *Input, env *Envelope) error{
	ProcessingJobDetailType: decodeProcessingJob,
	DataQualityDetailType:   decodeDataQuality,
	ExecutionDetailType:     decodeExecution,
	// The version timeline's events: the native deploy event's detail
	// has no field of a signal but model and version.
	ModelPackageDetailType:    decodeModelPackage,
	VersionDeployedDetailType: decodeVersionDeployed,
}

// parseAWS decodes an EventBridge event whose detail-type an adapter in
// awsAdapters reads (ok false for any other). Their details are decoded on
// their own: their field names collide with the native ones (Glue's state
// is a string, SageMaker's Environment a map).
func parseAWS(data []byte) (in Input, ok bool, err error) {
	var env Envelope
	if json.Unmarshal(data, &env) != nil {
		return Input{}, false, nil
	}
	decode, ok := awsAdapters[env.DetailType]
	if !ok {
		return Input{}, false, nil
	}
	in = Input{ID: env.ID, Source: env.Source}
	if len(env.Detail) == 0 || bytes.Equal(env.Detail, []byte("null")) {
		return in, true, fmt.Errorf("EventBridge event %s has no detail", env.ID)
	}
	return in, true, decode(&in, &env)
}

// decodeAWSDetail decodes an AWS service event's detail, its errors
// naming the field as the native decoder's do.
func decodeAWSDetail(env *Envelope, v any) error {
	if err := json.Unmarshal(env.Detail, v); err != nil {
		return fmt.Errorf("detail: %w", jsonError(env.Detail, err))
	}
	return nil
}

// awsTime is a time in an AWS service event: epoch milliseconds (SageMaker,
// Step Functions) or an RFC 3339 string.
type awsTime struct{ t time.Time }

func (a *awsTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] == '"' {
		s, _ := strconv.Unquote(string(b))
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%q is neither epoch milliseconds nor an RFC 3339 time", s)
		}
		a.t = t
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("%s is neither epoch milliseconds nor an RFC 3339 time", b)
	}
	a.t = time.UnixMilli(int64(ms)).UTC()
	return nil
}

// observedAt is the first time set among ts, else the envelope's time
// (when EventBridge saw the change).
func (env *Envelope) observedAt(ts ...awsTime) (time.Time, error) {
	for _, t := range ts {
		if !t.t.IsZero() {
			return t.t, nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, env.Time)
	if err != nil {
		return time.Time{}, fmt.Errorf("EventBridge event %s: time %q is not an RFC 3339 time", env.ID, env.Time)
	}
	return t, nil
}

// maxReasonLabel bounds a free-text reason AWS puts on an event (a failure
// reason, a cause with a stack trace) as a label: the router refuses
// labels over 1024 bytes, and the start says what went wrong.
const maxReasonLabel = 512

// bounded cuts s to at most n bytes on a character boundary, marking the cut.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// setLabel sets a label when its value is not empty.
func setLabel(labels map[string]string, k, v string) {
	if v != "" {
		labels[k] = v
	}
}
