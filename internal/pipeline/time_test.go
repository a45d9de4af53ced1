package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// detail is a bare native detail of series m/drift/psi/income at a time
// given as RFC 3339, with extra fields appended.
func detail(value float64, at, extra string) []byte {
	return []byte(fmt.Sprintf(`{"model":"m","kind":"drift","metric":"psi","feature":"income","value":%v,"observed_at":%q%s}`, value, at, extra))
}

func openAlerts(t *testing.T, st *memstore.Store) int {
	t.Helper()
	alerts, err := st.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(alerts)
}

// observed_at 0001-01-01 is quarantined, naming the field, whether the
// series is new (it used to open an alert dated year 1) or has readings
// (it used to be dropped silently as late), in the router and in replay.
func TestTimeBefore2000IsQuarantined(t *testing.T) {
	for _, tc := range []struct {
		name   string
		now    func() time.Time
		before bool // a reading of the series first
	}{
		{"router, new series", func() time.Time { return t0 }, false},
		{"router, known series", func() time.Time { return t0 }, true},
		{"replay, new series", nil, false},
		{"replay, known series", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New(func() time.Time { return t0 })
			p := &Processor{Config: testConfig(t), Store: st, Now: tc.now}
			if tc.before {
				process(t, p, detail(0.1, "2026-02-28T00:00:00Z", ""))
			}
			for _, raw := range [][]byte{
				detail(0.9, "0001-01-01T00:00:00Z", ""),
				detail(0.9, "2026-02-28T12:00:00Z", `,"window_start":"1970-01-01T00:00:00Z"`),
			} {
				out := process(t, p, raw)
				if !strings.Contains(out.Quarantined, "before 2000-01-01") || !strings.Contains(out.Quarantined, `field "`) {
					t.Errorf("Process(%s): Quarantined = %q, want the field named and 'before 2000-01-01'", raw, out.Quarantined)
				}
			}
			if n := openAlerts(t, st); n != 0 {
				t.Errorf("%d alerts opened, want none", n)
			}
			if q, _ := st.Quarantined(context.Background()); len(q) != 2 {
				t.Errorf("%d events quarantined, want 2", len(q))
			}
		})
	}
}

// Replay takes its time from the events, so "the future" is the wall
// clock's: no monitor measured anything after the replay runs. Rule tests
// (neither clock) keep their own timelines.
func TestReplayFutureIsTheWallClocks(t *testing.T) {
	wall := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	st := memstore.New(func() time.Time { return time.Time{} })
	p := &Processor{Config: testConfig(t), Store: st, Wall: func() time.Time { return wall }}
	for _, tc := range []struct{ raw, want string }{
		{string(detail(0.9, "2026-03-01T02:00:00Z", "")), `field "observed_at": 2026-03-01T02:00:00Z is 2h in the future`},
		{string(detail(0.9, "2026-02-28T00:00:00Z", `,"window_end":"2026-03-02T00:00:00Z"`)), `field "window_end": 2026-03-02T00:00:00Z is 1d in the future`},
		{string(detail(0.9, "2026-03-01T00:30:00Z", "")), ""},
	} {
		if out := process(t, p, []byte(tc.raw)); out.Quarantined != tc.want && !strings.HasPrefix(out.Quarantined, tc.want) || tc.want == "" && out.Quarantined != "" {
			t.Errorf("Process(%s): Quarantined = %q, want %q", tc.raw, out.Quarantined, tc.want)
		}
	}
	tests := &Processor{Config: testConfig(t), Store: memstore.New(func() time.Time { return time.Time{} })}
	if out := process(t, tests, detail(0.9, "2999-01-01T00:00:00Z", "")); out.Quarantined != "" || len(out.Changes) != 1 {
		t.Errorf("with no clock at all: %+v, want the event applied", out)
	}
}

// The router's future bound covers the window too.
func TestRouterRefusesAWindowInTheFuture(t *testing.T) {
	p, _ := newProcessor(t) // now is t0 + 24h
	out := process(t, p, detail(0.9, "2026-03-01T00:00:00Z", `,"window_start":"2026-03-01T00:00:00Z","window_end":"2026-03-03T00:00:00Z"`))
	if !strings.HasPrefix(out.Quarantined, `field "window_end"`) || !strings.Contains(out.Quarantined, "in the future") {
		t.Errorf("Quarantined = %q, want window_end in the future", out.Quarantined)
	}
}

const historyModel = `model: m
stakes: critical
owners: {data: data-team, model: ds-team, platform: data-team, product: ds-team}
expect: [{kind: drift, every: 1d}]
rules:
  - name: psi-trend
    when: kind == "drift" && mean(last(3)) > 0.25
    severity: high
    owner: model
`

// A late reading is never silent: the outcome says why it is late. One
// within the series' window enters its history (last(n) sees it) and
// opens nothing; one older than the window, or on a series that keeps no
// history, changes nothing and is not written.
func TestLateReadingsAreReported(t *testing.T) {
	at := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	t.Run("within the window", func(t *testing.T) {
		st := memstore.New(func() time.Time { return t0 })
		p := &Processor{Config: configFrom(t, historyModel), Store: st}
		process(t, p, detail(0.1, at(2), ""))
		out := process(t, p, detail(0.9, at(1), ""))
		if !strings.Contains(out.Late, "late: observed_at "+at(1)+" is no newer than the series' latest reading "+at(2)) || len(out.Changes) != 0 || !out.Wrote {
			t.Errorf("outcome %+v, want Late explained, no change, the history written", out)
		}
		s, _ := st.GetSeries(context.Background(), signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: "income"})
		if s.State.Len() != 2 {
			t.Errorf("history holds %d readings, want 2", s.State.Len())
		}
	})
	t.Run("older than the window", func(t *testing.T) {
		st := &countingStore{Store: memstore.New(func() time.Time { return t0 })}
		p := &Processor{Config: configFrom(t, historyModel), Store: st}
		for h := 10; h < 13; h++ {
			process(t, p, detail(0.1, at(h), ""))
		}
		commits := st.commits.Load()
		out := process(t, p, detail(0.9, at(1), ""))
		if !strings.Contains(out.Late, "older than every reading the series keeps (the oldest is "+at(10)+", the latest "+at(12)+")") || out.Wrote || st.commits.Load() != commits {
			t.Errorf("outcome %+v (commits %d → %d), want Late explained and nothing written", out, commits, st.commits.Load())
		}
	})
	t.Run("no history", func(t *testing.T) {
		p, st := newProcessor(t) // its rules keep no history
		process(t, p, event("e1", "drift", "psi", "income", 0.9, 2*time.Hour))
		commits := st.commits.Load()
		out := process(t, p, event("e2", "drift", "psi", "income", 0.9, time.Hour))
		if !strings.Contains(out.Late, "the model's rules keep no history") || out.Wrote || st.commits.Load() != commits {
			t.Errorf("outcome %+v, want Late explained and nothing written", out)
		}
	})
	t.Run("on time", func(t *testing.T) {
		p, _ := newProcessor(t)
		if out := process(t, p, event("e1", "drift", "psi", "income", 0.9, time.Hour)); out.Late != "" {
			t.Errorf("Late = %q for an on-time reading", out.Late)
		}
	})
}
