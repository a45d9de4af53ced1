package signal

import (
	"fmt"
	"strings"
	"time"
)

// ProcessingJobDetailType is the detail-type of SageMaker processing job
// state changes. A SageMaker Model Monitor execution is a processing job.
const ProcessingJobDetailType = "SageMaker Processing Job State Change"

// Model Monitor sets these environment variables in the processing job it
// starts for each execution (its container contract inputs:
// https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-contract-inputs.html),
// and the state change event carries the job's Environment as
// DescribeProcessingJob returns it. That is the assumption: a job is a
// Model Monitor execution when its Environment names a schedule; other
// processing jobs have neither variable (a job that sets them itself is
// read as an execution of that schedule).
const (
	envMonitoringSchedule = "sagemaker_monitoring_schedule_name"
	envEndpoint           = "sagemaker_endpoint_name"
)

// The metrics of processing job signals: 1 the run failed or was stopped,
// 0 it completed (the monitor is alive).
const (
	MetricMonitoringExecution = "monitoring_execution"
	MetricProcessingJob       = "processing_job"
)

// ProcessingJobStateChange is the detail of a "SageMaker Processing Job
// State Change" event (the fields stakeout reads).
type ProcessingJobStateChange struct {
	ProcessingJobName   string            `json:"ProcessingJobName"`
	ProcessingJobArn    string            `json:"ProcessingJobArn"`
	ProcessingJobStatus string            `json:"ProcessingJobStatus"`
	FailureReason       string            `json:"FailureReason"`
	ExitMessage         string            `json:"ExitMessage"`
	ProcessingEndTime   awsTime           `json:"ProcessingEndTime"`
	LastModifiedTime    awsTime           `json:"LastModifiedTime"`
	Environment         map[string]string `json:"Environment"`
	env                 *Envelope
}

func decodeProcessingJob(in *Input, env *Envelope) error {
	var p ProcessingJobStateChange
	if err := decodeAWSDetail(env, &p); err != nil {
		return err
	}
	if p.ProcessingJobName == "" {
		return fmt.Errorf("detail: SageMaker processing job event has no ProcessingJobName")
	}
	p.env = env
	in.ProcessingJob = &p
	// SageMaker may send several events for one state change, each with
	// its own id: the job and its status are the change.
	in.Key = "sagemaker-processing-job/" + p.ProcessingJobName + "/" + p.ProcessingJobStatus
	return nil
}

// Schedule is the Model Monitor monitoring schedule that ran the job ("" for
// another processing job).
func (p *ProcessingJobStateChange) Schedule() string { return p.Environment[envMonitoringSchedule] }

// Signal maps the job's end to an operational signal of the model whose
// match.processing_jobs accepts the job name or its monitoring schedule:
// Failed and Stopped are 1, Completed 0. A job's name changes every run,
// so the series (the feature) is what stays: a Model Monitor execution's
// schedule, another job's StableJobName; so a completed run resolves a
// failed one.
func (p *ProcessingJobStateChange) Signal(modelsFor ModelsFor) (Event, error) {
	what := fmt.Sprintf("SageMaker processing job %q", p.ProcessingJobName)
	var value float64
	switch p.ProcessingJobStatus {
	case "Completed":
	case "Failed", "Stopped":
		value = 1
	case "InProgress", "Stopping":
		return Event{}, &Ignored{Reason: fmt.Sprintf("%s is %s: only Completed, Failed and Stopped say whether it ran", what, p.ProcessingJobStatus)}
	default:
		return Event{}, fmt.Errorf("%s: unknown ProcessingJobStatus %q (want Completed, Failed, Stopped, InProgress or Stopping)", what, p.ProcessingJobStatus)
	}
	schedule := p.Schedule()
	model, err := oneModel(what, modelsFor, matchName{MatchProcessingJob, p.ProcessingJobName}, matchName{MatchProcessingJob, schedule})
	if err != nil {
		return Event{}, err
	}
	ev := Event{Model: model, Kind: "operational", Metric: MetricProcessingJob, Value: value, Feature: StableJobName(p.ProcessingJobName),
		Labels: map[string]string{"source": "sagemaker", "status": p.ProcessingJobStatus, "processing_job": p.ProcessingJobName}}
	if schedule != "" {
		ev.Metric, ev.Feature = MetricMonitoringExecution, schedule
		ev.Labels["monitoring_schedule"] = schedule
		setLabel(ev.Labels, "endpoint", p.Environment[envEndpoint])
		ev.WindowStart, ev.WindowEnd = p.window()
	}
	setLabel(ev.Labels, "failure_reason", bounded(p.FailureReason, maxReasonLabel))
	setLabel(ev.Labels, "exit_message", bounded(p.ExitMessage, maxReasonLabel))
	if ev.ObservedAt, err = p.env.observedAt(p.ProcessingEndTime, p.LastModifiedTime); err != nil {
		return Event{}, err
	}
	if err := ev.Check(); err != nil {
		return Event{}, fmt.Errorf("%s: %w", what, err)
	}
	return ev, nil
}

// window is the monitoring window the execution analysed, when the
// Environment gives both ends.
func (p *ProcessingJobStateChange) window() (*time.Time, *time.Time) {
	start, err1 := time.Parse(time.RFC3339, p.Environment["start_time"])
	end, err2 := time.Parse(time.RFC3339, p.Environment["end_time"])
	if err1 != nil || err2 != nil {
		return nil, nil
	}
	return &start, &end
}

// StableJobName is a processing job's name without what changes from run
// to run: the trailing "-"-separated parts that are a timestamp or an id
// (digits, or hexadecimal with a digit in it). The SageMaker SDK names a
// job base-2024-01-03-15-00-00-123, Pipelines and AWS's samples end it in
// a UUID or hash (integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02):
// both keep the base. A name made only of such parts is kept whole.
func StableJobName(name string) string {
	parts := strings.Split(name, "-")
	n := len(parts)
	for n > 1 && volatilePart(parts[n-1]) {
		n--
	}
	if n == 1 && volatilePart(parts[0]) {
		return name
	}
	return strings.Join(parts[:n], "-")
}

// volatilePart reports whether a part of a job name looks like a run's
// timestamp or id: digits, or hexadecimal holding at least one digit (so
// that words such as "face" or "beef" stay).
func volatilePart(p string) bool {
	digit := false
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'a' && r <= 'f', r >= 'A' && r <= 'F':
		default:
			return false
		}
	}
	return digit
}
