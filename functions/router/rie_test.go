package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The built bootstrap under AWS's own Runtime Interface Emulator, not our
// Runtime API: an EventBridge signal opens an alert, its retry is a
// duplicate that changes nothing, and an event that can never be applied
// is acknowledged and quarantined with its reason. Each answer is what
// Lambda gives an asynchronous invoker: 200 and the handler's null.
func TestRouterUnderAWSEmulatorOpensIgnoresDuplicatesAndQuarantines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap under AWS's emulator")
	}
	w := deploytest.New(t, "../../template.yaml", "RouterFunction")
	rie := runtimeapitest.StartRIE(t, runtimeapitest.Build(t, "."), w.Env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	event := measuredNow(t, "../../testdata/events/envelope/credit-approval-accuracy-drop.json")

	invokeOK(ctx, t, rie, event)
	alerts := openAlerts(ctx, t, w)
	if len(alerts) != 1 || alerts[0].Model != "credit-approval" || alerts[0].Rule != "accuracy-loss" || alerts[0].Status != state.Open {
		t.Fatalf("alerts after the event = %+v, want one open credit-approval/accuracy-loss", alerts)
	}

	invokeOK(ctx, t, rie, event) // EventBridge's retry
	if again := openAlerts(ctx, t, w); len(again) != 1 || again[0].ID != alerts[0].ID || again[0].Version != alerts[0].Version {
		t.Errorf("alerts after the same event again = %+v, want the first one unchanged", again)
	}
	if got := len(w.Slack.Messages("C0CREDITDS")); got != 1 {
		t.Errorf("Slack messages = %d, want 1 (a duplicate posts nothing)", got)
	}
	if got := len(w.PD.Events()); got != 1 {
		t.Errorf("PagerDuty events = %d, want 1 (a duplicate pages nobody)", got)
	}

	for id, c := range map[string]struct{ detail, reason string }{
		"rie-unknown-model": {"unknown-model.json", `unknown model "credit-scoring"`},
		"rie-value-string":  {"value-as-string.json", `"value"`},
	} {
		day := time.Now().UTC()
		invokeOK(ctx, t, rie, inEnvelope(t, event, "../../testdata/events/bad/"+c.detail, id))
		q := quarantined(ctx, t, w, id, day)
		if q == nil || !strings.Contains(q.Reason, c.reason) {
			t.Errorf("quarantine record of %s (%s) = %+v, want one whose reason names %s", id, c.detail, q, c.reason)
		}
	}
}

// A bootstrap that cannot start is an init error the emulator hands to the
// invoker, with the reason the router reported to the Runtime API.
func TestRouterInitErrorReachesTheAWSEmulatorsInvoker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap under AWS's emulator")
	}
	bin := runtimeapitest.Build(t, ".")
	missing := filepath.Join(t.TempDir(), "no-such-config")
	for name, c := range map[string]struct {
		change func(env map[string]string)
		want   string
	}{
		"no table":          {func(env map[string]string) { delete(env, setup.EnvTable) }, setup.EnvTable + " is not set"},
		"unreadable config": {func(env map[string]string) { env[setup.EnvConfigDir] = missing }, missing},
	} {
		t.Run(name, func(t *testing.T) {
			w := deploytest.New(t, "../../template.yaml", "RouterFunction")
			c.change(w.Env)
			rie := runtimeapitest.StartRIE(t, bin, w.Env)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := rie.Invoke(ctx, measuredNow(t, "../../testdata/events/envelope/credit-approval-accuracy-drop.json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ ErrorMessage, ErrorType string }
			if err := json.Unmarshal(res.Body, &doc); err != nil {
				t.Fatalf("the emulator's answer %d %q: %v", res.Status, res.Body, err)
			}
			if res.Status != http.StatusBadGateway || doc.ErrorType != runtimeapi.InitErrorType ||
				!strings.Contains(doc.ErrorMessage, "router cannot start: ") || !strings.Contains(doc.ErrorMessage, c.want) {
				t.Errorf("the emulator's answer = %d %s, want 502 with a %s document saying the router cannot start: …%s…",
					res.Status, res.Body, runtimeapi.InitErrorType, c.want)
			}
		})
	}
}

// invokeOK invokes the function through the emulator and fails the test
// unless it answers as the router does when the event is applied or
// quarantined: 200 and null.
func invokeOK(ctx context.Context, t *testing.T, rie *runtimeapitest.RIE, event []byte) {
	t.Helper()
	res, err := rie.Invoke(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || string(res.Body) != "null" {
		t.Fatalf("the emulator's answer = %d %s, want 200 null", res.Status, res.Body)
	}
}

// openAlerts reads the alerts of every open group from the table.
func openAlerts(ctx context.Context, t *testing.T, w *deploytest.World) []*state.Alert {
	t.Helper()
	groups, err := w.Store.OpenGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []*state.Alert
	for _, g := range groups {
		for _, id := range g.Members {
			a, err := w.Store.GetAlert(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			alerts = append(alerts, a)
		}
	}
	return alerts
}

// inEnvelope is envelope (an EventBridge event) with its id set to id and
// its detail replaced by the JSON in file.
func inEnvelope(t *testing.T, envelope []byte, file, id string) []byte {
	t.Helper()
	detail, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(envelope, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"], ev["detail"] = id, json.RawMessage(detail)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return out
}

// quarantined finds the quarantine record of the event id, kept on the day
// of since or a day after (the test may cross midnight). A record is named
// by the event's id, or by a hash of its body when the event did not decode
// (the id is then in the body kept).
func quarantined(ctx context.Context, t *testing.T, w *deploytest.World, id string, since time.Time) *state.Quarantined {
	t.Helper()
	for _, day := range []time.Time{since, since.Add(24 * time.Hour)} {
		qs, err := w.Store.QuarantinedOn(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		for i := range qs {
			if qs[i].ID == id || strings.Contains(qs[i].Body, `"id":"`+id+`"`) {
				return &qs[i]
			}
		}
	}
	return nil
}
