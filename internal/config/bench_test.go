package config

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// loadFixture is a configuration of models × rules per model, with owners.
func loadFixture(models, rules int) fstest.MapFS {
	fsys := fstest.MapFS{
		"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team\"}\nescalation: [boss]\n")},
		"owners/boss.yaml": {Data: []byte("id: boss\nslack: {channel: C0BOSS0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/boss\"}\n")},
	}
	for m := range models {
		var b strings.Builder
		fmt.Fprintf(&b, "model: model-%d\nstakes: critical\nowners: {data: team, model: team, platform: team, product: team}\n", m)
		b.WriteString("business: {daily: 20000, cost: 900}\nexpect: [{kind: drift, every: 1d}]\nrules:\n")
		for r := range rules {
			switch r % 3 {
			case 0:
				fmt.Fprintf(&b, "  - name: psi-%d\n    when: kind == \"drift\" && metric == \"psi\" && feature == \"f%d\" && value > 0.25\n    for: 3\n    severity: high\n    owner: data\n    summary: \"PSI {{value}} on {{feature}}\"\n", r, r)
			case 1:
				fmt.Fprintf(&b, "  - name: acc-%d\n    when: kind == \"quality\" && metric == \"accuracy\" && baseline - value > 0.0%d\n    severity: critical\n    owner: model\n    impact: (baseline - value) * business.daily * business.cost\n", r, r%9+1)
			default:
				fmt.Fprintf(&b, "  - name: trend-%d\n    when: kind == \"quality\" && metric == \"auc\" && slope(7) < -0.00%d\n    severity: warning\n    owner: model\n", r, r%9+1)
			}
		}
		fsys[fmt.Sprintf("rules/model-%d.yaml", m)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	return fsys
}

// BenchmarkLoad: load and compile 200 models × 10 rules.
// Target: ≤ 100 ms per load (a Lambda cold start pays it once). Run with
// GOGC=400 as cmd/stakeout runs (see its main); the default GOGC costs ~30%.
func BenchmarkLoad(b *testing.B) {
	fsys := loadFixture(200, 10)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := LoadFS(fsys, ".")
		if err != nil || len(cfg.Models) != 200 || len(cfg.Errors()) > 0 {
			b.Fatalf("LoadFS: %v, %d models, errors %v", err, len(cfg.Models), cfg.Errors())
		}
	}
}

// BenchmarkWindowEnd: the end of a week-long window, found from its start
// (what every alert a window silences costs the router once).
// Target: ≤ 100 µs per End (a minute-by-minute scan took 10,080 checks).
func BenchmarkWindowEnd(b *testing.B) {
	w := &Maintenance{Name: "week", Interval: &timeinterval.TimeInterval{
		Times:    []timeinterval.TimeRange{{StartMinute: 0, EndMinute: 1440}},
		Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 0, End: 6}}},
		Months:   []timeinterval.MonthRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 3, End: 3}}},
	}}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if end := w.End(at); !end.Equal(at.Add(MaxMaintenance)) {
			b.Fatalf("End = %s, want a week on", end)
		}
	}
}

// BenchmarkNextWorkingStart: the start of the next working period from a
// Friday evening (the longest wait of a Monday-to-Friday week), what every
// alert held by outside_hours: hold costs the router once.
// Target: ≤ 100 µs per NextStart.
func BenchmarkNextWorkingStart(b *testing.B) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		b.Fatal(err)
	}
	w := &WorkingHours{Location: london, Times: []TimeRange{{Start: 9 * 60, End: 18 * 60}},
		Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}
	at := time.Date(2026, 6, 5, 17, 30, 0, 0, time.UTC) // Friday 18:30 in London
	want := time.Date(2026, 6, 8, 8, 0, 0, 0, time.UTC) // Monday 09:00 in London
	for b.Loop() {
		if got := w.NextStart(at); !got.Equal(want) {
			b.Fatalf("NextStart = %s, want %s", got, want)
		}
	}
}
