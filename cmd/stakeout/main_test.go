package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// TestEachCommandsOutputAndExitCode runs the CLI in the repository root (the example
// configuration) and compares stdout with testdata/golden/<name>.txt.
func TestEachCommandsOutputAndExitCode(t *testing.T) {
	events := func(pattern string) []string {
		files, err := filepath.Glob(filepath.Join("../..", pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files match %s", pattern)
		}
		for i, f := range files {
			files[i], _ = filepath.Rel("../..", f)
		}
		return files
	}
	var allEvents []string
	for _, dir := range []string{"native", "envelope", "cloudwatch", "bad", "sequence"} {
		allEvents = append(allEvents, events("testdata/events/"+dir+"/*.json*")...)
	}
	tests := []testCase{
		{name: "validate-example", args: []string{"validate"}},
		{name: "validate-invalid", args: []string{"validate", "--dir", "testdata/invalid/pagerduty-missing-key"}, wantExit: 1},
		{name: "validate-warnings", args: []string{"validate", "--dir", "testdata/invalid/warning-no-expect"}},
		{name: "test-example", args: []string{"test"}},
		{name: "test-broken-model", args: []string{"test", "--dir", "testdata/invalid/unknown-role"}, wantExit: 1},
		{name: "test-failing-case", args: []string{"test", "--dir", "testdata/failing-test"}, wantExit: 1},
		{name: "route-json", args: append([]string{"route", "--json"}, allEvents...), wantExit: 1},
		{name: "route-text", args: append([]string{"route"}, allEvents...), wantExit: 1},
		{name: "route-stdin", args: []string{"route", "--json", "-"}, stdin: `{"model":"playlist-recommender","kind":"freshness","metric":"lag_seconds","value":200000,"observed_at":"2026-03-02T00:00:00Z"}`},
		// An alarm its owner muted (CloudWatch alarm mute rule): silenced.
		{name: "route-muted-alarm", args: []string{"route", "testdata/events/cloudwatch-muted/single-metric-alarm-muted.json"}},
		// AWS's own samples of the service events the adapters read, against
		// a configuration whose match accepts their names. AWS's three Step
		// Functions samples share one event id: routed together, the later
		// two would be duplicates, so the failed one is routed alone.
		{name: "route-aws-samples", args: append([]string{"route", "--dir", "testdata/aws-samples"},
			append(events("testdata/events/aws/[gs][la]*.json"), "testdata/events/aws/stepfunctions-execution-aborted.json")...)},
		// The same samples against the example configuration, whose match
		// accepts none of their names: ignored with the reason (the rules
		// see every job of the account), not errors; exit 0.
		{name: "route-aws-unmatched", args: []string{"route", "testdata/events/aws/sagemaker-processing-job-failed.json", "testdata/events/aws/glue-dq-results-job.json",
			"testdata/events/aws/stepfunctions-execution-failed.json", "testdata/events/aws/sagemaker-model-package-state-change.json"}},
		{name: "route-aws-stepfunctions-failed", args: []string{"route", "--json", "--dir", "testdata/aws-samples", "testdata/events/aws/stepfunctions-execution-failed.json"}},
		// A Metrics Insights alarm's contributor and parent, and a composite alarm.
		{name: "route-contributor-alarm", args: []string{"route", "testdata/events/cloudwatch-contributor/variant-latency-contributor-alarm.json", "testdata/events/cloudwatch-contributor/variant-latency-parent-alarm.json"}},
		{name: "route-composite-alarm", args: []string{"route", "testdata/events/cloudwatch-composite/endpoint-unhealthy-alarm.json"}},
		{name: "route-missing-file", args: []string{"route", "testdata/events/no-such-file.json", "testdata/events/native/credit-approval-accuracy-drop.json"}, wantExit: 2},
		{name: "replay-bad-lines", args: []string{"replay", "testdata/events/sequence/bad-first-line.jsonl"}, wantExit: 1},
		// A feature of 200 "/" and a segment of 200 bytes of "é": within
		// the contract, and within DynamoDB's limits, which replay's store
		// enforces.
		{name: "replay-long-names", args: []string{"replay", "testdata/scenarios/long-names.jsonl"}},
		{name: "replay-stdin-json", args: []string{"replay", "--json", "-"}, stdin: string(mustRead(t, "../../testdata/events/sequence/credit-approval-income-drift.jsonl"))},
		{name: "replay-no-file", args: []string{"replay"}, wantExit: 2},
		{name: "flags-after-arguments", args: []string{"route", "testdata/events/native/credit-approval-accuracy-drop.json", "--json"}},
		{name: "audit-missing-state", args: []string{"audit", "x/y", "--state", "testdata/no-such-state.json"}, wantExit: 2},
		{name: "owners", args: []string{"owners"}},
		{name: "owners-gap", args: []string{"owners", "--dir", "testdata/invalid/model-missing-role"}, wantExit: 1},
		{name: "unknown-command", args: []string{"rout"}, wantExit: 2},
		{name: "route-no-files", args: []string{"route"}, wantExit: 2},
		{name: "missing-dir", args: []string{"validate", "--dir", "testdata/no-such-dir"}, wantExit: 2},
		// Escalation along the chain, then a drift job that dies: --silence
		// watches the stream's signals, --until keeps the clock running.
		{name: "replay-credit-silent-drift-job", args: []string{"replay", "--silence", "--until", "2026-04-05T06:00:00Z", "testdata/scenarios/credit-silent-drift-job.jsonl"}},
		{name: "replay-credit-silent-drift-job-json", args: []string{"replay", "--json", "--silence", "--until", "26h", "testdata/scenarios/credit-silent-drift-job.jsonl"}},
		{name: "replay-growing-group", args: []string{"replay", "--dir", "testdata/growing-group", "--until", "2026-06-02T03:35:00Z", "testdata/scenarios/growing-group.jsonl"}},
		{name: "replay-growing-group-json", args: []string{"replay", "--json", "--dir", "testdata/growing-group", "--until", "2026-06-02T03:35:00Z", "testdata/scenarios/growing-group.jsonl"}},
		// A CloudWatch mute holds back the resolution of an alert open before it;
		// the alarm fires again within the mute: both are told at its end.
		{name: "replay-fraud-mute-after-open", args: []string{"replay", "--until", "2026-03-02T20:05:00Z", "testdata/scenarios/fraud-mute-after-open.jsonl"}},
		{name: "replay-bad-until", args: []string{"replay", "--until", "tomorrow", "testdata/scenarios/credit-silent-drift-job.jsonl"}, wantExit: 2},
	}
	for _, scenario := range []string{"churn-competitor-launch", "credit-feed-break", "credit-accuracy-collapse", "playlist-drift", "playlist-error-flapping", "churn-sunday-retrain", "fraud-muted-alarm", "fraud-ml-pipeline", "fraud-variant-latency", "fraud-endpoint-composite", "credit-version-timeline",
		"credit-labels-confirm", "credit-labels-hold"} {
		file := "testdata/scenarios/" + scenario + ".jsonl"
		tests = append(tests, testCase{name: "replay-" + scenario, args: []string{"replay", file}},
			testCase{name: "replay-" + scenario + "-json", args: []string{"replay", "--json", file}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir("../..")
			checkGolden(t, tc)
		})
	}
}

// checkGolden runs the CLI as tc says, in the current directory, and
// compares its exit code with tc's and its output (stdout, then stderr)
// with testdata/golden/<name>.txt.
func checkGolden(t *testing.T, tc testCase) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(tc.args, stdio{in: strings.NewReader(tc.stdin), out: &out, err: &errOut})
	if code != tc.wantExit {
		t.Errorf("stakeout %s exited %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.wantExit, errOut.String())
	}
	got := out.String()
	if errOut.Len() > 0 {
		got += "--- stderr ---\n" + errOut.String()
	}
	if tc.scrub != "" {
		got = strings.ReplaceAll(got, tc.scrub, "$TMP")
	}
	compareGolden(t, filepath.Join("testdata", "golden", tc.name+".txt"), got)
}

// compareGolden compares got with the golden file (rewritten first with
// -update).
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", golden, diff)
	}
}

