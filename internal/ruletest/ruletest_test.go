package ruletest

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

func loadModel(t *testing.T, rules string) (*config.Config, *config.Model) {
	t.Helper()
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml": {Data: []byte("model: m\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\n" +
			"expect: [{kind: drift, every: 1d}]\nrules:\n" + rules)},
		"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\n")},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("load: %v %v", err, cfg.Errors())
	}
	return cfg, cfg.Models["m"]
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func ev(metric string, v float64, h int) signal.Event {
	return signal.Event{Model: "m", Kind: "drift", Metric: metric, Feature: "income", Value: v, ObservedAt: t0.Add(time.Duration(h) * time.Hour)}
}

func TestOpen(t *testing.T) {
	cfg, m := loadModel(t, "  - {name: any-drift, when: 'kind == \"drift\" && value > 0.2', severity: high, owner: data}\n")
	for _, tc := range []struct {
		name   string
		events []signal.Event
		want   int
	}{
		{"a breach opens", []signal.Event{ev("psi", 0.3, 0)}, 1},
		{"a clean reading of the same series resolves", []signal.Event{ev("psi", 0.3, 0), ev("psi", 0.1, 1)}, 0},
		// The alert is model+rule+feature+segment, but only the series that
		// breached can say it is over.
		{"a clean reading of another metric does not resolve", []signal.Event{ev("psi", 0.3, 0), ev("ks", 0.1, 1)}, 1},
		{"a late clean reading does not resolve", []signal.Event{ev("psi", 0.3, 2), ev("psi", 0.1, 1)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(cfg, m, tc.events)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("Open = %v, want %d open", got, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	want := []config.ExpectedAlert{{Rule: "a", Severity: "high", Owner: "team"}}
	got := []config.ExpectedAlert{{Rule: "a", Severity: "critical", Owner: "team"}}
	diff := Diff(want, got)
	if !strings.Contains(diff, "  - {rule: a, severity: high, owner: team}") || !strings.Contains(diff, "  + {rule: a, severity: critical, owner: team}") {
		t.Errorf("Diff =\n%s\nwant a - line for the expected alert and a + line for the open one", diff)
	}
	if d := Diff(want, want); d != "" {
		t.Errorf("Diff of equal lists = %q, want empty", d)
	}
}
