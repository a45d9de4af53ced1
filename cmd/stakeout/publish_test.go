package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/bustest"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// What a report, flags and JSON lines become (--dry-run prints the
// details), and the errors of input publish will not send: exit 2,
// nothing sent.
func TestPublishTurnsInputIntoEventsAndRefusesBadInput(t *testing.T) {
	t.Chdir("../..")
	const window = "--window-end=2026-04-08T00:00:00Z"
	for _, tc := range []testCase{
		// Evidently's own example's metric list (v0.7.16+ layout).
		{name: "publish-evidently-grafana-example", args: []string{"publish", "--dry-run", "--from", "evidently", "--model", "churn-prediction",
			"--version", "2026.04.2", "--window-start=2026-04-01T00:00:00Z", window, "testdata/evidently/grafana-example-shape.json"}},
		// The same report as v0.7.0–v0.7.15 write it: no method, no threshold.
		{name: "publish-evidently-older-layout", args: []string{"publish", "--dry-run", "--from", "evidently", "--model", "churn-prediction",
			window, "testdata/evidently/v0.7.0-0.7.15-shape.json"}},
		// Columns drifted and not, a dataset over its drift share, a
		// metric with no conversion (skipped and counted).
		{name: "publish-evidently-mixed", args: []string{"publish", "--dry-run", "--from", "evidently", "--model", "churn-evidently",
			"--label", "team=growth", window, "testdata/evidently/constructed-mixed.json"}},
		{name: "publish-flags", args: []string{"publish", "--dry-run", "--model", "credit-approval", "--kind", "quality", "--metric", "accuracy",
			"--value", "0.81", "--baseline", "0.9", "--observed-at", "2026-03-02T06:00:00Z"}},
		{name: "publish-lines", args: []string{"publish", "--dry-run", "-"}, stdin: "{\"model\":\"m\",\"kind\":\"drift\",\"metric\":\"psi\",\"value\":0.3,\"observed_at\":\"2026-03-02T06:00:00Z\",\"extra\":1}\n\n" +
			"{\"model\":\"m\",\"kind\":\"drift\",\"metric\":\"psi\",\"value\":0.1,\"observed_at\":\"2026-03-03T06:00:00Z\"}\n"},
		{name: "publish-bad-line", args: []string{"publish", "--dry-run", "-"}, wantExit: 2,
			stdin: "{\"model\":\"m\",\"kind\":\"drift\",\"metric\":\"psi\",\"value\":0.3,\"observed_at\":\"2026-03-02T06:00:00Z\"}\n{\"model\":\"m\",\"kind\":\"drift\",\n"},
		{name: "publish-invalid-line", args: []string{"publish", "--dry-run", "-"}, wantExit: 2,
			stdin: "{\"model\":\"m\",\"kind\":\"drfit\",\"metric\":\"psi\",\"value\":0.3,\"observed_at\":\"2026-03-02T06:00:00Z\"}\n"},
		{name: "publish-not-evidently", args: []string{"publish", "--dry-run", "--from", "evidently", "--model", "m",
			"testdata/events/native/credit-approval-accuracy-drop.json"}, wantExit: 2},
		{name: "publish-legacy-evidently", args: []string{"publish", "--dry-run", "--from", "evidently", "--model", "m", "-"},
			stdin: `{"metrics":[{"metric":"ColumnDriftMetric","result":{"drift_score":0.3}}]}`, wantExit: 2},
		{name: "publish-from-with-event-flags", args: []string{"publish", "--from", "evidently", "--model", "m", "--kind", "drift",
			"testdata/evidently/grafana-example-shape.json"}, wantExit: 2},
		{name: "publish-lines-with-event-flags", args: []string{"publish", "--model", "m", "-"}, wantExit: 2},
		{name: "publish-flags-missing", args: []string{"publish", "--model", "m", "--value", "1"}, wantExit: 2},
		{name: "publish-from-unknown", args: []string{"publish", "--from", "whylogs", "--model", "m", "r.json"}, wantExit: 2},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc) })
	}
}

// observed_at defaults to the clock's now, whole seconds.
func TestPublishObservedAtDefaultsToNow(t *testing.T) {
	now := time.Date(2026, 3, 2, 6, 0, 0, 500, time.UTC)
	c := &publishCmd{now: func() time.Time { return now }}
	out, code, stderr := runPublish(t, c, "--dry-run", "--model", "m", "--kind", "drift", "--metric", "psi", "--value", "0.3")
	if code != 0 || !strings.Contains(out, `"observed_at":"2026-03-02T06:00:00Z"`) {
		t.Errorf("exit %d, printed %s%s; want observed_at 2026-03-02T06:00:00Z", code, out, stderr)
	}
}