// TestHelpAndExitCodes pins every command's -h (purpose, usage, two
// examples, flags, exit codes) and the exit code of each kind of
// outcome: 0 all good, 1 findings, 2 usage or I/O errors.
func TestHelpAndExitCodes(t *testing.T) {
	t.Chdir("../..")
	tests := []testCase{
		{name: "help", args: []string{"-h"}},
		{name: "no-command", args: nil, wantExit: 2},
		{name: "bad-flag", args: []string{"replay", "--no-such-flag", "x.jsonl"}, wantExit: 2},
		{name: "replay-every-line-rejected", args: []string{"replay", "testdata/events/bad/truncated.json"}, wantExit: 1},
		{name: "replay-empty-input", args: []string{"replay", "-"}, stdin: "\n\n", wantExit: 1},
		{name: "replay-missing-file", args: []string{"replay", "testdata/no-such-file.jsonl"}, wantExit: 2},
		{name: "replay-fail-on-high", args: []string{"replay", "--fail-on", "high", "testdata/scenarios/churn-competitor-launch.jsonl"}, wantExit: 1},
		// A silence alert the escalator opens counts as much as the router's.
		{name: "replay-fail-on-silence", args: []string{"replay", "--silence", "--until", "3d", "--fail-on", "high", "-"},
			stdin: strings.SplitAfter(string(mustRead(t, "testdata/scenarios/credit-silent-drift-job.jsonl")), "\n")[0], wantExit: 1},
		{name: "replay-fail-on-critical", args: []string{"replay", "--fail-on", "critical", "testdata/scenarios/churn-competitor-launch.jsonl"}},
		{name: "route-fail-on-critical", args: []string{"route", "--fail-on", "critical", "testdata/events/native/credit-approval-accuracy-drop.json"}, wantExit: 1},
		{name: "replay-fail-on-unknown", args: []string{"replay", "--fail-on", "hgih", "x.jsonl"}, wantExit: 2},
		{name: "replay-invalid-config", args: []string{"replay", "--dir", "testdata/invalid/unknown-role", "testdata/events/sequence/credit-approval-income-drift.jsonl"}, wantExit: 1},
		{name: "audit-state-and-table", args: []string{"audit", "--state", "s.json", "--table", "t", "a/b"}, wantExit: 2},
		{name: "noise-missing-state", args: []string{"noise", "--state", "testdata/no-such-state.json"}, wantExit: 2},
	}
	for _, c := range commands() {
		tests = append(tests, testCase{name: "help-" + c.name(), args: []string{c.name(), "-h"}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc) })
	}
}

