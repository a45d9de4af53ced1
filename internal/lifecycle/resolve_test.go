package lifecycle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// racer is the store with the router's concurrent write simulated: the
// first commit after arm that writes no group (a later chunk) conflicts.
type racer struct {
	*memstore.Store
	armed  bool
	always bool // every later chunk conflicts, however often retried
}

func (r *racer) Commit(ctx context.Context, c *state.Commit) error {
	if (r.armed || r.always) && len(c.Groups) == 0 && len(c.Alerts) > 0 {
		r.armed = false
		return fmt.Errorf("alert moved: %w", state.ErrConflict)
	}
	return r.Store.Commit(ctx, c)
}

// Resolving a group of 35 alerts writes them in two chunks; the router
// updating one of the second chunk meanwhile (a conflict) is re-read and
// retried, so none stays open in the closed group.
func TestResolvingALargeGroupRetriesAChunkTheRouterChanged(t *testing.T) {
	r, g := largeGroup(t)
	ctx := context.Background()
	rs := &racer{Store: r.st, armed: true}
	m := &lifecycle.Manager{Config: r.cfg, Store: rs, Now: func() time.Time { return r.now }}
	if res, err := m.Apply(ctx, lifecycle.Change{Action: lifecycle.Resolve, Group: g.ID, By: lifecycle.Actor{ID: "slack:U012ABCDE"}}); err != nil || !res.Done {
		t.Fatalf("resolve: done=%v err=%v msg=%q", res.Done, err, res.Message)
	}
	open := 0
	var orphan string
	for _, id := range g.Members {
		a, _ := r.st.GetAlert(ctx, id)
		if a.Status != state.Resolved {
			open++
			orphan = a.Feature
		}
	}
	if open > 0 {
		// the orphan keeps breaching: does anyone hear of it?
		r.now = r.now.Add(time.Hour)
		out := r.ev("drift", "psi", orphan, 0.5)
		t.Errorf("%d alerts stay open in a closed group (a further breach of %s queued %d notification(s), changes %v)", open, orphan, len(out.Queued), out.Changes[0].State)
	}
}

// Should a resolution's later chunks never be written (a crash, conflicts
// without end), the alerts left open in the closed group join a new group
// at their next breach, and their owner is told.
func TestAlertsLeftOpenInAClosedGroupOpenANewOneAtTheirNextBreach(t *testing.T) {
	r, g := largeGroup(t)
	ctx := context.Background()
	m := &lifecycle.Manager{Config: r.cfg, Store: &racer{Store: r.st, always: true}, Now: func() time.Time { return r.now }}
	if res, err := m.Apply(ctx, lifecycle.Change{Action: lifecycle.Resolve, Group: g.ID, By: lifecycle.Actor{ID: "slack:U012ABCDE"}}); err != nil || !res.Done {
		t.Fatal(res, err)
	}
	a, _ := r.st.GetAlert(ctx, g.Members[34])
	if a.Status != state.Open {
		t.Fatalf("the last chunk was written after all (%s): the test needs it not to be", a.Status)
	}
	r.now = r.now.Add(time.Hour)
	out := r.ev("drift", "psi", a.Feature, 0.5)
	if len(out.Queued) != 1 || out.Queued[0].Kind != state.NoticeOpened || out.Queued[0].Group == g.ID {
		t.Fatalf("the orphan's breach queued %d notification(s), want one opening a new group", len(out.Queued))
	}
}

// largeGroup is a rig whose feature-drift group holds 35 alerts, each of
// which breached on three nights (for: needs them).
func largeGroup(t *testing.T) (*rig, *state.Group) {
	r := newRig(t, time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC))
	for night := 0; night < 3; night++ {
		for i := 0; i < 35; i++ {
			r.now = r.now.Add(time.Second)
			r.ev("drift", "psi", fmt.Sprintf("f%02d", i), 0.4)
		}
		r.now = r.now.Add(24 * time.Hour)
	}
	g, err := r.st.GetGroup(context.Background(), "credit-approval", "feature-drift")
	if err != nil || g == nil {
		t.Fatalf("no feature-drift group after three nights: %v", err)
	}
	return r, g
}
