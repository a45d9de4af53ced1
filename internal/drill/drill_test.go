package drill_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/drill"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

var t0 = time.Date(2026, 12, 6, 3, 30, 0, 0, time.UTC)

// clock is a settable clock shared by the store, the manager and the
// escalator.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func loadConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("load the example configuration: %v %v", err, cfg.Errors())
	}
	return cfg
}

func start(t *testing.T, cfg *config.Config, st *memstore.Store, owner string, at time.Time) *drill.Started {
	t.Helper()
	p, err := drill.PlanFor(cfg, owner)
	if err != nil {
		t.Fatal(err)
	}
	s, err := drill.Start(context.Background(), st, cfg, p, lifecycle.Actor{ID: "cli:tester"}, lifecycle.Once{}, at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func actions(recs []audit.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

func TestPlanIsTheLoudestPathAnAlertTakesToTheOwner(t *testing.T) {
	cfg := loadConfig(t)
	for _, tc := range []struct {
		owner, tier, severity string
		notify                []string
		ack                   time.Duration
	}{
		{"credit-ds", "critical", "critical", []string{"slack", "pagerduty"}, 15 * time.Minute},
		{"growth-ds", "medium", "critical", []string{"slack"}, 2 * time.Hour},
		// On escalation chains only: the tiers of the models escalating to it.
		{"head-of-ml", "critical", "critical", []string{"slack", "pagerduty"}, 15 * time.Minute},
	} {
		p, err := drill.PlanFor(cfg, tc.owner)
		if err != nil {
			t.Fatalf("%s: %v", tc.owner, err)
		}
		if p.Tier != tc.tier || p.Severity != tc.severity || !slices.Equal(p.Notify, tc.notify) || p.AckWithin != tc.ack {
			t.Errorf("%s: plan %+v, want tier %s severity %s via %v ack within %s", tc.owner, p, tc.tier, tc.severity, tc.notify, tc.ack)
		}
	}
	if _, err := drill.PlanFor(cfg, "credit-dss"); err == nil || !strings.Contains(err.Error(), `no owner "credit-dss"`) {
		t.Errorf("an unknown owner: %v", err)
	}
}

func TestAcknowledgedDrillIsAuditedWithWhoAndHowFast(t *testing.T) {
	cfg := loadConfig(t)
	clk := &clock{now: t0}
	st := memstore.New(clk.Now)
	s := start(t, cfg, st, "credit-ds", t0)
	if want := t0.Add(15 * time.Minute); !s.Deadline.Equal(want) {
		t.Errorf("deadline %s, want %s", s.Deadline, want)
	}
	n, err := st.GetNotice(context.Background(), s.Queued[0])
	if err != nil || n == nil {
		t.Fatalf("the drill's notification: %v %v", n, err)
	}
	if n.Kind != state.NoticeOpened || !slices.Equal(n.Channels, []string{"slack", "pagerduty"}) || n.Owner != "credit-ds" {
		t.Errorf("notification %s to %s via %v, want opened to credit-ds via slack, pagerduty (no lifecycle event for other tools)", n.Kind, n.Owner, n.Channels)
	}

	clk.now = t0.Add(2*time.Minute + 13*time.Second)
	m := &lifecycle.Manager{Config: cfg, Store: st, Now: clk.Now}
	res, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Acknowledge, Group: s.Group, By: lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}})
	if err != nil || !res.Done || !strings.Contains(res.Message, "Drill passed") {
		t.Fatalf("acknowledge: %+v %v", res, err)
	}
	if !res.Group.Over() {
		t.Error("an acknowledged drill is over: nothing of it lingers")
	}
	recs, _ := st.AlertRecords(context.Background(), s.Alert)
	want := []string{audit.Opened, audit.Queued, audit.DrillAcknowledged, audit.Resolved, audit.Queued}
	if got := actions(recs); !slices.Equal(got, want) {
		t.Fatalf("trail %v, want %v", got, want)
	}
	outs := drill.Outcomes(recs)
	if len(outs) != 1 || outs[0].Result != drill.Passed || outs[0].By != "slack:U012ABCDE" || outs[0].After != "2m13s" || outs[0].AckWithin != "15m" {
		t.Errorf("outcome %+v, want passed by slack:U012ABCDE after 2m13s", outs)
	}
	rep, err := (&escalator.Escalator{Config: cfg, Store: st, Now: func() time.Time { return t0.Add(time.Hour) }, Signals: []string{}}).Tick(context.Background())
	if err != nil || rep.DrillsUnanswered != 0 || rep.Escalated != 0 {
		t.Errorf("after the acknowledgement the escalator found %+v (%v), want nothing to do", rep, err)
	}
}