// TestSavedState replays a scenario into a state file, then reads it
// back as a user would: an alert by the beginning of its id, a mistyped
// id with the alerts it could be, and the noise of the replay's last
// week, counted back from the replay's time, not the wall clock's.
func TestSavedState(t *testing.T) {
	t.Chdir("../..")
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "--state", state, "testdata/scenarios/churn-competitor-launch.jsonl"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	for _, tc := range []testCase{
		{name: "audit-prefix", args: []string{"audit", "--state", state, "churn-prediction/feature-drift"}},
		{name: "audit-suggests", args: []string{"audit", "--state", state, "churn-prediction/feature-drfit"}, wantExit: 1},
		{name: "audit-unknown-model", args: []string{"audit", "--state", state, "churn-predictoin/auc-slow-slide"}, wantExit: 1},
		{name: "noise-since-replay-time", args: []string{"noise", "--state", state, "--since", "7d"}},
	} {
		tc.scrub = dir
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc) })
	}
}

type testCase struct {
	name     string
	args     []string
	stdin    string
	wantExit int
	// scrub is replaced by $TMP in the output (a temporary directory).
	scrub string
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestAudit replays a scenario into a state file, reads its audit trail
// back, then alters one record in the file: --verify must notice.
func TestAudit(t *testing.T) {
	t.Chdir("../..")
	statePath := filepath.Join(t.TempDir(), "state.json")
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "--state", statePath, "testdata/scenarios/credit-accuracy-collapse.jsonl"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"audit", "--state", statePath, "--verify", "credit-approval/accuracy-loss"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("audit exited %d: %s", code, errOut.String())
	}
	golden := filepath.Join("testdata", "golden", "audit-accuracy-loss.txt")
	if *update {
		os.WriteFile(golden, out.Bytes(), 0o644)
	}
	if diff := cmp.Diff(string(mustRead(t, golden)), out.String()); diff != "" {
		t.Errorf("audit output differs from %s (-want +got):\n%s", golden, diff)
	}

	data := mustRead(t, statePath)
	// Rewrite history: the first record's detail now claims a milder drop.
	tampered := strings.Replace(string(data), `"detail":"Accuracy 0.858`, `"detail":"Accuracy 0.898`, 1)
	if tampered == string(data) {
		t.Fatal("test broken: the value to alter is not in the state file")
	}
	if err := os.WriteFile(statePath, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"audit", "--state", statePath, "--verify", "credit-approval/accuracy-loss"}, stdio{out: &out, err: &errOut}); code != 1 {
		t.Errorf("audit --verify of an altered trail exited %d, want 1", code)
	}
	if !strings.Contains(out.String(), "VERIFY FAILED") {
		t.Errorf("audit --verify output does not report the alteration:\n%s", out.String())
	}
}
