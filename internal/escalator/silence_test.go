package escalator_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// TestSilenceAlert: credit-approval expects a drift signal every day
// (grace 2h). The silence alert opens, and resolves when the signal is
// back, through the router's journal: in a group of its own that says the
// escalator opened it and why, its owner told, every step on its chain.
func TestSilenceAlert(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	p := &pipeline.Processor{Config: cfg, Store: st, Now: clock, Sightings: st}
	e := &escalator.Escalator{Config: cfg, Store: st, Now: clock, Signals: []string{"credit-approval/drift"}}
	drift := func(id string) {
		t.Helper()
		if _, err := p.ProcessEvent(ctx, id, signal.Event{Model: "credit-approval", Kind: "drift", Metric: "psi", Feature: "income",
			Value: 0.05, ObservedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	tick := func() escalator.Report {
		t.Helper()
		rep, err := e.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	notice := func(id string) *state.Notification {
		t.Helper()
		n, err := st.GetNotice(ctx, id)
		if err != nil || n == nil {
			t.Fatalf("notification %s: %v %v", id, n, err)
		}
		return n
	}
	type step struct{ Action, Actor, Group, Detail string }
	steps := func(id string) []step {
		t.Helper()
		recs, err := st.AlertRecords(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.Verify(recs); err != nil {
			t.Errorf("the chain of %s: %v", id, err)
		}
		var out []step
		for _, r := range recs {
			out = append(out, step{r.Action, r.Actor, r.Group, r.Detail})
		}
		return out
	}

	tick() // the first run starts watching
	now = now.Add(time.Minute)
	drift("drift-1")
	now = now.Add(26 * time.Hour)
	const id, gid = "credit-approval/silent:drift", "credit-approval/silent:drift@20260310T020100Z.1"
	if rep := tick(); rep.SilenceOpened != 1 || !slices.Contains(rep.Queued, gid+"#1") {
		t.Fatalf("Tick 26h after the last signal = %+v, want the silence alert opened and its owner told", rep)
	}
	summary := "no drift signal for credit-approval for 26h"
	opened := []step{
		{audit.Opened, "escalator", gid, summary + ": expected every 1d (grace 2h); last one observed 2026-03-09T00:01:00Z"},
		{audit.Queued, "escalator", gid, "opened notification " + gid + "#1 to ml-platform via slack, pagerduty, events"},
	}
	if diff := cmp.Diff(opened, steps(id)); diff != "" {
		t.Errorf("records of the opening (-want +got):\n%s", diff)
	}
	g, err := st.GetGroup(ctx, "credit-approval", "silent:drift")
	if err != nil || g == nil {
		t.Fatal(g, err)
	}
	if g.ID != gid || !slices.Equal(g.Members, []string{id}) || g.Open != 1 || g.By != "escalator" || g.Note != summary {
		t.Errorf("group = %s, members %v, open %d, by %q, note %q; want %s of the alert alone, by the escalator, saying why",
			g.ID, g.Members, g.Open, g.By, g.Note, gid)
	}
	if n := notice(gid + "#1"); n.Kind != state.NoticeOpened || n.Owner != "ml-platform" || n.Lifecycle.By != "escalator" ||
		n.Lifecycle.Note != summary || n.Alert.Group != gid || n.Alert.Value != 26 || n.Alert.Metric != "hours_silent" {
		t.Errorf("opened notification = %s to %s, by %q note %q, alert in %s at %v %s; want opened to ml-platform, saying why, with 26 hours_silent",
			n.Kind, n.Owner, n.Lifecycle.By, n.Lifecycle.Note, n.Alert.Group, n.Alert.Value, n.Alert.Metric)
	}

	now = now.Add(15 * time.Minute) // before it escalates (ack within 30m)
	drift("drift-2")
	now = now.Add(time.Minute)
	if rep := tick(); rep.SilenceResolved != 1 {
		t.Fatalf("Tick after the signal came back = %+v, want the silence alert resolved", rep)
	}
	back := "drift signal back (observed 2026-03-10T02:16:00Z)"
	resolved := append(opened,
		step{audit.Resolved, "escalator", gid, back},
		step{audit.Queued, "escalator", gid, "resolved notification " + gid + "#2 to ml-platform via slack, pagerduty, events"})
	if diff := cmp.Diff(resolved, steps(id)); diff != "" {
		t.Errorf("records of the resolution (-want +got):\n%s", diff)
	}
	if g, _ = st.GetGroup(ctx, "credit-approval", "silent:drift"); g.Open != 0 || g.By != "escalator" || g.Note != back {
		t.Errorf("group open %d, by %q, note %q; want over, by the escalator: %s", g.Open, g.By, g.Note, back)
	}
	if n := notice(gid + "#2"); n.Kind != state.NoticeResolved || n.Alert.Status != state.Resolved {
		t.Errorf("second notification = %s of a %s alert, want resolved", n.Kind, n.Alert.Status)
	}
}