func TestUnansweredDrillIsRecordedAsSuchAndNeverEscalated(t *testing.T) {
	cfg := loadConfig(t)
	clk := &clock{now: t0}
	st := memstore.New(clk.Now)
	s := start(t, cfg, st, "credit-ds", t0)
	// No silence watching: only the drill is due.
	e := &escalator.Escalator{Config: cfg, Store: st, Now: clk.Now, Signals: []string{}}

	clk.now = t0.Add(14 * time.Minute)
	if rep, err := e.Tick(context.Background()); err != nil || rep.DrillsUnanswered != 0 {
		t.Fatalf("within the window: %+v %v", rep, err)
	}
	clk.now = t0.Add(16 * time.Minute)
	rep, err := e.Tick(context.Background())
	if err != nil || rep.DrillsUnanswered != 1 || rep.Escalated != 0 {
		t.Fatalf("past the window: %+v %v, want one drill unanswered and nothing escalated", rep, err)
	}
	for _, at := range []time.Duration{time.Hour, 5 * time.Hour} {
		clk.now = t0.Add(at)
		if rep, err := e.Tick(context.Background()); err != nil || rep.Escalated != 0 || rep.DrillsUnanswered != 0 {
			t.Errorf("at +%s: %+v %v, want nothing more", at, rep, err)
		}
	}
	recs, _ := st.AlertRecords(context.Background(), s.Alert)
	if got := actions(recs); slices.Contains(got, audit.Escalated) || !slices.Contains(got, audit.DrillUnanswered) {
		t.Fatalf("trail %v: want drill-unanswered and no escalation", got)
	}
	g, _ := st.GetGroup(context.Background(), state.DrillModel, "credit-ds")
	if g.Owner != "credit-ds" || g.Step != 0 || !g.Over() {
		t.Errorf("group with %s at step %d, over %v: want credit-ds's, never escalated, over", g.Owner, g.Step, g.Over())
	}
	outs := drill.Outcomes(recs)
	if len(outs) != 1 || outs[0].Result != drill.Unanswered || outs[0].By != "" || !strings.Contains(outs[0].Detail, "nobody acknowledged within 15m") {
		t.Errorf("outcome %+v, want unanswered, by nobody", outs)
	}
	// Too late to pass: the group is over, the acknowledgement changes nothing.
	res, err := (&lifecycle.Manager{Config: cfg, Store: st, Now: clk.Now}).Apply(context.Background(),
		lifecycle.Change{Action: lifecycle.Acknowledge, Group: s.Group, By: lifecycle.Actor{ID: "slack:U012ABCDE"}})
	if err != nil || res.Done {
		t.Errorf("an acknowledgement after the drill ended: %+v %v", res, err)
	}
}

func TestADrillAsksForNothingButAnAcknowledgement(t *testing.T) {
	cfg := loadConfig(t)
	clk := &clock{now: t0}
	st := memstore.New(clk.Now)
	s := start(t, cfg, st, "credit-ds", t0)
	m := &lifecycle.Manager{Config: cfg, Store: st, Now: clk.Now}
	for _, act := range []string{lifecycle.Escalate, lifecycle.Snooze, lifecycle.Reassign, lifecycle.FalseAlarm, lifecycle.Retrain, lifecycle.Rollback} {
		res, err := m.Apply(context.Background(), lifecycle.Change{Action: act, Group: s.Group, Role: "platform", Until: t0.Add(time.Hour),
			By: lifecycle.Actor{ID: "slack:U012ABCDE"}})
		if err != nil || res.Done || res.Message != lifecycle.NotForDrills {
			t.Errorf("%s: %+v %v, want refused with %q", act, res, err, lifecycle.NotForDrills)
		}
	}
	p, _ := drill.PlanFor(cfg, "credit-ds")
	if _, err := drill.Start(context.Background(), st, cfg, p, lifecycle.Actor{ID: "cli:tester"}, lifecycle.Once{}, t0.Add(time.Minute)); !errors.Is(err, drill.ErrRunning) {
		t.Errorf("a second drill while one runs: %v, want ErrRunning", err)
	}
	// Once it is over, the next drill is a new group.
	if _, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Acknowledge, Group: s.Group, By: lifecycle.Actor{ID: "slack:U012ABCDE"}}); err != nil {
		t.Fatal(err)
	}
	next := start(t, cfg, st, "credit-ds", t0.Add(time.Hour))
	if next.Group == s.Group {
		t.Errorf("the next drill reused group %s", s.Group)
	}
	recs, _ := st.ModelRecords(context.Background(), state.DrillModel, time.Time{}, t0.Add(48*time.Hour))
	if outs := drill.Outcomes(recs); len(outs) != 2 || outs[0].Result != drill.Passed || outs[1].Result != drill.Waiting {
		t.Errorf("outcomes %+v, want passed then waiting", outs)
	}
}
