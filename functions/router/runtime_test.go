package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/config/configtest"
	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The built bootstrap, driven through the Lambda Runtime API with the
// environment template.yaml gives it: an EventBridge signal becomes an
// alert in DynamoDB, one Slack message and one page; EventBridge's retry of
// the same event sends nothing more; a malformed event is quarantined and
// acknowledged, never an error that would loop through retries.
func TestRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	w := deploytest.New(t, "../../template.yaml", "RouterFunction")
	fn := runtimeapitest.Start(t, runtimeapitest.Build(t, "."), w.Env)
	ctx := context.Background()

	event := measuredNow(t, "../../testdata/events/envelope/credit-approval-accuracy-drop.json")
	for attempt := range 2 { // the second is EventBridge's retry
		res, err := fn.Invoke(ctx, event)
		if err != nil {
			t.Fatalf("invoke %d: %v\n%s", attempt, err, fn.Logs())
		}
		if res.Err != nil {
			t.Fatalf("invoke %d: function error %v\n%s", attempt, res.Err, fn.Logs())
		}
	}
	if got := len(w.Slack.Messages("C0CREDITDS")); got != 1 {
		t.Errorf("Slack messages in credit-ds' channel = %d, want 1 (a retry must not post again)", got)
	}
	if got := len(w.PD.Events()); got != 1 {
		t.Errorf("PagerDuty events = %d, want 1", got)
	}
	groups, err := w.Store.OpenGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Model != "credit-approval" || groups[0].Rule != "accuracy-loss" {
		t.Errorf("open groups = %+v, want credit-approval/accuracy-loss", groups)
	}
	if got := w.Bus.Events(); len(got) == 0 || got[0].DetailType != "Alert Opened" {
		t.Errorf("lifecycle events = %+v, want Alert Opened", got)
	}
	// The trail is keyed with the stack's KMS key: every record vouched for
	// by a MAC KMS verifies.
	verifier, err := kmsmac.NewVerifier(w.KMS.Client(t), w.AuditKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, id := range g.Members {
			recs, err := w.Store.AlertRecords(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := audit.Check(ctx, recs, audit.Keys{w.AuditKey: verifier})
			if err != nil || rep.Vouched != len(recs) || len(recs) == 0 {
				t.Errorf("audit of %s: %+v, %v; want all %d records vouched for by the KMS key", id, rep, err, len(recs))
			}
		}
	}

	res, err := fn.Invoke(ctx, []byte(`{"detail-type":"ML Model Signal","source":"x","id":"bad-1","detail":{"model":"credit-approval"}}`))
	if err != nil || res.Err != nil {
		t.Fatalf("a malformed event: %v %v, want it acknowledged (quarantined)", err, res.Err)
	}

	logs := fn.Logs()
	for _, want := range []string{`"msg":"configuration loaded"`, `"from":"embedded"`, `"event_id":"6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"`,
		`"alert_id":"`, `"quarantined":"`, `"Namespace":"stakeout"`, `"` + metrics.AlertsOpened + `":1`, `"Stack":"` + deploytest.Stack + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the function's output lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, w.Slack.Token()) {
		t.Error("the Slack token is in the function's output")
	}
}

// The bootstrap as its make target builds it, the compact form of the
// configuration beside it: it starts with that form and compiles the
// event's model at its first event, which opens its alert as the whole
// configuration would.
func TestRuntimeRoutesWithTheCompactFormBesideIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	w := deploytest.New(t, "../../template.yaml", "RouterFunction")
	bin := builtWith(t, "../..")
	fn, groups := routeAccuracyDrop(t, w, bin)
	if len(groups) != 1 || groups[0].Model != "credit-approval" || groups[0].Rule != "accuracy-loss" {
		t.Errorf("open groups = %+v, want credit-approval/accuracy-loss", groups)
	}
	if want := fmt.Sprintf(`"from":%q`, filepath.Join(filepath.Dir(bin), config.CompactDir)); !strings.Contains(fn.Logs(), want) {
		t.Errorf("the function's output lacks %s:\n%s", want, fn.Logs())
	}
}

// A plain go build into a directory holding an older build's compact
// form: the router says the form is not of its files and routes with the
// configuration it embeds, whole — the event's model, absent from the
// older form, opens its alert.
func TestRuntimeIgnoresAStaleCompactFormBesideIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	w := deploytest.New(t, "../../template.yaml", "RouterFunction")
	bin := runtimeapitest.Build(t, ".")
	compactBeside(t, bin, configtest.Write(t, configtest.Generate(3, 2)))
	fn, groups := routeAccuracyDrop(t, w, bin)
	if len(groups) != 1 || groups[0].Model != "credit-approval" {
		t.Errorf("open groups = %+v, want credit-approval's", groups)
	}
	for _, want := range []string{`"level":"ERROR","msg":"the compact configuration beside the router is not of the files it embeds`, `"from":"embedded"`} {
		if !strings.Contains(fn.Logs(), want) {
			t.Errorf("the function's output lacks %s:\n%s", want, fn.Logs())
		}
	}
}

// measuredNow reads the EventBridge event in file with its signal measured
// now: a signal older than the lag bound would be late.
func measuredNow(t *testing.T, file string) []byte {
	t.Helper()
	event, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	ev["detail"].(map[string]any)["observed_at"] = time.Now().UTC().Format(time.RFC3339)
	event, err = json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return event
}

