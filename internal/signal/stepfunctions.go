package signal

import (
	"fmt"
	"strings"
)

// ExecutionDetailType is the detail-type of Step Functions execution
// status changes.
const ExecutionDetailType = "Step Functions Execution Status Change"

// MetricExecutionFailed is the metric of Step Functions signals: 1 the
// execution failed, timed out or was aborted, 0 it succeeded.
const MetricExecutionFailed = "execution_failed"

// ExecutionStatusChange is the detail of a "Step Functions Execution
// Status Change" event. error and cause are DescribeExecution's, present on
// live FAILED and TIMED_OUT events (AWS's older samples lack them).
type ExecutionStatusChange struct {
	ExecutionArn    string  `json:"executionArn"`
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	StartDate       awsTime `json:"startDate"`
	StopDate        awsTime `json:"stopDate"`
	Error           string  `json:"error"`
	Cause           string  `json:"cause"`
	env             *Envelope
}

func decodeExecution(in *Input, env *Envelope) error {
	var x ExecutionStatusChange
	if err := decodeAWSDetail(env, &x); err != nil {
		return err
	}
	if x.StateMachineArn == "" {
		return fmt.Errorf("detail: Step Functions event has no stateMachineArn")
	}
	x.env = env
	in.Execution = &x
	return nil
}

// StateMachine is the state machine's name: the last part of its ARN.
func (x *ExecutionStatusChange) StateMachine() string {
	return x.StateMachineArn[strings.LastIndexByte(x.StateMachineArn, ':')+1:]
}

// Signal maps the execution's end to an operational signal of the model
// whose match.state_machines accepts the state machine's name: FAILED,
// TIMED_OUT and ABORTED are 1, SUCCEEDED 0 (which resolves). The feature is
// the state machine: one series per pipeline.
func (x *ExecutionStatusChange) Signal(modelsFor ModelsFor) (Event, error) {
	what := fmt.Sprintf("Step Functions execution %q of %q", x.Name, x.StateMachine())
	var value float64
	switch x.Status {
	case "SUCCEEDED":
	case "FAILED", "TIMED_OUT", "ABORTED":
		value = 1
	case "RUNNING":
		return Event{}, &Ignored{Reason: fmt.Sprintf("%s is RUNNING: it has not ended", what)}
	case "PENDING_REDRIVE":
		// RedriveExecution restarts a failed, timed-out or aborted
		// execution from the step that failed, under the same ARN.
		return Event{}, &Ignored{Reason: fmt.Sprintf("%s is PENDING_REDRIVE: someone redrove it after it failed, so its alert stays open; "+
			"nothing to do but follow the redrive — SUCCEEDED resolves the alert, another failure updates it", what)}
	default:
		return Event{}, fmt.Errorf("%s: unknown status %q (want SUCCEEDED, FAILED, TIMED_OUT, ABORTED, RUNNING or PENDING_REDRIVE)", what, x.Status)
	}
	model, err := oneModel(what, modelsFor, matchName{MatchStateMachine, x.StateMachine()})
	if err != nil {
		return Event{}, err
	}
	ev := Event{Model: model, Kind: "operational", Metric: MetricExecutionFailed, Value: value, Feature: x.StateMachine(),
		Labels: map[string]string{"source": "stepfunctions", "status": x.Status, "execution": x.Name}}
	setLabel(ev.Labels, "error", bounded(x.Error, maxReasonLabel))
	setLabel(ev.Labels, "cause", bounded(x.Cause, maxReasonLabel))
	if ev.ObservedAt, err = x.env.observedAt(x.StopDate); err != nil {
		return Event{}, err
	}
	if err := ev.Check(); err != nil {
		return Event{}, fmt.Errorf("%s: %w", what, err)
	}
	return ev, nil
}
