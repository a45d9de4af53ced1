package signal

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Envelope is the EventBridge event around a detail. Only the fields stakeout
// reads are kept; Detail stays raw until the detail-type says what it is.
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
	// Alarm is set for "CloudWatch Alarm State Change" events.
	Alarm *AlarmStateChange
}

// Parse decodes a bare native detail, an EventBridge envelope around one, or
// an EventBridge "CloudWatch Alarm State Change" event.
func Parse(data []byte) (Input, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Input{}, fmt.Errorf("empty event")
	}
	var probe struct {
		DetailType *string         `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Input{}, jsonError(data, err)
	}
	if probe.DetailType == nil {
		ev, err := DecodeDetail(data, true)
		if err != nil {
			return Input{}, err
		}
		return Input{Native: &ev}, nil
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Input{}, jsonError(data, err)
	}
	in := Input{ID: env.ID, Source: env.Source}
	if len(env.Detail) == 0 {
		return in, fmt.Errorf("EventBridge event %s has no detail", env.ID)
	}
	switch env.DetailType {
	case DetailType:
		ev, err := DecodeDetail(env.Detail, true)
		if err != nil {
			return in, fmt.Errorf("detail: %w", err)
		}
		in.Native = &ev
	case AlarmDetailType:
		a, err := DecodeAlarm(env.Detail)
		if err != nil {
			return in, fmt.Errorf("detail: %w", err)
		}
		a.Resources = env.Resources
		in.Alarm = &a
	default:
		return in, fmt.Errorf("unsupported detail-type %q (want %q or %q)", env.DetailType, DetailType, AlarmDetailType)
	}
	return in, nil
}

// Resolve returns the native event for the input, mapping an alarm to its
// model with modelsFor (the models whose match globs accept an alarm name).
func (in Input) Resolve(modelsFor func(alarmName string) []string) (Event, error) {
	switch {
	case in.Native != nil:
		return *in.Native, nil
	case in.Alarm != nil:
		return in.Alarm.Signal(modelsFor)
	}
	return Event{}, fmt.Errorf("empty input")
}
