package pipeline

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
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

const growModel = `model: m
stakes: critical
owners: {data: data-team, model: ds-team, platform: data-team, product: ds-team}
rules:
  - name: psi
    when: kind == "drift" && metric == "psi" && value > 0.25
    severity: %s
    owner: model
    escalate_when: %s
`

// growWorld drifts features of model m one a minute, the clock following.
type growWorld struct {
	t   *testing.T
	now time.Time
	st  *memstore.Store
	p   *Processor
}

func newGrowWorld(t *testing.T, severity, when string) *growWorld {
	w := &growWorld{t: t, now: t0}
	clock := func() time.Time { return w.now }
	w.st = memstore.New(clock)
	w.p = &Processor{Config: configFrom(t, fmt.Sprintf(growModel, severity, when)), Store: w.st, Now: clock}
	return w
}

func (w *growWorld) drift(from, to int) {
	w.t.Helper()
	for i := from; i < to; i++ {
		w.now = t0.Add(time.Duration(i) * time.Minute)
		process(w.t, w.p, event(fmt.Sprintf("e%d", i), "drift", "psi", fmt.Sprintf("f%02d", i), 0.4, time.Duration(i)*time.Minute))
	}
}

// raised are the group's raised notifications, in order.
func (w *growWorld) raised() []*state.Notification {
	pending, _ := w.st.Pending(context.Background(), farFuture, 1000)
	var out []*state.Notification
	for _, n := range pending {
		if n.Kind == state.NoticeRaised {
			out = append(out, n)
		}
	}
	return out
}

func (w *growWorld) group() *state.Group {
	g, err := w.st.GetGroup(context.Background(), "m", "psi")
	if err != nil || g == nil {
		w.t.Fatal(g, err)
	}
	return g
}

// A warning group going from 2 to 12 features, past escalate_when
// members 10, is re-notified once, at high: paged (the critical tier's
// high cell), its acknowledgement gone and its escalation restarted.
func TestGroupGrowingPastEscalateWhenMembersIsRaisedOnce(t *testing.T) {
	w := newGrowWorld(t, "warning", "{members: 10}")
	w.drift(0, 2)
	m := &lifecycle.Manager{Config: w.p.Config, Store: w.st, Now: func() time.Time { return w.now }}
	if res, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Acknowledge, Group: w.group().ID,
		By: lifecycle.Actor{ID: "slack:U0ACKER001"}}); err != nil || !res.Done {
		t.Fatal(res, err)
	}
	w.drift(2, 12)
	raised := w.raised()
	if len(raised) != 1 {
		t.Fatalf("%d raised notifications, want 1", len(raised))
	}
	n, g := raised[0], w.group()
	at := t0.Add(9 * time.Minute) // the tenth feature's
	if n.Alert.Severity != "high" || !slices.Equal(n.Channels, []string{"slack", "pagerduty"}) || n.Members != 10 {
		t.Errorf("raised notification: severity %s channels %v members %d; want high on slack and pagerduty, 10 members",
			n.Alert.Severity, n.Channels, n.Members)
	}
	if g.Level != "high" || g.Raises != 1 || g.Acked() || !g.EscalateAt.Equal(at.Add(30*time.Minute)) || g.Size() != 12 || g.Open != 12 {
		t.Errorf("group level %s raises %d acked %v escalates %v size %d open %d; want high, 1, unacknowledged, %v, 12, 12",
			g.Level, g.Raises, g.Acked(), g.EscalateAt, g.Size(), g.Open, at.Add(30*time.Minute))
	}
	recs, _ := w.st.AlertRecords(context.Background(), "m/psi/feature=f09")
	if !slices.ContainsFunc(recs, func(r audit.Record) bool {
		return r.Action == audit.Raised && strings.HasPrefix(r.Detail, "the group grew to 10 alerts (escalate_when members 10): raised from warning to high")
	}) {
		t.Errorf("no raised record on the tenth alert's trail: %+v", recs)
	}
}

// With a factor the group raises each time it grows that much since it
// was last told at its level: 1 → 3 (high), 3 → 9 (critical), not at 12.
func TestGroupGrowingByEscalateWhenFactorIsRaisedOncePerStep(t *testing.T) {
	w := newGrowWorld(t, "warning", "{factor: 3}")
	w.drift(0, 12)
	var got []string
	for _, n := range w.raised() {
		got = append(got, fmt.Sprintf("%s@%d", n.Alert.Severity, n.Members))
	}
	if strings.Join(got, " ") != "high@3 critical@9" {
		t.Errorf("raised %q, want high@3 critical@9", got)
	}
	if g := w.group(); g.Level != "critical" || g.GrowBase != 9 || !g.EscalateAt.Equal(t0.Add(8*time.Minute+15*time.Minute)) {
		t.Errorf("group level %s base %d escalates %v; want critical, 9, 15m after the ninth", g.Level, g.GrowBase, g.EscalateAt)
	}
}