// runPublish runs c with args as the CLI would.
func runPublish(t *testing.T, c *publishCmd, args ...string) (out string, code int, stderr string) {
	t.Helper()
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	c.flags(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	code = c.run(positional, stdio{in: strings.NewReader(""), out: &o, err: &e})
	return o.String(), code, e.String()
}

// Twelve JSON lines go out as EventBridge takes them, ten to a call,
// signed with the SDK's default chain's credentials, under --source on
// --event-bus.
func TestPublishSendsInCallsOfTen(t *testing.T) {
	s := bustest.New(t, bustest.WithBuses("ml-signals"))
	placeholderAWS(t)
	var lines strings.Builder
	for i := range 12 {
		fmt.Fprintf(&lines, `{"model":"m","kind":"drift","metric":"psi","feature":"f%d","value":0.3,"observed_at":"2026-03-02T06:00:00Z"}`+"\n", i)
	}
	file := writeFile(t, "events.jsonl", lines.String())
	out, code, stderr := runPublish(t, &publishCmd{}, "--endpoint-url", s.URL(), "--event-bus", "ml-signals", "--source", "com.example.monitoring", file)
	if code != 0 || out != "published 12 events to event bus ml-signals\n" {
		t.Fatalf("exit %d, printed %q %s; want 12 published", code, out, stderr)
	}
	if s.Calls() != 2 {
		t.Errorf("%d PutEvents calls, want 2 (10 + 2)", s.Calls())
	}
	for i, e := range s.Events() {
		var d struct{ Feature string }
		json.Unmarshal(e.Detail, &d)
		if e.Source != "com.example.monitoring" || e.DetailType != "ML Model Signal" || e.Bus != "ml-signals" || d.Feature != fmt.Sprint("f", i) {
			t.Errorf("event %d: %s %s on %s, feature %s; want ML Model Signal from com.example.monitoring on ml-signals, feature f%d", i, e.Source, e.DetailType, e.Bus, d.Feature, i)
		}
	}
}

// An entry EventBridge fails for good is listed with its error code and
// detail, the others are sent: exit 1.
func TestPublishListsTheEntriesEventBridgeFailed(t *testing.T) {
	s := bustest.New(t)
	s.Fail(1, "NotAuthorizedForSourceException")
	c := &publishCmd{api: s.Client(t)}
	out, code, stderr := runPublish(t, c, "--from", "evidently", "--model", "churn-evidently", "--window-end", "2026-04-08T00:00:00Z",
		"../../testdata/evidently/constructed-mixed.json")
	if code != 1 || out != "published 4 of 5 events to event bus default; 1 failed\n" ||
		!strings.Contains(stderr, "event 1 failed: NotAuthorizedForSourceException") || !strings.Contains(stderr, `"metric":"drifted_share"`) {
		t.Errorf("exit %d, printed %q\n%s\nwant exit 1, event 1 (drifted_share) listed as NotAuthorizedForSourceException", code, out, stderr)
	}
	if n := len(s.Events()); n != 4 {
		t.Errorf("%d events accepted, want 4", n)
	}
}

// The report published into `stakeout serve`: the drifted columns and the
// dataset's drift share open alerts, the steady column does not.
func TestPublishedEvidentlyReportOpensAlertsInServe(t *testing.T) {
	addr, stop := serveWith(t, "--dir", "../../testdata/evidently/config")
	end := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	out, code, stderr := runPublish(t, &publishCmd{}, "--endpoint-url", "http://"+addr, "--no-sign-request",
		"--from", "evidently", "--model", "churn-evidently", "--window-end", end, "../../testdata/evidently/constructed-mixed.json")
	if code != 0 {
		t.Fatalf("publish exited %d: %s%s", code, out, stderr)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// tenure_months and plan drifted; monthly_charges did not.
	for _, want := range []string{"stakeout_events_received_total 5\n", "stakeout_alerts_opened_total 3\n"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("serve's /metrics lacks %q:\n%s", want, metrics)
		}
	}
	if code, logs := stop(); code != 0 {
		t.Errorf("serve exited %d:\n%s", code, logs)
	}
}

// A firing reading and then a clean one, each published from flags into
// `stakeout serve`: the first opens the alert, the second resolves it —
// the round trip a pipeline step relies on to close what it opened.
func TestPublishedCleanReadingResolvesInServe(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	addr, stop := serveWith(t, "--dir", "../../testdata/evidently/config", "--state", statePath)
	now := time.Now().UTC().Truncate(time.Second)
	for i, reading := range []struct{ value, drifted string }{{"0.001", "true"}, {"0.4", "false"}} {
		at := now.Add(time.Duration(i-2) * time.Minute).Format(time.RFC3339)
		out, code, stderr := runPublish(t, &publishCmd{}, "--endpoint-url", "http://"+addr, "--no-sign-request",
			"--model", "churn-evidently", "--kind", "drift", "--metric", "ks_p_value", "--feature", "age",
			"--value", reading.value, "--baseline", "0.05", "--label", "drift_detected="+reading.drifted, "--observed-at", at)
		if code != 0 {
			t.Fatalf("publish of %s exited %d: %s%s", reading.value, code, out, stderr)
		}
	}
	if code, logs := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs)
	}
	st, err := memstore.Open(statePath, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.GetAlert(context.Background(), "churn-evidently/column-drift/feature=age")
	if err != nil || a == nil {
		t.Fatalf("GetAlert = %v, %v; want the alert the first reading opened", a, err)
	}
	if a.Status != state.Resolved || a.Value != 0.4 {
		t.Errorf("alert %s with value %v, want %s by the clean reading 0.4", a.Status, a.Value, state.Resolved)
	}
}

// placeholderAWS gives the SDK's default chain a region and placeholder
// credentials, and none of the machine's configuration.
func placeholderAWS(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "placeholder", "AWS_SECRET_ACCESS_KEY": "placeholder",
		"AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"), "AWS_PROFILE": "", "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
}
