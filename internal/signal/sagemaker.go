package signal

import (
	"encoding/json"
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
	Tags                jobTags           `json:"Tags"`
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
// match.processing_jobs accepts the job name, its monitoring schedule or
// its pipeline step (pipeline/step, when the event's tags name both):
// Failed and Stopped are 1, Completed 0. A job's name changes every run,
// so the series (the feature) is what stays (jobSeries); so a completed
// run resolves a failed one.
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
	ev := Event{Kind: "operational", Metric: MetricProcessingJob, Value: value,
		Labels: map[string]string{"source": "sagemaker", "status": p.ProcessingJobStatus, "processing_job": p.ProcessingJobName}}
	var pipelineStep string
	ev.Feature, pipelineStep = p.jobSeries(ev.Labels)
	var err error
	ev.Model, err = oneModel(what, modelsFor, matchName{MatchProcessingJob, p.ProcessingJobName}, matchName{MatchProcessingJob, schedule},
		matchName{MatchProcessingJob, pipelineStep})
	if err != nil {
		return Event{}, err
	}
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

// The tags SageMaker Pipelines puts on the jobs a pipeline execution runs
// (seen on such jobs: https://github.com/getindata/kedro-sagemaker/issues/20).
// AWS's sample processing job event has no Tags; its training and transform
// job events carry Tags as an object, so they are read when present.
const (
	tagPipelineExecution = "sagemaker:pipeline-execution-arn"
	tagPipelineStep      = "sagemaker:pipeline-step-name"
)

// jobSeries is the feature of a job that is not a Model Monitor execution,
// what stays between its runs, and its pipeline step as match.processing_jobs
// may name it (pipeline/step, "" unless the tags give both); it sets the
// pipeline labels. A SageMaker Pipelines step's job is named anew by each
// execution, with an id of letters StableJobName cannot tell from a word:
// the series is the step, from the tags when the event has them (then
// pipeline/step, so that two pipelines' steps of one name stay apart), else
// from the job name (pipelineStep). Any other job's is its StableJobName.
func (p *ProcessingJobStateChange) jobSeries(labels map[string]string) (feature, matchStep string) {
	pipeline, execution := pipelineExecution(p.Tags[tagPipelineExecution])
	if step := p.Tags[tagPipelineStep]; step != "" && pipeline != "" {
		labels["pipeline"], labels["pipeline_step"] = pipeline, step
		setLabel(labels, "pipeline_execution", execution)
		return pipeline + "/" + step, pipeline + "/" + step
	}
	if step, execution, ok := pipelineStep(p.ProcessingJobName); ok {
		labels["pipeline_step"], labels["pipeline_execution"] = step, execution
		return step, ""
	}
	return StableJobName(p.ProcessingJobName), ""
}

// pipelineExecution splits a pipeline execution's ARN,
// arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>, into
// the pipeline's name and the execution's id ("" when it is not one).
func pipelineExecution(arn string) (pipeline, execution string) {
	_, resource, ok := strings.Cut(arn, ":pipeline/")
	if !ok {
		return "", ""
	}
	pipeline, execution, ok = strings.Cut(resource, "/execution/")
	if !ok || pipeline == "" || strings.Contains(pipeline, "/") {
		return "", ""
	}
	return pipeline, execution
}

// pipelineStep reads the step of a job SageMaker Pipelines named
// pipelines-<execution id>-<step name>-<suffix>: AWS's pipeline step event
// sample names its processing job pipelines-p4jn9xou8a8s-myprocessingstep1-tmgxry49ug
// for step myprocessingstep1 of execution p4jn9xou8a8s
// (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html),
// and users report pipelines-kytlemm1lvpq-PreprocessingStep-cIpzShs3Qp
// (https://github.com/aws/amazon-sagemaker-examples/issues/3106): an
// execution id of 12 lower-case letters and digits, a suffix of 10 letters
// and digits. Only that shape is read, so that a job someone named
// pipelines-… is not; a step name may hold "-".
func pipelineStep(name string) (step, execution string, ok bool) {
	parts := strings.Split(name, "-")
	if len(parts) < 4 || parts[0] != "pipelines" || !alnum(parts[1], 12, false) || !alnum(parts[len(parts)-1], 10, true) {
		return "", "", false
	}
	return strings.Join(parts[2:len(parts)-1], "-"), parts[1], true
}

// alnum reports whether s is n ASCII letters and digits (lower-case letters
// only unless upper).
func alnum(s string, n int, upper bool) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || upper && r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// jobTags are a job's tags, read from an object of key to value or from the
// API's list of Key and Value; another shape is read as no tags (the field
// is not one stakeout needs to route the event).
type jobTags map[string]string

func (t *jobTags) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if json.Unmarshal(b, &m) == nil {
		*t = m
		return nil
	}
	var list []struct{ Key, Value string }
	if json.Unmarshal(b, &list) == nil {
		*t = jobTags{}
		for _, kv := range list {
			(*t)[kv.Key] = kv.Value
		}
	}
	return nil
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
// job base-2024-01-03-15-00-00-123, AWS's sample ends it in a UUID
// (integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02): both keep
// the base. A name made only of such parts is kept whole. (A SageMaker
// Pipelines step's job is read by pipelineStep instead: its execution id
// has letters beyond hexadecimal.)
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
