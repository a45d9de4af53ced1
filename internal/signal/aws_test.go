package signal

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// matchAll is a configuration of one model, m, whose match globs are
// exactly the names given per kind.
func matchAll(names map[MatchKind][]string) ModelsFor {
	return func(kind MatchKind, name string) []string {
		for _, n := range names[kind] {
			if n == name {
				return []string{"m"}
			}
		}
		return nil
	}
}

func parseFile(t *testing.T, name string) Input {
	t.Helper()
	b, err := os.ReadFile("../../testdata/events/aws/" + name)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return in
}

// AWS's own samples (testdata/events/aws/README.md) become the signals the
// README promises, mapped by the match kind each adapter names.
func TestAWSServiceEventsBecomeSignals(t *testing.T) {
	for _, tc := range []struct {
		file  string
		match map[MatchKind][]string
		want  Event
		key   string
	}{
		{file: "sagemaker-model-monitor-failed-constructed.json",
			match: map[MatchKind][]string{MatchProcessingJob: {"churn-data-quality-schedule"}},
			want: Event{Model: "m", Kind: "operational", Metric: "monitoring_execution", Value: 1, Feature: "churn-data-quality-schedule",
				ObservedAt: time.UnixMilli(1704320746000).UTC(), WindowStart: ptr(time.Date(2024, 1, 3, 14, 0, 0, 0, time.UTC)), WindowEnd: ptr(time.Date(2024, 1, 3, 15, 0, 0, 0, time.UTC)),
				Labels: map[string]string{"source": "sagemaker", "status": "Failed", "processing_job": "model-monitoring-202401031500-0a1b2c3d4e5f60718293a4b5",
					"monitoring_schedule": "churn-data-quality-schedule", "endpoint": "churn-endpoint",
					"failure_reason": "AlgorithmError: Error: Encountered an error while parsing the captured data."}},
			key: "sagemaker-processing-job/model-monitoring-202401031500-0a1b2c3d4e5f60718293a4b5/Failed"},
		{file: "sagemaker-processing-job-failed.json",
			match: map[MatchKind][]string{MatchProcessingJob: {"integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02"}},
			want: Event{Model: "m", Kind: "operational", Metric: "processing_job", Value: 1, Feature: "integ-test-analytics-algo",
				Labels: map[string]string{"source": "sagemaker", "status": "Failed", "processing_job": "integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02",
					"failure_reason": "InternalServerError: We encountered an internal error.  Please try again."}},
			key: "sagemaker-processing-job/integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02/Failed"},
		{file: "sagemaker-processing-job-pipelines-failed-constructed.json",
			match: map[MatchKind][]string{MatchProcessingJob: {"pipelines-p4jn9xou8a8s-myprocessingstep1-tmgxry49ug"}},
			want: Event{Model: "m", Kind: "operational", Metric: "processing_job", Value: 1, Feature: "myprocessingstep1",
				ObservedAt: time.UnixMilli(1704320746000).UTC(),
				Labels: map[string]string{"source": "sagemaker", "status": "Failed", "processing_job": "pipelines-p4jn9xou8a8s-myprocessingstep1-tmgxry49ug",
					"pipeline_step": "myprocessingstep1", "pipeline_execution": "p4jn9xou8a8s",
					"failure_reason": "AlgorithmError: See job logs for more information"}},
			key: "sagemaker-processing-job/pipelines-p4jn9xou8a8s-myprocessingstep1-tmgxry49ug/Failed"},
		{file: "glue-dq-results-catalog.json",
			match: map[MatchKind][]string{MatchGlueTable: {"db-123.table-123"}},
			want: Event{Model: "m", Kind: "data_quality", Metric: "dq_score", Value: 1, Feature: "db-123.table-123", Segment: "rulset1",
				ObservedAt: time.Date(2017, 9, 7, 18, 57, 21, 0, time.UTC),
				Labels: map[string]string{"source": "glue", "result_id": "dqresult-12334567890", "state": "SUCCEEDED", "rulesets": "rulset1",
					"rules_succeeded": "100", "rules_failed": "0", "rules_skipped": "0"}}},
		{file: "glue-dq-results-job.json",
			match: map[MatchKind][]string{MatchGlueRuleset: {"rulset1"}},
			want: Event{Model: "m", Kind: "data_quality", Metric: "dq_score", Value: 1, Feature: "dq-eval-job-1234", Segment: "rulset1",
				ObservedAt: time.Date(2017, 9, 7, 18, 57, 21, 0, time.UTC),
				Labels: map[string]string{"source": "glue", "result_id": "dqresult-12334567890", "state": "SUCCEEDED", "rulesets": "rulset1", "job_name": "dq-eval-job-1234",
					"rules_succeeded": "100", "rules_failed": "0", "rules_skipped": "0"}}},
		{file: "stepfunctions-execution-timed-out.json",
			match: map[MatchKind][]string{MatchStateMachine: {"state-machine"}},
			want: Event{Model: "m", Kind: "operational", Metric: "execution_failed", Value: 1, Feature: "state-machine",
				Labels: map[string]string{"source": "stepfunctions", "status": "TIMED_OUT", "execution": "execution-name"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in := parseFile(t, tc.file)
			got, err := in.Resolve(matchAll(tc.match))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.ObservedAt.IsZero() {
				tc.want.ObservedAt = got.ObservedAt // checked below
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("signal (-want +got):\n%s", diff)
			}
			if in.Key != tc.key {
				t.Errorf("Key = %q, want %q", in.Key, tc.key)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The Step Functions samples carry stopDate; their signal is dated by it.
func TestExecutionIsDatedByItsStop(t *testing.T) {
	ev, err := parseFile(t, "stepfunctions-execution-failed.json").Resolve(matchAll(map[MatchKind][]string{MatchStateMachine: {"state-machine"}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.UnixMilli(1551225151881).UTC(); !ev.ObservedAt.Equal(want) {
		t.Errorf("observed_at %s, want stopDate %s", ev.ObservedAt, want)
	}
}

// The rules of AWS service events see every processing job, Glue result,
// state machine and model package of the account, most of them no ML
// monitor's: one that no model's match accepts is ignored (not a fault, so
// not quarantined), its reason naming the event and every name tried so
// that whoever means to route it knows which glob to add. Several models
// is a fault of the configuration: quarantined.
func TestUnmatchedAWSEventIsIgnoredNamingWhatWasTried(t *testing.T) {
	for file, want := range map[string]string{
		"sagemaker-model-monitor-failed-constructed.json": `processing_jobs "model-monitoring-202401031500-0a1b2c3d4e5f60718293a4b5", processing_jobs "churn-data-quality-schedule"`,
		"glue-dq-results-catalog.json":                    `glue_tables "db-123.table-123", glue_rulesets "rulset1"`,
		"stepfunctions-execution-aborted.json":            `state_machines "state-machine"`,
		"sagemaker-model-package-state-change.json":       `model_packages "`,
	} {
		in := parseFile(t, file)
		none := func(MatchKind, string) []string { return nil }
		_, err := in.Resolve(none)
		if in.ModelPackage != nil {
			_, _, err = in.VersionChange(none)
		}
		var ig *Ignored
		if !errors.As(err, &ig) || !strings.Contains(err.Error(), "matches no model (tried "+want) {
			t.Errorf("%s: error %v, want it ignored naming %s", file, err, want)
		}
	}
	_, err := parseFile(t, "glue-dq-results-catalog.json").Resolve(func(k MatchKind, _ string) []string { return []string{string(k)} })
	var ig *Ignored
	if err == nil || errors.As(err, &ig) || !strings.Contains(err.Error(), "several models (glue_rulesets, glue_tables;") {
		t.Errorf("two models: error %v, want a fault naming both", err)
	}
}

// Running and stopping are read, not refused: they are ignored with the
// reason; a completed run and a success are readings of 0.
func TestUnfinishedRunsAreIgnoredAndFinishedOnesRead(t *testing.T) {
	cases := []struct {
		file, from, to string
		ignored        bool
	}{
		{"stepfunctions-execution-failed.json", `"status": "FAILED"`, `"status": "RUNNING"`, true},
		{"stepfunctions-execution-failed.json", `"status": "FAILED"`, `"status": "SUCCEEDED"`, false},
		{"sagemaker-model-monitor-failed-constructed.json", `"ProcessingJobStatus": "Failed"`, `"ProcessingJobStatus": "InProgress"`, true},
		{"sagemaker-model-monitor-failed-constructed.json", `"ProcessingJobStatus": "Failed"`, `"ProcessingJobStatus": "Completed"`, false},
	}
	any := func(MatchKind, string) []string { return []string{"m"} }
	for _, tc := range cases {
		b, _ := os.ReadFile("../../testdata/events/aws/" + tc.file)
		b = []byte(strings.Replace(string(b), tc.from, tc.to, 1))
		in, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := in.Resolve(any)
		var ig *Ignored
		if errors.As(err, &ig) != tc.ignored {
			t.Errorf("%s as %s: error %v, want ignored %v", tc.file, tc.to, err, tc.ignored)
		}
		if !tc.ignored && (err != nil || ev.Value != 0) {
			t.Errorf("%s as %s: %v, %v; want a reading of 0", tc.file, tc.to, ev.Value, err)
		}
	}
}

// Glue's own sample Lambda and live events spell the counts and the result
// id differently from its documented sample: both read alike.
func TestGlueFieldSpellingsReadAlike(t *testing.T) {
	b, _ := os.ReadFile("../../testdata/events/aws/glue-dq-results-catalog.json")
	s := strings.NewReplacer(`"resultID"`, `"resultId"`, `"rulesSucceeded": 100`, `"numRulesSucceeded": 97`,
		`"rulesFailed": 0`, `"numRulesFailed": 3`, `"score": 1.00`, `"score": 0.97`).Replace(string(b))
	in, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
	if err != nil {
		t.Fatal(err)
	}
	if ev.Value != 0.97 || ev.Labels["rules_failed"] != "3" || ev.Labels["rules_succeeded"] != "97" || ev.Labels["result_id"] != "dqresult-12334567890" {
		t.Errorf("got value %v labels %v", ev.Value, ev.Labels)
	}
}

// A long failure reason is cut to a label the router accepts.
func TestLongFailureReasonIsBounded(t *testing.T) {
	b, _ := os.ReadFile("../../testdata/events/aws/sagemaker-model-monitor-failed-constructed.json")
	long := strings.Repeat("é", 2000)
	b = []byte(strings.Replace(string(b), "Encountered an error", long, 1))
	in, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
	if err != nil {
		t.Fatal(err)
	}
	if r := ev.Labels["failure_reason"]; len(r) > maxReasonLabel || !strings.HasSuffix(r, "…") {
		t.Errorf("failure_reason is %d bytes (%.20q…), want at most %d ending in …", len(r), r, maxReasonLabel)
	}
}

// A job's name loses what changes between runs and keeps the rest.
func TestStableJobNameDropsTheRunsTimestampOrID(t *testing.T) {
	for name, want := range map[string]string{
		"integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02": "integ-test-analytics-algo", // AWS's sample: a UUID
		"churn-features-2024-01-03-15-00-00-123":                    "churn-features",            // the SageMaker SDK's timestamp
		"feature-backfill":                                          "feature-backfill",
		"dead-beef-face":                                            "dead-beef-face", // hex words without a digit stay
		"2024-01-03":                                                "2024-01-03",     // nothing stable: kept whole
	} {
		if got := StableJobName(name); got != want {
			t.Errorf("StableJobName(%q) = %q, want %q", name, got, want)
		}
	}
}

// SageMaker Pipelines names a step's job pipelines-<execution id>-<step
// name>-<suffix>: the step is what stays between runs (a step name may
// hold "-"). A name of another shape is not read as a step's.
func TestPipelineStepIsReadFromItsJobName(t *testing.T) {
	for name, want := range map[string][2]string{
		"pipelines-p4jn9xou8a8s-myprocessingstep1-tmgxry49ug":       {"myprocessingstep1", "p4jn9xou8a8s"}, // AWS's step event sample
		"pipelines-kytlemm1lvpq-PreprocessingStep-cIpzShs3Qp":       {"PreprocessingStep", "kytlemm1lvpq"}, // amazon-sagemaker-examples#3106
		"pipelines-kytlemm1lvpq-prepare-data-cIpzShs3Qp":            {"prepare-data", "kytlemm1lvpq"},
		"pipelines-nightly-export-v2":                               {},
		"pipelines-kytlemm1lvpq-cIpzShs3Qp":                         {}, // no step
		"pipelines-KYTLEMM1LVPQ-Preprocessing-cIpzShs3Qp":           {}, // an execution id is lower case
		"my-pipelines-kytlemm1lvpq-Preprocessing-cIpzShs3Qp":        {},
		"integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02": {},
	} {
		step, execution, ok := pipelineStep(name)
		if ok != (want[0] != "") || step != want[0] || execution != want[1] {
			t.Errorf("pipelineStep(%q) = %q, %q, %v; want %q, %q", name, step, execution, ok, want[0], want[1])
		}
	}
}

// When the event carries the tags SageMaker Pipelines puts on a step's
// job, the series is the pipeline's step (two pipelines with a step of
// one name are two series), and match.processing_jobs can name it as
// pipeline/step.
func TestPipelineTagsNameThePipelinesStep(t *testing.T) {
	b, err := os.ReadFile("../../testdata/events/aws/sagemaker-processing-job-pipelines-failed-constructed.json")
	if err != nil {
		t.Fatal(err)
	}
	tagged := strings.Replace(string(b), `"ProcessingJobStatus": "Failed",`, `"ProcessingJobStatus": "Failed",
    "Tags": {"sagemaker:pipeline-execution-arn": "arn:aws:sagemaker:us-east-1:111122223333:pipeline/mypipeline-123/execution/p4jn9xou8a8s",
      "sagemaker:pipeline-step-name": "MyProcessingStep1", "team": "ml"},`, 1)
	in, err := Parse([]byte(tagged))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := in.Resolve(matchAll(map[MatchKind][]string{MatchProcessingJob: {"mypipeline-123/MyProcessingStep1"}}))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Feature != "mypipeline-123/MyProcessingStep1" || ev.Labels["pipeline"] != "mypipeline-123" ||
		ev.Labels["pipeline_step"] != "MyProcessingStep1" || ev.Labels["pipeline_execution"] != "p4jn9xou8a8s" {
		t.Errorf("feature %q, labels %v; want the pipeline's step from its tags", ev.Feature, ev.Labels)
	}
	// Tags as a list of Key/Value (the API's shape) read alike; another
	// shape is no tags, not a fault.
	listed := strings.Replace(string(b), `"ProcessingJobStatus": "Failed",`, `"ProcessingJobStatus": "Failed",
    "Tags": [{"Key": "sagemaker:pipeline-execution-arn", "Value": "arn:aws:sagemaker:us-east-1:111122223333:pipeline/mypipeline-123/execution/p4jn9xou8a8s"},
      {"Key": "sagemaker:pipeline-step-name", "Value": "MyProcessingStep1"}],`, 1)
	odd := strings.Replace(string(b), `"ProcessingJobStatus": "Failed",`, `"ProcessingJobStatus": "Failed", "Tags": "none",`, 1)
	for raw, feature := range map[string]string{listed: "mypipeline-123/MyProcessingStep1", odd: "myprocessingstep1"} {
		in, err := Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
		if err != nil || ev.Feature != feature {
			t.Errorf("feature %q, %v; want %q", ev.Feature, err, feature)
		}
	}
}

// A redriven execution is ignored with what the operator is to do: follow
// the redrive, whose end resolves or updates the alert.
func TestPendingRedriveSaysWhatToDo(t *testing.T) {
	b, _ := os.ReadFile("../../testdata/events/aws/stepfunctions-execution-failed.json")
	in, err := Parse([]byte(strings.Replace(string(b), `"status": "FAILED"`, `"status": "PENDING_REDRIVE"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
	var ig *Ignored
	if !errors.As(err, &ig) || !strings.Contains(ig.Reason, "its alert stays open") || !strings.Contains(ig.Reason, "SUCCEEDED resolves the alert") {
		t.Errorf("PENDING_REDRIVE: %v, want it ignored saying what becomes of the alert", err)
	}
}