// A function that cannot start says why through the Runtime API's init
// error, naming what is missing.
func TestRuntimeInitError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	w := deploytest.New(t, "../../template.yaml", "RouterFunction")
	delete(w.Env, setup.EnvTable)
	fn := runtimeapitest.Start(t, runtimeapitest.Build(t, "."), w.Env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fail, err := fn.WaitInitError(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fail.Err == nil || !strings.Contains(fail.Err.Message, setup.EnvTable) || fail.ExitCode == 0 {
		t.Errorf("init failure = %+v (err %+v), want a reported init error naming %s and a non-zero exit", fail, fail.Err, setup.EnvTable)
	}
}

// BenchmarkColdStart measures the router's bootstrap, as make
// build-RouterFunction builds it (its configuration's compact form beside
// it), from process start to its first request for an event (Lambda's
// init duration): loading the configuration, building the AWS clients.
// Two configurations: the example's (example), and a generated one of 200
// models × 10 rules (200x10), which also reports its time over the
// example's (x-example) when both run. Each bootstrap embeds the
// configuration it is measured with, as a deployed one does: the router
// hashes it at start to check that its compact form is of those files.
// Targets: example ≤ 25 ms; 200x10 ≤ 1.3× example, a cold start flat in
// the number of rules (an invocation touches one model; each model's
// rules compile at its first event). Lambda's init phase allows 10 s, but
// users feel what delays the first alert after a deploy.
func BenchmarkColdStart(b *testing.B) {
	env := map[string]string{setup.EnvTable: "stakeout", "AWS_REGION": "us-east-1", setup.EnvSlackToken: "secret:stakeout/slack/bot-token",
		setup.EnvEventBus: "default", setup.EnvStack: deploytest.Stack,
		setup.EnvAuditKeyID: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
	var example float64 // ms per cold start with the example configuration
	b.Run("example", func(b *testing.B) { example = coldStarts(b, builtWith(b, "../.."), env, 5) })
	b.Run("200x10", func(b *testing.B) {
		bin := builtWith(b, configtest.Write(b, configtest.Generate(200, 10)))
		if ms := coldStarts(b, bin, env, 200); example > 0 {
			b.ReportMetric(ms/example, "x-example")
		}
	})
}

// builtWith is the bootstrap with the compact form of the configuration
// in dir beside it, as make build-RouterFunction writes it (go run
// ./functions/router/compact), for this machine. The bootstrap embeds
// that configuration: for another than the repository's, it is built as
// if the repository's rules/ and owners/ were dir's.
func builtWith(b testing.TB, dir string) string {
	b.Helper()
	bin := embedding(b, dir)
	compactBeside(b, bin, dir)
	return bin
}

// compactBeside writes the compact form of the configuration in dir
// beside the bootstrap bin.
func compactBeside(b testing.TB, bin, dir string) {
	b.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := config.WriteCompact(cfg, os.DirFS(dir), dir, filepath.Join(filepath.Dir(bin), config.CompactDir)); err != nil {
		b.Fatal(err)
	}
}

// embedding is the bootstrap embedding the configuration in dir: go
// build's overlay puts dir's rules/ and owners/ in place of the
// repository's.
func embedding(b testing.TB, dir string) string {
	b.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		b.Fatal(err)
	}
	if abs == root {
		return runtimeapitest.Build(b, ".")
	}
	replace := map[string]string{}
	for _, sub := range []string{"rules", "owners"} {
		ours, _ := filepath.Glob(filepath.Join(root, sub, "*"))
		for _, f := range ours {
			replace[f] = ""
		}
		theirs, _ := filepath.Glob(filepath.Join(abs, sub, "*"))
		for _, f := range theirs {
			replace[filepath.Join(root, sub, filepath.Base(f))] = f
		}
	}
	return runtimeapitest.BuildOverlay(b, ".", replace)
}

// coldStarts starts the bootstrap bin with env b.N times and reports, and
// returns, the mean time to its first /next in milliseconds. Each start
// must have loaded the compact form beside bin, of models models.
func coldStarts(b *testing.B, bin string, env map[string]string, models int) float64 {
	var total time.Duration
	for b.Loop() {
		fn := runtimeapitest.Start(b, bin, env)
		d, err := fn.ColdStart(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		total += d
		fn.Close()
		requireCompact(b, fn.Logs(), bin, models)
	}
	ms := float64(total.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(ms, "ms/coldstart")
	return ms
}

// requireCompact fails b unless the router's logs say it loaded the
// compact form beside bin, of models models: a benchmark of the compact
// form must not quietly measure the embedded configuration instead.
func requireCompact(b testing.TB, logs, bin string, models int) {
	b.Helper()
	loaded := fmt.Sprintf(`"from":%q,"digest":`, filepath.Join(filepath.Dir(bin), config.CompactDir))
	if !strings.Contains(logs, loaded) || !strings.Contains(logs, fmt.Sprintf(`"models":%d,`, models)) {
		b.Fatalf("the router did not load the compact form of %d models (%s):\n%s", models, loaded, logs)
	}
}

// routeAccuracyDrop starts bin with w's environment, sends it
// credit-approval's accuracy drop and returns the function and the alert
// groups then open.
func routeAccuracyDrop(t *testing.T, w *deploytest.World, bin string) (*runtimeapitest.Server, []*state.Group) {
	t.Helper()
	fn := runtimeapitest.Start(t, bin, w.Env)
	ctx := context.Background()
	res, err := fn.Invoke(ctx, measuredNow(t, "../../testdata/events/envelope/credit-approval-accuracy-drop.json"))
	if err != nil || res.Err != nil {
		t.Fatalf("invoke: %v %v\n%s", err, res.Err, fn.Logs())
	}
	groups, err := w.Store.OpenGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return fn, groups
}
