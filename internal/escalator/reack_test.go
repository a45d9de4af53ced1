package escalator_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

const reackModel = `model: m
stakes: critical
owners: {data: team-a, model: team-a, platform: team-a, product: team-a}
rules:
  - name: acc
    when: kind == "quality" && value < 0.8
    severity: critical
    owner: model
`

const reackStakes = `critical:
  critical: {notify: [slack, pagerduty], ack_within: 15m%s}
  high: {notify: [slack, pagerduty], ack_within: 30m}
  warning: {notify: [slack], ack_within: 4h}
  info: {notify: [digest]}
high: {critical: {notify: [digest]}, high: {notify: [digest]}, warning: {notify: [digest]}, info: {notify: [digest]}}
medium: {critical: {notify: [digest]}, high: {notify: [digest]}, warning: {notify: [digest]}, info: {notify: [digest]}}
low: {critical: {notify: [digest]}, high: {notify: [digest]}, warning: {notify: [digest]}, info: {notify: [digest]}}
`

// reackWorld is a model whose critical alert pages, on an embedded store
// with a clock the test moves.
type reackWorld struct {
	t     *testing.T
	now   time.Time
	st    *memstore.Store
	p     *pipeline.Processor
	e     *escalator.Escalator
	m     *lifecycle.Manager
	group string
}

func newReackWorld(t *testing.T, cell string) *reackWorld {
	t.Helper()
	return reackWorldFrom(t, cell, "", time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC))
}

// reackWorldFrom is a reackWorld whose critical cell adds cell, whose
// owner's file adds owner, and whose alert opens at start.
func reackWorldFrom(t *testing.T, cell, owner string, start time.Time) *reackWorld {
	t.Helper()
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml":       {Data: []byte(reackModel)},
		"rules/stakes.yaml":  {Data: []byte(fmt.Sprintf(reackStakes, cell))},
		"owners/team-a.yaml": {Data: []byte("id: team-a\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team-a\"}\n" + owner)},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	w := &reackWorld{t: t, now: start}
	clock := func() time.Time { return w.now }
	w.st = memstore.New(clock)
	w.p = &pipeline.Processor{Config: cfg, Store: w.st, Now: clock}
	w.e = &escalator.Escalator{Config: cfg, Store: w.st, Now: clock}
	w.m = &lifecycle.Manager{Config: cfg, Store: w.st, Now: clock}
	if _, err := w.p.ProcessEvent(context.Background(), "ev-1", signal.Event{Model: "m", Kind: "quality", Metric: "accuracy",
		Value: 0.7, ObservedAt: w.now}); err != nil {
		t.Fatal(err)
	}
	w.group = w.get().ID
	return w
}

func (w *reackWorld) get() *state.Group {
	w.t.Helper()
	g, err := w.st.GetGroup(context.Background(), "m", "acc")
	if err != nil || g == nil {
		w.t.Fatalf("group: %v %v", g, err)
	}
	return g
}

func (w *reackWorld) apply(c lifecycle.Change) {
	w.t.Helper()
	c.Group = w.group
	if res, err := w.m.Apply(context.Background(), c); err != nil || !res.Done {
		w.t.Fatalf("%s: %+v %v", c.Action, res, err)
	}
}

