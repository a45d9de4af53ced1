package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
)

func example(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Errors(); len(errs) > 0 {
		t.Fatalf("example configuration has errors: %v", errs)
	}
	return cfg
}

// explaining is a processor as `stakeout route` runs it: a throwaway
// store, every verdict in words.
func explaining(cfg *config.Config) *Processor {
	return &Processor{Config: cfg, Store: memstore.New(time.Now), Wall: time.Now, Explain: true}
}

type routed struct {
	Rule, State, Severity, Owner, Notify string
}

// compactExample is the example configuration as the router function
// loads it: its compact form, each model compiled at its first event.
func compactExample(t *testing.T) *config.Config {
	cfg, _ := compactExampleIn(t)
	return cfg
}

// compactExampleIn is compactExample and the directory of its compact
// form, for tests that tamper with its files.
func compactExampleIn(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), config.CompactDir)
	if err := config.WriteCompact(example(t), os.DirFS("../.."), "../..", dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

// Each captured event, applied alone to the example configuration, opens
// the alerts testdata/events/README.md promises, for the owners it names;
// the same with the configuration the router function loads (compact).
func TestCapturedEventsReachTheirOwners(t *testing.T) {
	for name, cfg := range map[string]*config.Config{"whole": example(t), "compact": compactExample(t)} {
		t.Run(name, func(t *testing.T) { capturedEventsReachTheirOwners(t, cfg) })
	}
}

func capturedEventsReachTheirOwners(t *testing.T, cfg *config.Config) {
	for _, tc := range []struct {
		file string
		want []routed
	}{
		{"native/credit-approval-accuracy-drop.json", []routed{{"accuracy-loss", "opened", "critical", "credit-ds", "slack,pagerduty"}}},
		{"native/credit-approval-income-psi.json", nil},
		{"native/credit-approval-disparate-impact.json", []routed{{"disparate-impact", "opened", "critical", "credit-ds", "slack,pagerduty"}}},
		{"native/fraud-detection-feature-store-lag.json", []routed{{"feature-store-lag", "opened", "critical", "data-platform", "slack,pagerduty"}}},
		{"native/churn-prediction-auc-floor.json", []routed{{"auc-floor", "opened", "critical", "growth-ds", "slack"}}},
		{"native/playlist-recommender-catalog-lag.json", []routed{{"catalog-lag", "opened", "warning", "data-platform", "digest"}}},
		{"native/delivery-eta-mae-no-baseline.json", nil},
		{"envelope/credit-approval-accuracy-drop.json", []routed{{"accuracy-loss", "opened", "critical", "credit-ds", "slack,pagerduty"}}},
		{"cloudwatch/single-metric-alarm.json", []routed{{"monitor-feature-drift", "opened", "high", "fraud-ds", "slack,pagerduty"}}},
		{"cloudwatch/single-metric-alarm-tags.json", []routed{{"monitor-feature-drift", "opened", "high", "fraud-ds", "slack,pagerduty"}}},
		{"cloudwatch/metric-math-alarm.json", []routed{{"monitor-broad-drift", "opened", "high", "data-platform", "slack,pagerduty"}}},
		{"cloudwatch/anomaly-detection-alarm.json", []routed{{"traffic-anomaly", "opened", "high", "ml-platform", "slack,pagerduty"}}},
		{"cloudwatch-contributor/variant-latency-contributor-alarm.json", []routed{{"variant-latency", "opened", "high", "ml-platform", "slack,pagerduty"}}},
		{"cloudwatch-contributor/variant-latency-parent-alarm.json", nil},
		{"cloudwatch-composite/endpoint-unhealthy-alarm.json", []routed{{"endpoint-unhealthy", "opened", "critical", "ml-platform", "slack,pagerduty"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../../testdata/events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			out, err := explaining(cfg).Process(context.Background(), raw)
			if err != nil || out.Quarantined != "" {
				t.Fatalf("Process: %v %s", err, out.Quarantined)
			}
			var got []routed
			for _, ch := range out.Changes {
				got = append(got, routed{ch.Rule, ch.State, ch.Severity, ch.Owner, strings.Join(ch.Notify, ",")})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// Explained, `for: 2` pends with its progress, then fires on the second
// breach; the plan's escalation times count from it.
func TestExplainShowsForProgress(t *testing.T) {
	cfg := example(t)
	p := explaining(cfg)
	ev := func(v, day string) []byte {
		return []byte(`{"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":` + v + `,"observed_at":"2026-03-0` + day + `T02:00:00Z"}`)
	}
	first, err := p.Process(context.Background(), ev("0.31", "1"))
	if err != nil {
		t.Fatal(err)
	}
	v := verdictOf(t, first, "key-feature-drift")
	if v.Status != "pending" || !strings.Contains(v.Why, "1 of 2") || len(first.Changes) != 0 {
		t.Fatalf("first breach: %+v, changes %v; want pending at 1 of 2 and no change", v, first.Changes)
	}
	second, err := p.Process(context.Background(), ev("0.35", "2"))
	if err != nil {
		t.Fatal(err)
	}
	v = verdictOf(t, second, "key-feature-drift")
	if v.Status != "firing" || v.Why != "value 0.35 > 0.25" || v.Alert != "credit-approval/key-feature-drift/feature=income" {
		t.Errorf("second breach: %+v, want firing because value 0.35 > 0.25", v)
	}
	if len(second.Changes) != 1 || second.Changes[0].State != "opened" {
		t.Fatalf("second breach changed %v, want one opened alert", second.Changes)
	}
	m := cfg.Models["credit-approval"]
	plan := Plan(cfg, m, m.Rules[0], second.Changes[0].At)
	wantSteps := []Step{
		{Owner: "ml-platform", After: "30m", At: time.Date(2026, 3, 2, 2, 30, 0, 0, time.UTC)},
		{Owner: "head-of-ml", After: "1h", At: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(wantSteps, plan.Escalation); diff != "" {
		t.Errorf("escalation (-want +got):\n%s", diff)
	}
}

// Only a processor asked to explain pays for it.
func TestVerdictsOnlyWhenExplaining(t *testing.T) {
	p := explaining(example(t))
	p.Explain = false
	out, err := p.Process(context.Background(), []byte(`{"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.31,"observed_at":"2026-03-01T02:00:00Z"}`))
	if err != nil || out.Verdicts != nil || out.Series != "" {
		t.Errorf("Process without Explain: %v, verdicts %v, series %q; want none", err, out.Verdicts, out.Series)
	}
}

func verdictOf(t *testing.T, out Outcome, rule string) Verdict {
	t.Helper()
	for _, v := range out.Verdicts {
		if v.Rule == rule {
			return v
		}
	}
	t.Fatalf("no verdict of %s in %+v", rule, out.Verdicts)
	return Verdict{}
}

func TestUnknownModelIsQuarantinedWithASuggestion(t *testing.T) {
	out, err := explaining(example(t)).Process(context.Background(),
		[]byte(`{"model":"credit-aproval","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z"}`))
	if err != nil || !strings.Contains(out.Quarantined, `did you mean "credit-approval"`) || !strings.Contains(out.Quarantined, "known models: churn-prediction") {
		t.Errorf("unknown model: %v, quarantined %q; want a suggestion and the known models", err, out.Quarantined)
	}
}

// A model of a compact configuration whose file changed after the build
// (so that its rules no longer compile) routes nothing: its event is
// quarantined with the problem, at its file and line, and an error line
// names the model; the other models route.
func TestModelThatDoesNotCompileAtFirstUseIsQuarantinedLoudly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), config.CompactDir)
	if err := config.WriteCompact(example(t), os.DirFS("../.."), "../..", dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rules", "credit-approval.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, bytes.Replace(src, []byte("when: "), []byte("when: nosuchname > 1 && "), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := explaining(cfg)
	p.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	out, err := p.Process(context.Background(),
		[]byte(`{"model":"credit-approval","kind":"quality","metric":"accuracy","value":0.5,"baseline":0.9,"observed_at":"2026-03-01T00:00:00Z"}`))
	if err != nil || !strings.Contains(out.Quarantined, `model "credit-approval" cannot be compiled`) || !strings.Contains(out.Quarantined, "credit-approval.yaml:") {
		t.Errorf("Process: %v, quarantined %q; want the model's compile problem at its file and line", err, out.Quarantined)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"model not served","model":"credit-approval"`) {
		t.Errorf("logs lack an error naming the model:\n%s", logs.String())
	}
	out, err = p.Process(context.Background(),
		[]byte(`{"model":"fraud-detection","kind":"drift","metric":"psi","value":0.01,"observed_at":"2026-03-01T00:00:00Z"}`))
	if err != nil || out.Quarantined != "" {
		t.Errorf("another model's event: %v, quarantined %q; want it applied", err, out.Quarantined)
	}
}

// A model of a compact configuration whose file cannot be read at its
// first event (an I/O error: here, the file briefly gone) is a transient
// fault: Process returns it, so the event is retried, not quarantined as
// if the model were broken; the retry reads the file and applies it. A
// signal and a version event alike.
func TestModelUnreadableAtFirstUseIsRetriedNotQuarantined(t *testing.T) {
	events := map[string]string{
		"signal":  `{"id":"e1","model":"credit-approval","kind":"quality","metric":"accuracy","value":0.5,"baseline":0.9,"observed_at":"2026-03-01T00:00:00Z"}`,
		"version": `{"version":"0","id":"d1","detail-type":"ML Model Version Deployed","source":"ml.deploy","time":"2026-03-01T00:00:00Z","detail":{"model":"credit-approval","version":"8","environment":"prod","deployed_at":"2026-03-01T00:00:00Z"}}`,
	}
	for name, event := range events {
		t.Run(name, func(t *testing.T) { unreadableOnce(t, []byte(event)) })
	}
}

// unreadableOnce processes event with its model's file gone, then back.
func unreadableOnce(t *testing.T, event []byte) {
	cfg, dir := compactExampleIn(t)
	file := filepath.Join(dir, "rules", "credit-approval.yaml")
	if err := os.Rename(file, file+".away"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := explaining(cfg)
	p.Timelines = p.Store.(*memstore.Store)
	p.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	out, err := p.Process(context.Background(), event)
	if unread := (*config.ReadError)(nil); !errors.As(err, &unread) || out.Quarantined != "" {
		t.Errorf("Process with the file unreadable: %v, quarantined %q; want the read error returned (retried), nothing quarantined", err, out.Quarantined)
	}
	if strings.Contains(logs.String(), "model not served") {
		t.Errorf("a read that may succeed at the retry is logged as a model not served:\n%s", logs.String())
	}
	if err := os.Rename(file+".away", file); err != nil {
		t.Fatal(err)
	}
	out, err = p.Process(context.Background(), event)
	if err != nil || out.Quarantined != "" || out.Duplicate || len(out.Changes) == 0 && out.Recorded == nil {
		t.Errorf("the retry: %v, quarantined %q, duplicate %v, %d changes, recorded %v; want it applied", err, out.Quarantined, out.Duplicate, len(out.Changes), out.Recorded)
	}
}

// SageMaker may send one state change as several events with their own
// ids: the second copy of a monitoring run's failure is a duplicate that
// changes nothing. A run still in progress, or an execution still
// running, has nothing to evaluate: it is ignored, with the reason, and
// nothing is stored.
func TestAWSServiceEventsRepeatedOrUnfinished(t *testing.T) {
	b, err := os.ReadFile("../../testdata/scenarios/fraud-ml-pipeline.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	p := explaining(example(t))
	ctx := context.Background()
	do := func(i int) Outcome {
		t.Helper()
		out, err := p.Process(ctx, lines[i])
		if err != nil || out.Quarantined != "" {
			t.Fatalf("line %d: %v %s", i+1, err, out.Quarantined)
		}
		return out
	}
	first, again := do(1), do(2) // the failed run, twice, under two event ids
	if len(first.Changes) != 1 || first.Changes[0].State != "opened" || len(first.Queued) == 0 {
		t.Fatalf("the failed run: changes %+v, %d queued; want monitor-run-failed opened and told", first.Changes, len(first.Queued))
	}
	if !again.Duplicate || len(again.Changes) != 0 || len(again.Queued) != 0 {
		t.Errorf("the failed run's copy: duplicate %v, changes %+v, %d queued; want a duplicate that changes nothing", again.Duplicate, again.Changes, len(again.Queued))
	}
	for _, i := range []int{3, 6} { // InProgress, RUNNING
		out := do(i)
		if out.Ignored == "" || len(out.Changes) != 0 || len(out.Queued) != 0 || out.Model != "" {
			t.Errorf("line %d: %+v, want it ignored with a reason and nothing changed", i+1, out)
		}
	}
}

// scenarioLine is line n (1-based) of a scenario, with each pair of
// replacements applied.
func scenarioLine(t *testing.T, file string, n int, oldNew ...string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/scenarios/" + file)
	if err != nil {
		t.Fatal(err)
	}
	line := string(bytes.Split(bytes.TrimSpace(b), []byte("\n"))[n-1])
	return []byte(strings.NewReplacer(oldNew...).Replace(line))
}

// Two Glue Data Quality rulesets on one table are two series: a passing
// result of the one does not resolve the failing other, and each ruleset
// has its own alert.
func TestGlueRulesetsOfOneTableAreSeparateSeries(t *testing.T) {
	p := explaining(example(t))
	failed := process(t, p, scenarioLine(t, "fraud-ml-pipeline.jsonl", 6))
	if states(failed) != "transactions-quality:opened" {
		t.Fatalf("failing ruleset: %s, want transactions-quality opened", states(failed))
	}
	other := process(t, p, scenarioLine(t, "fraud-ml-pipeline.jsonl", 9, "card-transactions-checks", "card-transactions-freshness"))
	if len(other.Changes) != 0 || other.Series == failed.Series {
		t.Errorf("the other ruleset passing: series %s (the failing one's %s), changes %s; want its own series and nothing resolved", other.Series, failed.Series, states(other))
	}
	again := process(t, p, scenarioLine(t, "fraud-ml-pipeline.jsonl", 9))
	if states(again) != "transactions-quality:resolved" || again.Changes[0].Alert != failed.Changes[0].Alert {
		t.Errorf("the failing ruleset passing: %s, want its alert %s resolved", states(again), failed.Changes[0].Alert)
	}
}

// Each run of a processing job has a name of its own: the series (and so
// the alert) is the stable part — a Model Monitor execution's schedule, a
// SageMaker Pipelines step (from its job's tags, else its name), or
// another job's name without its run's timestamp or id — so that a later
// completed run resolves the failed one.
func TestCompletedRunResolvesTheFailedOne(t *testing.T) {
	cfg, err := config.Load("../../testdata/aws-samples")
	if err != nil {
		t.Fatal(err)
	}
	const pipelineTags = `"ProcessingJobStatus": "Failed",
    "Tags": {"sagemaker:pipeline-execution-arn": "arn:aws:sagemaker:us-east-1:111122223333:pipeline/mypipeline-123/execution/p4jn9xou8a8s",
      "sagemaker:pipeline-step-name": "myprocessingstep1"},`
	for _, tc := range []struct{ name, file, job, next, series, tags string }{
		{"monitor", "sagemaker-model-monitor-failed-constructed.json", "model-monitoring-202401031500-0a1b2c3d4e5f60718293a4b5", "model-monitoring-202401031600-0a1b2c3d4e5f60718293a4b5",
			"ml-pipeline/operational/monitoring_execution/feature=churn-data-quality-schedule", ""},
		{"other job", "sagemaker-processing-job-failed.json", "integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02", "integ-test-analytics-algo-0f9e8d7c-1a2b-4c3d-9e8f-7a6b5c4d3e2",
			"ml-pipeline/operational/processing_job/feature=integ-test-analytics-algo", ""},
		// The next execution of the pipeline runs the step under a new
		// execution id (and suffix).
		{"pipeline step", "sagemaker-processing-job-pipelines-failed-constructed.json", "p4jn9xou8a8s-myprocessingstep1-tmgxry49ug", "q7rb2kd0w1zx-myprocessingstep1-Hk3Jd9aQ2m",
			"ml-pipeline/operational/processing_job/feature=myprocessingstep1", ""},
		{"pipeline step tagged", "sagemaker-processing-job-pipelines-failed-constructed.json", "p4jn9xou8a8s", "q7rb2kd0w1zx",
			"ml-pipeline/operational/processing_job/feature=mypipeline-123/myprocessingstep1", pipelineTags},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := explaining(cfg)
			b, err := os.ReadFile("../../testdata/events/aws/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tags != "" {
				b = bytes.Replace(b, []byte(`"ProcessingJobStatus": "Failed",`), []byte(tc.tags), 1)
			}
			failed := process(t, p, b)
			if states(failed) != "monitor-run-failed:opened" || failed.Series != tc.series {
				t.Fatalf("the failed run: %s on %s %s, want monitor-run-failed opened on %s", states(failed), failed.Series, failed.Quarantined, tc.series)
			}
			next := strings.NewReplacer(tc.job, tc.next, `"Failed"`, `"Completed"`, "1704320746000", "1704324346000", `"id": "`, `"id": "next-`).Replace(string(b))
			completed := process(t, p, []byte(next))
			if states(completed) != "monitor-run-failed:resolved" {
				t.Errorf("the next run completed: %s on %s %s, want monitor-run-failed resolved", states(completed), completed.Series, completed.Quarantined)
			}
		})
	}
}

// A multi-time-series alarm's contributor back to OK often quotes no
// datapoint in its reason (contributor events carry no reasonData): the
// OK state itself resolves the contributor's alert, as a composite's OK
// does, instead of being quarantined for want of a value.
func TestContributorOKWithoutDatapointResolves(t *testing.T) {
	p := explaining(example(t))
	alarm, err := os.ReadFile("../../testdata/events/cloudwatch-contributor/variant-latency-contributor-alarm.json")
	if err != nil {
		t.Fatal(err)
	}
	opened := process(t, p, alarm)
	if states(opened) != "variant-latency:opened" {
		t.Fatalf("contributor in ALARM: %s %s, want variant-latency opened", states(opened), opened.Quarantined)
	}
	ok := strings.NewReplacer(`"id": "5f0c2a91`, `"id": "ok-5f0c2a91`, `"value": "ALARM"`, `"value": "OK"`,
		"Threshold Crossed: 1 datapoint was greater than the threshold (120000.0). The most recent datapoint which crossed the threshold: [185000.0 (04/03/26 10:00:00)].",
		"Contributor is no longer breaching the threshold.", "2026-03-04T10:06:12.481+0000", "2026-03-04T10:21:12.000+0000").Replace(string(alarm))
	if ok == string(alarm) || !strings.Contains(ok, `"value": "OK"`) {
		t.Fatal("the sample's shape changed: the OK variant was not made")
	}
	resolved := process(t, p, []byte(ok))
	if states(resolved) != "variant-latency:resolved" || resolved.Series != opened.Series {
		t.Errorf("contributor OK without a datapoint: %s on %s (quarantined %q), want variant-latency resolved on %s",
			states(resolved), resolved.Series, resolved.Quarantined, opened.Series)
	}
}
