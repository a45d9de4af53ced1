package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/samtemplate"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The built bootstrap, invoked as the template's schedule invokes it (its
// Input), in the template's environment: it sets up the watches and
// digests, and drains the outbox of what the router left undelivered.
func TestRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	ctx := context.Background()
	w := deploytest.New(t, "../../template.yaml", "EscalatorFunction")
	tmpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	input, _ := samtemplate.Dig(tmpl.Resources["EscalatorSchedule"].Properties, "Target", "Input").(string)
	if !json.Valid([]byte(input)) {
		t.Fatalf("the schedule's Input %q is not JSON", input)
	}

	// A router that committed an alert and died before delivering it.
	cfg, err := config.LoadFS(stakeout.Config, ".")
	if err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile("../../testdata/events/native/credit-approval-accuracy-drop.json")
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	if err := json.Unmarshal(event, &detail); err != nil {
		t.Fatal(err)
	}
	detail["observed_at"] = time.Now().UTC().Format(time.RFC3339)
	event, _ = json.Marshal(detail)
	proc := &pipeline.Processor{Config: cfg, Store: w.Store, Now: time.Now}
	out, err := proc.Process(ctx, event)
	if err != nil || len(out.Queued) == 0 {
		t.Fatalf("router step: %+v %v, want queued notifications", out, err)
	}

	fn := runtimeapitest.Start(t, runtimeapitest.Build(t, "."), w.Env)
	res, err := fn.Invoke(ctx, []byte(input))
	if err != nil || res.Err != nil {
		t.Fatalf("tick: %v %v\n%s", err, res.Err, fn.Logs())
	}
	if got := len(w.Slack.Messages("C0CREDITDS")); got != 1 {
		t.Errorf("Slack messages = %d, want 1 (the outbox drained)", got)
	}
	if wt, err := w.Store.GetWatch(ctx, state.WatchID("credit-approval", "drift", "")); err != nil || wt == nil {
		t.Errorf("credit-approval's drift is not watched: %v %v", wt, err)
	}
	if !strings.Contains(fn.Logs(), `"msg":"escalator run"`) {
		t.Errorf("no run summary in the logs:\n%s", fn.Logs())
	}
	// The start line names the build (runtimeapitest builds without VCS
	// stamping: a module version, an empty revision).
	if !regexp.MustCompile(`"msg":"configuration loaded".*"version":"[^"]+","revision":"[0-9a-f]*"`).MatchString(fn.Logs()) {
		t.Errorf("the start line lacks the version and revision:\n%s", fn.Logs())
	}
	// The next tick finds nothing left to send.
	if res, err := fn.Invoke(ctx, []byte(input)); err != nil || res.Err != nil {
		t.Fatalf("second tick: %v %v", err, res.Err)
	}
	if got := len(w.Slack.Messages("C0CREDITDS")); got != 1 {
		t.Errorf("after a second tick, Slack messages = %d, want still 1", got)
	}
}
