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
