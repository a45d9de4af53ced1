package route

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/config"
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

type routed struct {
	Rule, Severity, Role, Owner, Notify string
}

// Each captured event, routed alone against the example configuration,
// reaches the owners testdata/events/README.md promises.
func TestCapturedEventsReachTheirOwners(t *testing.T) {
	cfg := example(t)
	for _, tc := range []struct {
		file string
		want []routed
	}{
		{"native/credit-approval-accuracy-drop.json", []routed{{"accuracy-loss", "critical", "model", "credit-ds", "slack,pagerduty"}}},
		{"native/credit-approval-income-psi.json", nil},
		{"native/credit-approval-disparate-impact.json", []routed{{"disparate-impact", "critical", "model", "credit-ds", "slack,pagerduty"}}},
		{"native/fraud-detection-feature-store-lag.json", []routed{{"feature-store-lag", "critical", "data", "data-platform", "slack,pagerduty"}}},
		{"native/churn-prediction-auc-floor.json", []routed{{"auc-floor", "critical", "model", "growth-ds", "slack"}}},
		{"native/playlist-recommender-catalog-lag.json", []routed{{"catalog-lag", "warning", "data", "data-platform", "digest"}}},
		{"native/delivery-eta-mae-no-baseline.json", nil},
		{"envelope/credit-approval-accuracy-drop.json", []routed{{"accuracy-loss", "critical", "model", "credit-ds", "slack,pagerduty"}}},
		{"cloudwatch/single-metric-alarm.json", []routed{{"monitor-feature-drift", "high", "model", "fraud-ds", "slack,pagerduty"}}},
		{"cloudwatch/single-metric-alarm-tags.json", []routed{{"monitor-feature-drift", "high", "model", "fraud-ds", "slack,pagerduty"}}},
		{"cloudwatch/metric-math-alarm.json", []routed{{"monitor-broad-drift", "high", "data", "data-platform", "slack,pagerduty"}}},
		{"cloudwatch/anomaly-detection-alarm.json", []routed{{"traffic-anomaly", "high", "platform", "ml-platform", "slack,pagerduty"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../../testdata/events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			dec, err := NewDryRun(cfg).Route(raw)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			var got []routed
			for _, a := range dec.Alerts {
				got = append(got, routed{a.Rule, a.Severity, a.Role, a.Owner, strings.Join(a.Notify, ",")})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

// The dry run keeps series history across events: `for: 2` pends, then
// fires on the second breach, with escalation times counted from it.
func TestDryRunKeepsHistory(t *testing.T) {
	cfg := example(t)
	dry := NewDryRun(cfg)
	ev := func(v, day string) []byte {
		return []byte(`{"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":` + v + `,"observed_at":"2026-03-0` + day + `T02:00:00Z"}`)
	}
	first, err := dry.Route(ev("0.31", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Alerts) != 0 || len(first.Pending) != 1 || !strings.Contains(first.Pending[0].Why, "1 of 2") {
		t.Fatalf("first breach: alerts %v, pending %v; want one pending at 1 of 2", first.Alerts, first.Pending)
	}
	second, err := dry.Route(ev("0.35", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Alerts) != 1 {
		t.Fatalf("second breach: %d alerts, want 1", len(second.Alerts))
	}
	a := second.Alerts[0]
	wantSteps := []Step{
		{Owner: "ml-platform", After: "30m", At: time.Date(2026, 3, 2, 2, 30, 0, 0, time.UTC)},
		{Owner: "head-of-ml", After: "1h", At: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(wantSteps, a.Escalation); diff != "" {
		t.Errorf("escalation (-want +got):\n%s", diff)
	}
	if a.Why != "value 0.35 > 0.25" {
		t.Errorf("Why = %q, want %q", a.Why, "value 0.35 > 0.25")
	}
}

func TestUnknownModel(t *testing.T) {
	cfg := example(t)
	_, err := NewDryRun(cfg).Route([]byte(`{"model":"credit-aproval","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z"}`))
	if err == nil || !strings.Contains(err.Error(), `did you mean "credit-approval"`) || !strings.Contains(err.Error(), "known models: churn-prediction") {
		t.Errorf("Route(unknown model) error = %v, want a suggestion and the known models", err)
	}
}