// An alert of a higher severity joining (the rule's severity raised while
// its group is open) re-notifies the group at that severity, once.
func TestHigherSeverityJoiningRaisesTheGroup(t *testing.T) {
	w := newGrowWorld(t, "warning", "{members: 50}")
	w.drift(0, 2)
	w.p.Config = configFrom(t, fmt.Sprintf(growModel, "critical", "{members: 50}"))
	w.drift(2, 4)
	raised := w.raised()
	if len(raised) != 1 || raised[0].Alert.Severity != "critical" || !strings.HasPrefix(raised[0].Lifecycle.Note, "an alert of severity critical joined") {
		t.Fatalf("raised %+v, want one, at critical, saying why", raised)
	}
}

// clean resolves features from..to-1, one a minute from minute at.
func (w *growWorld) clean(from, to, at int) {
	w.t.Helper()
	for i := from; i < to; i++ {
		w.now = t0.Add(time.Duration(at+i-from) * time.Minute)
		process(w.t, w.p, event(fmt.Sprintf("c%d", i), "drift", "psi", fmt.Sprintf("f%02d", i), 0.1, time.Duration(at+i-from)*time.Minute))
	}
}

func (w *growWorld) pending(kind string) []*state.Notification {
	all, _ := w.st.Pending(context.Background(), farFuture, 1000)
	return slices.DeleteFunc(all, func(n *state.Notification) bool { return n.Kind != kind })
}

// A raised group's resolution goes where the raise went: the PagerDuty
// incident the raise opened is resolved, at the group's level; and an
// update of a join after the raise tells it at that level (never paging).
func TestRaisedGroupIsResolvedAndUpdatedAtItsLevel(t *testing.T) {
	w := newGrowWorld(t, "warning", "{members: 10}")
	w.drift(0, 10)
	w.now = t0.Add(30 * time.Minute) // a window of its own, after the raise
	process(t, w.p, event("e10", "drift", "psi", "f10", 0.4, 30*time.Minute))
	up := w.pending(state.NoticeUpdated)
	last := up[len(up)-1]
	if last.Alert.Severity != "high" || !slices.Equal(last.Channels, []string{"slack"}) {
		t.Errorf("update after the raise: severity %s via %v, want high via slack", last.Alert.Severity, last.Channels)
	}
	w.clean(0, 11, 40)
	res := w.pending(state.NoticeResolved)
	if len(res) != 1 {
		t.Fatalf("%d resolved notifications, want 1", len(res))
	}
	if n := res[0]; n.Alert.Severity != "high" || !slices.Contains(n.Channels, "pagerduty") || !slices.Contains(n.Channels, "slack") {
		t.Errorf("resolution: severity %s via %v, want high via slack and pagerduty", n.Alert.Severity, n.Channels)
	}
}

// hoursWorld is a growWorld whose owner works 09:00-18:00 UTC on weekdays
// (t0 is a Sunday) and whose stakes' high cell says outside_hours.
func hoursWorld(t *testing.T, outside string) *growWorld {
	w := newGrowWorld(t, "warning", "{members: 10}")
	hours := "working_hours: {location: UTC, weekdays: [\"monday:friday\"], times: [\"09:00-18:00\"]}\n"
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml":          {Data: []byte(fmt.Sprintf(growModel, "warning", "{members: 10}"))},
		"rules/stakes.yaml":     {Data: []byte("critical:\n  critical: {notify: [slack, pagerduty], ack_within: 15m}\n  high: {notify: [slack, pagerduty], ack_within: 30m, outside_hours: " + outside + "}\n  warning: {notify: [slack], ack_within: 1h}\n  info: {notify: [digest]}\n")},
		"owners/data-team.yaml": {Data: []byte(fmt.Sprintf(owner, "data-team", "data-team") + hours)},
		"owners/ds-team.yaml":   {Data: []byte(fmt.Sprintf(owner, "ds-team", "ds-team") + hours)},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	w.p.Config = cfg
	return w
}

// A raise outside its owner's working hours is routed as an opening at
// its level would be: held to Monday 09:00 (escalating ack_within after
// that) with outside_hours: hold, on Slack without a page with slack.
func TestRaiseOutsideWorkingHoursFollowsOutsideHours(t *testing.T) {
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	t.Run("hold", func(t *testing.T) {
		w := hoursWorld(t, "hold")
		w.drift(0, 10)
		raised, g := w.raised(), w.group()
		if len(raised) != 1 || !raised[0].Hold.Equal(monday) {
			t.Fatalf("raised %+v, want one held until %v", raised, monday)
		}
		if !g.EscalateAt.Equal(monday.Add(30 * time.Minute)) {
			t.Errorf("group escalates at %v, want %v (ack_within after the hold)", g.EscalateAt, monday.Add(30*time.Minute))
		}
	})
	t.Run("slack", func(t *testing.T) {
		w := hoursWorld(t, "slack")
		w.drift(0, 10)
		raised, g := w.raised(), w.group()
		if len(raised) != 1 || !raised[0].Hold.IsZero() || !slices.Equal(raised[0].Channels, []string{"slack"}) {
			t.Fatalf("raised %+v, want one, at once, on slack only", raised)
		}
		if at := t0.Add(9*time.Minute + 30*time.Minute); !g.EscalateAt.Equal(at) {
			t.Errorf("group escalates at %v, want %v", g.EscalateAt, at)
		}
	})
}