func (w *reackWorld) tick(after time.Duration) escalator.Report {
	w.t.Helper()
	w.now = w.now.Add(after)
	rep, err := w.e.Tick(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

var acker = lifecycle.Actor{ID: "slack:U0ACKER001", Name: "Ada"}

// An acknowledged alert still open reack_after (the critical tier's
// default, 4h) after its acknowledgement asks its acknowledger again,
// once; nobody acknowledging within ack_within then escalates it.
func TestAcknowledgedGroupStillOpenAfterReackAfterAsksAgainThenEscalates(t *testing.T) {
	w := newReackWorld(t, "")
	if g := w.get(); g.ReackAfter != "4h" {
		t.Fatalf("reack_after = %q, want the critical tier's default 4h", g.ReackAfter)
	}
	w.now = w.now.Add(5 * time.Minute)
	w.apply(lifecycle.Change{Action: lifecycle.Acknowledge, By: acker})
	acked := w.now
	if rep := w.tick(4*time.Hour - time.Minute); rep.Reacked != 0 || rep.Escalated != 0 {
		t.Fatalf("a minute before reack_after: %+v, want nothing", rep)
	}
	rep := w.tick(time.Minute)
	if rep.Reacked != 1 || len(rep.Queued) != 1 {
		t.Fatalf("at reack_after: %+v, want one group asked again", rep)
	}
	n, err := w.st.GetNotice(context.Background(), rep.Queued[0])
	if err != nil || n == nil {
		t.Fatal(n, err)
	}
	if n.Kind != state.NoticeStillOpen || n.Lifecycle.Reacked != acker.ID || !slices.Contains(n.Channels, "pagerduty") {
		t.Errorf("notification %s kind %s reacked %q channels %v; want still-open asking %s on slack and pagerduty",
			n.ID, n.Kind, n.Lifecycle.Reacked, n.Channels, acker.ID)
	}
	g := w.get()
	if g.Acked() || !g.EscalateAt.Equal(acked.Add(4*time.Hour+15*time.Minute)) {
		t.Errorf("after asking: acked by %q, escalates at %v; want unacknowledged, escalating 15m later", g.AckedBy, g.EscalateAt)
	}
	recs, _ := w.st.AlertRecords(context.Background(), "m/acc")
	if !slices.ContainsFunc(recs, func(r audit.Record) bool {
		return r.Action == audit.Reacked && r.Actor == "escalator" && r.Detail == "still open 4h after Ada (slack:U0ACKER001) acknowledged it: asked again; escalates in 15m unless acknowledged"
	}) {
		t.Errorf("no reacked record on the alert's trail: %+v", recs)
	}
	if rep := w.tick(0); rep.Reacked != 0 || len(rep.Queued) != 0 {
		t.Errorf("a second run at the same time: %+v, want nothing (asked once)", rep)
	}
	if rep := w.tick(15 * time.Minute); rep.Escalated != 1 {
		t.Errorf("ack_within after asking, nobody acknowledged: %+v, want escalated", rep)
	}
}

// Snooze keeps its meaning: a snoozed group is not asked again at
// reack_after; it comes back when the snooze ends, as before.
func TestSnoozedGroupIsNotAskedAgainBeforeItsSnoozeEnds(t *testing.T) {
	w := newReackWorld(t, "")
	w.apply(lifecycle.Change{Action: lifecycle.Acknowledge, By: acker})
	w.apply(lifecycle.Change{Action: lifecycle.Snooze, By: acker, Until: w.now.Add(24 * time.Hour)})
	if rep := w.tick(4 * time.Hour); rep.Reacked != 0 || rep.SnoozesEnded != 0 {
		t.Errorf("4h into a 24h snooze: %+v, want nothing", rep)
	}
	if rep := w.tick(20 * time.Hour); rep.SnoozesEnded != 1 || rep.Reacked != 0 {
		t.Errorf("at the snooze's end: %+v, want the snooze ended", rep)
	}
}

// A cell with reack_after: off leaves an acknowledged group alone; one
// with its own reack_after uses it.
func TestReackAfterOffOrSetInTheStakesCell(t *testing.T) {
	w := newReackWorld(t, ", reack_after: off")
	w.apply(lifecycle.Change{Action: lifecycle.Acknowledge, By: acker})
	if g := w.get(); !g.Due().IsZero() {
		t.Errorf("acknowledged with reack_after off: due %v, want never", g.Due())
	}
	w = newReackWorld(t, ", reack_after: 1h")
	w.apply(lifecycle.Change{Action: lifecycle.Acknowledge, By: acker})
	if rep := w.tick(time.Hour); rep.Reacked != 1 {
		t.Errorf("reack_after 1h, an hour on: %+v, want asked again", rep)
	}
}

// A reminder falls due outside its owner's working hours: it is routed by
// the cell's outside_hours at the time it is sent, as an opening or a raise
// then would be — on Slack without a page (slack), or held to the start of
// the next working period, escalating ack_within after that (hold) — though
// the group opened, and was acknowledged, in hours.
func TestReminderOutsideWorkingHoursFollowsOutsideHours(t *testing.T) {
	monday := time.Date(2026, 3, 9, 16, 0, 0, 0, time.UTC) // in hours, 09:00-18:00 UTC
	hours := "working_hours: {location: UTC, weekdays: [\"monday:friday\"], times: [\"09:00-18:00\"]}\n"
	tuesday := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		outside  string
		channels []string
		hold     time.Time
		escalate time.Time
		repages  int // a new PagerDuty incident only when the reminder triggers one
	}{
		{"slack", []string{"slack"}, time.Time{}, monday.Add(2*time.Hour + 5*time.Minute + 15*time.Minute), 0},
		{"hold", []string{"slack", "pagerduty"}, tuesday, tuesday.Add(15 * time.Minute), 1},
	} {
		t.Run(tc.outside, func(t *testing.T) {
			w := reackWorldFrom(t, ", reack_after: 2h, outside_hours: "+tc.outside, hours, monday)
			a, _ := w.st.GetAlert(context.Background(), "m/acc")
			if a == nil || !slices.Equal(a.Notify, []string{"slack", "pagerduty"}) {
				t.Fatalf("opened in hours: %+v, want told on slack and pagerduty", a)
			}
			w.now = w.now.Add(5 * time.Minute)
			w.apply(lifecycle.Change{Action: lifecycle.Acknowledge, By: acker})
			rep := w.tick(2 * time.Hour) // 18:05: outside hours
			if rep.Reacked != 1 || len(rep.Queued) != 1 {
				t.Fatalf("at reack_after: %+v, want one group asked again", rep)
			}
			n, err := w.st.GetNotice(context.Background(), rep.Queued[0])
			if err != nil || n == nil {
				t.Fatal(n, err)
			}
			if !slices.Equal(n.Channels, tc.channels) || !n.Hold.Equal(tc.hold) {
				t.Errorf("reminder at 18:05 via %v held until %v, want via %v held until %v (outside_hours: %s)", n.Channels, n.Hold, tc.channels, tc.hold, tc.outside)
			}
			if g := w.get(); !g.EscalateAt.Equal(tc.escalate) || g.Repages != tc.repages {
				t.Errorf("escalates at %v, repages %d; want %v, %d (a Slack-only reminder leaves the acknowledged incident the live one)", g.EscalateAt, g.Repages, tc.escalate, tc.repages)
			}
			recs, _ := w.st.AlertRecords(context.Background(), "m/acc")
			if !slices.ContainsFunc(recs, func(r audit.Record) bool {
				return r.Action == audit.Reacked && strings.Contains(r.Detail, "outside team-a's working hours")
			}) {
				t.Errorf("no reacked record saying it was sent outside working hours: %+v", recs)
			}
		})
	}
}
