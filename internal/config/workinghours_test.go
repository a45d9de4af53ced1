package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func londonOffice(t *testing.T) *WorkingHours {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return &WorkingHours{Location: loc,
		Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Times:    []TimeRange{{9 * 60, 18 * 60}}}
}

func TestNextStartIsTheStartOfTheNextWorkingPeriod(t *testing.T) {
	w := londonOffice(t)
	for _, tc := range []struct{ at, want string }{
		// 03:00 on a Tuesday in London (summer time, UTC+1): 09:00 BST.
		{"2026-06-02T02:00:00Z", "2026-06-02T08:00:00Z"},
		// Within hours: now.
		{"2026-06-02T10:30:00Z", "2026-06-02T10:30:00Z"},
		// The end is exclusive: 18:00 is the next morning.
		{"2026-06-02T17:00:00Z", "2026-06-03T08:00:00Z"},
		// Friday evening: Monday morning.
		{"2026-06-05T19:00:00Z", "2026-06-08T08:00:00Z"},
		// Winter (GMT): 09:00 is 09:00Z.
		{"2026-01-13T03:00:00Z", "2026-01-13T09:00:00Z"},
		// The Saturday night the clocks go back (25 Oct 2026): Monday 09:00 GMT.
		{"2026-10-24T23:30:00Z", "2026-10-26T09:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := w.NextStart(at); !got.Equal(want) {
			t.Errorf("NextStart(%s) = %s, want %s", tc.at, got.UTC().Format(time.RFC3339), tc.want)
		}
		if in := w.Within(at); in != at.Equal(want) {
			t.Errorf("Within(%s) = %v", tc.at, in)
		}
	}
}

func TestNextStartWithSeveralRangesAndEveryDay(t *testing.T) {
	w := &WorkingHours{Location: time.UTC, Times: []TimeRange{{0, 6 * 60}, {22 * 60, 24 * 60}}}
	for _, tc := range []struct{ at, want string }{
		{"2026-06-06T05:59:00Z", "2026-06-06T05:59:00Z"},
		{"2026-06-06T06:00:00Z", "2026-06-06T22:00:00Z"},
		{"2026-06-06T23:00:00Z", "2026-06-06T23:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := w.NextStart(at); !got.Equal(want) {
			t.Errorf("NextStart(%s) = %s, want %s", tc.at, got.UTC().Format(time.RFC3339), tc.want)
		}
	}
}

func TestWorkingHoursDecode(t *testing.T) {
	cfg := loadHours(t, `id: team
name: The team
timezone: Europe/London
slack: {channel: C0TEAM0001}
pagerduty: {routing_key: secret:stakeout/pagerduty/team}
working_hours:
  weekdays: [monday:thursday, friday]
  times: ["13:00-18:00", "09:00-12:30"]
`, "")
	for _, p := range cfg.Problems {
		if !p.Warning {
			t.Errorf("problem: %s", p)
		}
	}
	w := cfg.Owners["team"].WorkingHours
	if w == nil {
		t.Fatal("no working hours")
	}
	if w.Location.String() != "Europe/London" {
		t.Errorf("location = %s, want the owner's timezone", w.Location)
	}
	if want := []time.Weekday{1, 2, 3, 4, 5}; !slices.Equal(w.Weekdays, want) {
		t.Errorf("weekdays = %v, want %v", w.Weekdays, want)
	}
	if want := []TimeRange{{540, 750}, {780, 1080}}; !slices.Equal(w.Times, want) {
		t.Errorf("times = %v, want %v (sorted)", w.Times, want)
	}
}

