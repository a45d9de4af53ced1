package signal

import (
	"fmt"
	"time"
)

// ProcessingJobDetailType is the detail-type of SageMaker processing job
// state changes. A SageMaker Model Monitor execution is a processing job.
const ProcessingJobDetailType = "SageMaker Processing Job State Change"

// Model Monitor puts these in a monitoring execution's Environment
// (the container contract); other processing jobs have neither.
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
// Failed and Stopped are 1, Completed 0. The series is the schedule's (a
// job's name changes every run), so a completed run resolves a failed one.
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
	ev := Event{Model: model, Kind: "operational", Metric: MetricProcessingJob, Value: value, Feature: p.ProcessingJobName,
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
