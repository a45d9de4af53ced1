package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/drill"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/secret"
)

// drillChannels starts Slack and PagerDuty fakes for credit-ds (the
// PagerDuty one checking every event against the Events API v2 schema)
// and points the environment at them.
func drillChannels(t *testing.T) (*notifytest.Slack, *notifytest.PagerDuty) {
	t.Helper()
	schema, err := filepath.Abs("../../../shared/schemas/pagerduty/events-v2.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	slack := notifytest.NewSlack(t, notifytest.WithChannels("C0CREDITDS"))
	pd := notifytest.NewPagerDuty(t, notifytest.WithSchemaPath(schema))
	t.Setenv("SLACK_BOT_TOKEN", slack.Token())
	t.Setenv("STAKEOUT_SLACK_API_URL", slack.URL())
	t.Setenv("STAKEOUT_PAGERDUTY_EVENTS_URL", pd.URL())
	t.Setenv(secret.EnvVar("secret:stakeout/pagerduty/credit-ds"), pd.RoutingKey())
	t.Setenv("STAKEOUT_AUDIT_KEY", "")
	return slack, pd
}

func TestDrillSendsAMarkedTestAlertThroughTheOwnersSlackAndPagerDuty(t *testing.T) {
	slack, pd := drillChannels(t)
	statePath := filepath.Join(t.TempDir(), "state.json")
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	if code := run([]string{"drill", "--owner", "credit-ds", "--state", statePath}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("drill exited %d:\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"critical-stakes critical alert for credit-ds", "(within 15m)", "slack     posted", "pagerduty", "stakeout audit --drills --state " + statePath} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("drill printed\n%s\nwant %q in it", out.String(), want)
		}
	}
	msgs := slack.Messages("C0CREDITDS")
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, drill.Mark) || !strings.Contains(string(msgs[0].Blocks), drill.Mark) {
		t.Fatalf("Slack got %+v, want one message marked %q in its text and its blocks", msgs, drill.Mark)
	}
	if strings.Contains(string(msgs[0].Blocks), "request-retrain") {
		t.Error("a drill's message offers the alert menu: a drill asks only for an acknowledgement")
	}
	evs := pd.Events()
	if len(evs) != 1 || evs[0].EventAction != "trigger" || evs[0].Payload == nil {
		t.Fatalf("PagerDuty got %+v, want one trigger", evs)
	}
	pl := evs[0].Payload
	if !strings.HasPrefix(pl.Summary, drill.Mark) || pl.CustomDetails["drill"] != true || pl.Severity != "critical" {
		t.Errorf("PagerDuty trigger summary %q, severity %s, drill %v: want marked, critical (the tier's loudest), custom_details.drill true",
			pl.Summary, pl.Severity, pl.CustomDetails["drill"])
	}
	if v := pd.Violations(); len(v) > 0 {
		t.Errorf("the drill's events break the Events API v2 schema: %v", v)
	}

	out.Reset()
	errOut.Reset()
	if code := run([]string{"audit", "--drills", "--json", "--state", statePath}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("audit --drills exited %d: %s", code, errOut.String())
	}
	var o drill.Outcome
	if err := json.Unmarshal(out.Bytes(), &o); err != nil || o.Owner != "credit-ds" || o.Result != drill.Waiting || o.AckWithin != "15m" {
		t.Errorf("audit --drills printed %s (%v), want credit-ds's drill waiting, ack within 15m", out.String(), err)
	}

	// A second drill while the first waits is refused: one at a time.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"drill", "--owner", "credit-ds", "--state", statePath}, stdio{out: &out, err: &errOut}); code != 1 || !strings.Contains(errOut.String(), "under way") {
		t.Errorf("a second drill exited %d: %s", code, errOut.String())
	}
	if n := len(slack.Messages("C0CREDITDS")); n != 1 {
		t.Errorf("Slack has %d messages after the refused drill, want 1", n)
	}
}

func TestDrillRefusesToRunWithoutTheChannelsCredentials(t *testing.T) {
	drillChannels(t)
	t.Setenv("SLACK_BOT_TOKEN", "")
	t.Setenv(secret.EnvVar("secret:stakeout/pagerduty/credit-ds"), "")
	statePath := filepath.Join(t.TempDir(), "state.json")
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	code := run([]string{"drill", "--owner", "credit-ds", "--state", statePath}, stdio{out: &out, err: &errOut})
	if code != 2 || !strings.Contains(errOut.String(), "Slack needs SLACK_BOT_TOKEN") ||
		!strings.Contains(errOut.String(), "PagerDuty needs STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS") {
		t.Errorf("drill without credentials exited %d: %s", code, errOut.String())
	}
	if code := run([]string{"drill", "--owner", "credit-dss", "--state", statePath}, stdio{out: &out, err: &errOut}); code != 2 || !strings.Contains(errOut.String(), `no owner "credit-dss"`) {
		t.Errorf("drill of an unknown owner exited %d: %s", code, errOut.String())
	}
}