func TestOutsideHoursRouting(t *testing.T) {
	for _, tc := range []struct {
		outside string
		notify  []string
		want    []string
		hold    bool
	}{
		{"", []string{"slack", "pagerduty"}, []string{"slack", "pagerduty"}, false},
		{OutsidePage, []string{"slack"}, []string{"slack", "pagerduty"}, false},
		{OutsideSlack, []string{"slack", "pagerduty"}, []string{"slack"}, false},
		{OutsideSlack, []string{"pagerduty"}, []string{"slack"}, false},
		{OutsideHold, []string{"slack"}, []string{"slack"}, true},
	} {
		got, hold := Policy{Notify: tc.notify, OutsideHours: tc.outside}.OutsideHoursRouting()
		if !slices.Equal(got, tc.want) || hold != tc.hold {
			t.Errorf("%q on %v: %v hold=%v, want %v hold=%v", tc.outside, tc.notify, got, hold, tc.want, tc.hold)
		}
	}
}

// Every mistake in working_hours or outside_hours is reported at its line,
// saying what is wrong.
func TestWorkingHoursProblems(t *testing.T) {
	for _, tc := range []struct{ name, owner, stakes, want string }{
		{"bad zone", "working_hours: {location: Europe/Londres}", "",
			`owners/team.yaml:6:27: working_hours.location: unknown time zone "Europe/Londres"`},
		{"no zone", "working_hours: {times: [\"09:00-18:00\"]}", "",
			"owners/team.yaml:6:16: working_hours needs a location (an IANA zone like Europe/London), or the owner a timezone"},
		{"bad weekday", "working_hours: {location: UTC, weekdays: [mon]}", "",
			`owners/team.yaml:6:43: working_hours.weekdays: "mon" is not a day of the week or a range like monday:friday`},
		{"backwards weekdays", "working_hours: {location: UTC, weekdays: [\"friday:monday\"]}", "",
			`"friday:monday" runs backwards`},
		{"empty weekdays", "working_hours: {location: UTC, weekdays: []}", "",
			"working_hours.weekdays is empty: the owner would never be at work"},
		{"bad time", "working_hours: {location: UTC, times: [\"9-18\"]}", "",
			`working_hours.times: "9-18": "9" is not a time of day like 09:00`},
		{"over midnight", "working_hours: {location: UTC, times: [\"22:00-06:00\"]}", "",
			`"22:00-06:00" ends before it starts (a range over midnight is two entries`},
		{"not a range", "working_hours: {location: UTC, times: [\"09:00\"]}", "",
			`"09:00" is not a range of times like 09:00-18:00`},
		{"unknown field", "working_hours: {location: UTC, days: [monday]}", "",
			`unknown field "days"`},
		{"bad outside_hours", "", "    high: {notify: [slack], ack_within: 1h, outside_hours: sms}\n",
			`rules/stakes.yaml:3:60: unknown critical.high.outside_hours "sms"`},
		{"outside_hours on digest", "", "    high: {notify: [slack], ack_within: 1h}\n    info: {notify: [digest], outside_hours: hold}\n",
			"critical.info: outside_hours has no effect on a digest-only cell"},
		{"page without key", "working_hours: {location: UTC}", "    high: {notify: [slack], ack_within: 1h, outside_hours: page}\n",
			`rule "psi-high" pages outside working hours: it notifies owner "team" on PagerDuty (stakes critical × severity high outside_hours: page) but owners/team.yaml has no pagerduty.routing_key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner := "id: team\nname: The team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: secret:stakeout/pagerduty/team}\nescalation: []\n" + tc.owner + "\n"
			if tc.name == "page without key" {
				owner = strings.Replace(owner, "pagerduty: {routing_key: secret:stakeout/pagerduty/team}\n", "", 1)
			}
			cfg := loadHours(t, owner, tc.stakes)
			var got []string
			for _, p := range cfg.Problems {
				got = append(got, p.String())
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// loadHours loads one owner, team, and a model whose psi-high rule (high)
// it owns, with stakes cells (under critical:) when stakes is not empty.
func loadHours(t *testing.T, owner, stakes string) *Config {
	t.Helper()
	fsys := fstest.MapFS{
		"owners/team.yaml": {Data: []byte(owner)},
		"rules/model-a.yaml": {Data: []byte(`model: model-a
stakes: critical
owners: {data: team, model: team, platform: team, product: team}
rules:
  - name: psi-high
    when: kind == "drift" && metric == "psi" && value > 0.2
    severity: high
    owner: data
`)},
	}
	if stakes != "" {
		fsys["rules/stakes.yaml"] = &fstest.MapFile{Data: []byte("critical:\n  # cells\n" + stakes)}
	}
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The schemas accept the working-hours example configuration and reject
// what validate rejects as the user types it.
func TestSchemasCheckWorkingHours(t *testing.T) {
	owners, stakes := compileSchema(t, "owners.schema.json"), compileSchema(t, "stakes.schema.json")
	if err := owners.Validate(yamlValue(t, "../../testdata/working-hours/owners/credit-ds.yaml")); err != nil {
		t.Errorf("example owner: %v", err)
	}
	if err := stakes.Validate(yamlValue(t, "../../testdata/working-hours/rules/stakes.yaml")); err != nil {
		t.Errorf("example stakes: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		schema, yaml string
	}{
		{"owners", "id: team\nworking_hours: {times: [\"22:00-6:00\"]}\n"},
		{"owners", "id: team\nworking_hours: {weekdays: [mon]}\n"},
		{"owners", "id: team\nworking_hours: {days: [monday]}\n"},
		{"stakes", "critical:\n  high: {notify: [slack], ack_within: 1h, outside_hours: sms}\n"},
	} {
		path := dir + "/x.yaml"
		if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		s := owners
		if tc.schema == "stakes" {
			s = stakes
		}
		if s.Validate(yamlValue(t, path)) == nil {
			t.Errorf("%s schema accepts %q, want it rejected", tc.schema, tc.yaml)
		}
	}
}

// The README's working-hours examples load, with the example owners, and
// mean what the README says.
func TestReadmeWorkingHoursExamplesValidate(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "### Working hours: `working_hours` and `outside_hours`")
	if !ok {
		t.Fatal("README has no working hours section")
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(sec, 2)
	if len(blocks) != 2 {
		t.Fatalf("working hours section has %d yaml blocks, want the owner's and the stakes'", len(blocks))
	}
	owner := "id: team\nname: The team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: secret:stakeout/pagerduty/team}\n" + blocks[0][1]
	fsys := fstest.MapFS{"owners/team.yaml": {Data: []byte(owner)}, "rules/stakes.yaml": {Data: []byte(blocks[1][1])}}
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Problems {
		t.Errorf("README example: %s", p)
	}
	w := cfg.Owners["team"].WorkingHours
	if w == nil || w.Location.String() != "Europe/London" || len(w.Weekdays) != 5 || len(w.Times) != 1 {
		t.Fatalf("working hours = %+v, want London, five days, one range", w)
	}
	if got := cfg.Stakes["critical"]["warning"].OutsideHours; got != OutsideHold {
		t.Errorf("critical.warning outside_hours = %q, want hold", got)
	}
}

// Working hours are an Alertmanager time interval: on the night the clocks
// go forward past the start of the working day, work starts at the first
// wall-clock minute inside the hours (02:00 BST for hours from 01:30), as
// Alertmanager would say, not an hour after the start that never was.
func TestNextStartWhenSummerTimeSkipsTheStart(t *testing.T) {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	w := &WorkingHours{Location: loc, Times: []TimeRange{{90, 18 * 60}}}
	// Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST.
	at := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	want := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	if got := w.NextStart(at); !got.Equal(want) {
		t.Errorf("NextStart(%s) = %s, want %s (02:00 BST)", at.Format(time.RFC3339), got.UTC().Format(time.RFC3339), want.Format(time.RFC3339))
	}
	if !w.Interval().ContainsTime(want) || w.Within(want.Add(-time.Minute)) {
		t.Errorf("the interval and Within disagree with NextStart at %s", want.Format(time.RFC3339))
	}
}
