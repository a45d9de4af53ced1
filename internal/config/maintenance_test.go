package config

import (
	"os"
	"regexp"
	"testing"
	"testing/fstest"
	"time"
)

// maintenanceModel is a model with the rules the README's example names,
// and the given maintenance block.
func maintenanceModel(t *testing.T, maintenance string) *Model {
	t.Helper()
	model := `model: m
stakes: low
owners: {data: team, model: team, platform: team, product: team}
expect: [{kind: drift, every: 1d}]
rules:
  - {name: feature-drift, when: 'kind == "drift" && value > 0.2', severity: warning, owner: model}
  - {name: schema-break, when: 'kind == "schema" && value > 0', severity: high, owner: data}
` + maintenance
	cfg, err := LoadFSAt(fstest.MapFS{
		"rules/m.yaml":     {Data: []byte(model)},
		"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\n")},
	}, ".", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Problems {
		t.Errorf("problem: %s", p)
	}
	if cfg.Models["m"] == nil {
		t.Fatalf("model did not load")
	}
	return cfg.Models["m"]
}

// The README's maintenance example loads as written.
func TestReadmeMaintenanceExampleValidates(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)### Maintenance windows \\(`maintenance:`\\).*?```yaml\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README has no maintenance example")
	}
	m := maintenanceModel(t, string(block[1]))
	if len(m.Maintenance) != 2 {
		t.Errorf("%d windows loaded, want 2", len(m.Maintenance))
	}
}

// A recurring window is evaluated in its zone, across a change of
// daylight saving time, and ends at the first minute it does not contain;
// a one-off window ends at until; rules it does not name are not silenced.
func TestWindowTimes(t *testing.T) {
	m := maintenanceModel(t, `maintenance:
  - name: sunday-retrain
    times: ["01:00-05:00"]
    weekdays: [sunday]
    location: Europe/Berlin
    rules: [feature-drift]
  - name: migration
    from: 2099-06-01T08:00:00Z
    until: 2099-06-01T12:00:00Z
`)
	drift, schema := m.Rules[0], m.Rules[1]
	for _, tc := range []struct {
		name   string
		rule   *Rule
		at     time.Time
		window string
		until  time.Time
	}{
		{"winter Sunday 01:30 Berlin", drift, time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC), "sunday-retrain", time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)},
		{"summer Sunday 01:30 Berlin", drift, time.Date(2026, 4, 5, 23, 30, 0, 0, time.UTC).AddDate(0, 0, -1), "sunday-retrain", time.Date(2026, 4, 5, 3, 0, 0, 0, time.UTC)},
		{"winter Sunday 05:00 Berlin, the end excluded", drift, time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC), "", time.Time{}},
		{"Saturday", drift, time.Date(2026, 2, 28, 1, 30, 0, 0, time.UTC), "", time.Time{}},
		{"a rule the window does not name", schema, time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC), "", time.Time{}},
		{"one-off, every rule", schema, time.Date(2099, 6, 1, 9, 0, 0, 0, time.UTC), "migration", time.Date(2099, 6, 1, 12, 0, 0, 0, time.UTC)},
		{"one-off, its end excluded", schema, time.Date(2099, 6, 1, 12, 0, 0, 0, time.UTC), "", time.Time{}},
		{"rule errors are never silenced", drift.ErrorRule(), time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC), "", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, until := m.Silenced(tc.rule, tc.at)
			name := ""
			if w != nil {
				name = w.Name
			}
			if name != tc.window || !until.Equal(tc.until) {
				t.Errorf("Silenced(%s, %s) = %q until %s, want %q until %s", tc.rule.Name, tc.at, name, until, tc.window, tc.until)
			}
		})
	}
}

// endByMinute is End as it was first written, one check per minute: the
// reference the faster End must agree with.
func endByMinute(w *Maintenance, t time.Time) time.Time {
	limit := MaxMaintenance
	if w.Long {
		limit = maxLongMaintenance
	}
	start := t.UTC().Truncate(time.Minute)
	for step := time.Minute; step <= limit; step += time.Minute {
		if !w.Interval.ContainsTime(start.Add(step)) {
			return start.Add(step)
		}
	}
	return start.Add(limit)
}

// End, which checks only the minutes where a window may change (its
// times' boundaries, local midnights, minute by minute across a summer
// time change), finds the same end as a check of every minute, for
// windows with gaps of minutes, in a zone with summer time, over midnight,
// and long ones, from every quarter of an hour they cover in a week.
func TestWindowEndMatchesAMinuteByMinuteScan(t *testing.T) {
	m := maintenanceModel(t, `maintenance:
  - name: gaps
    times: ["01:00-01:30", "01:31-01:45", "01:50-03:00"]
  - name: berlin-nights
    times: ["22:00-24:00", "00:00-03:30"]
    location: Europe/Berlin
  - name: weekend
    weekdays: [saturday, sunday]
  - name: month-end
    days_of_month: ["-3:-1"]
    times: ["00:00-12:00", "12:00-24:00"]
    location: America/New_York
  - name: december
    months: [december]
    long: true
`)
	froms := []time.Time{
		time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC),  // Berlin's summer time begins on the 29th
		time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), // and ends on the 25th
		time.Date(2026, 1, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
	}
	checked := 0
	for _, w := range m.Maintenance {
		for _, from := range froms {
			for at := from; at.Before(from.Add(7 * 24 * time.Hour)); at = at.Add(15*time.Minute + 7*time.Second) {
				if !w.Active(at) {
					continue
				}
				checked++
				if got, want := w.End(at), endByMinute(w, at); !got.Equal(want) {
					t.Fatalf("%s from %s: End %s, minute scan %s", w.Name, at.Format(time.RFC3339), got.Format(time.RFC3339), want.Format(time.RFC3339))
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d instants inside the windows checked", checked)
	}
}
