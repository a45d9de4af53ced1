package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// runOnce is the part of the suite on requests from outside (Slack clicks,
// PagerDuty webhooks) acting once: each carries an id recorded in the
// change's own write, so that the store's conditional event record — not
// the caller's luck — refuses a redelivery or a replay, whatever the group
// became meanwhile.
func runOnce(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	cfg := &config.Config{Digest: "d", Owners: map[string]*config.Owner{
		"team": {ID: "team", Escalation: []string{"lead", "head"}}, "lead": {ID: "lead"}, "head": {ID: "head"}}}
	// world is a store holding one open, unacknowledged group of one alert.
	world := func(t *testing.T) (Store, *lifecycle.Manager, string) {
		t.Helper()
		st := newStore(t)
		g := openGroup("once")
		a := &state.Alert{ID: g.Members[0], Model: "m", Rule: "once", Status: state.Open, Owner: "team", Notify: []string{"slack"},
			AckWithin: "15m", Group: g.ID, OpenedAt: base, UpdatedAt: base, Opens: 1}
		c := &state.Commit{Groups: []*state.Group{g}}
		c.Record(a, audit.Record{Alert: a.ID, At: base, Recorded: base, Action: audit.Opened, Actor: "router", Model: "m", Rule: "once"})
		if err := st.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		return st, &lifecycle.Manager{Config: cfg, Store: st, Now: func() time.Time { return Now }}, g.ID
	}
	apply := func(t *testing.T, m *lifecycle.Manager, c lifecycle.Change) lifecycle.Result {
		t.Helper()
		res, err := m.Apply(ctx, c)
		if err != nil {
			t.Fatalf("%s (request %q): %v", c.Action, c.Once.ID, err)
		}
		return res
	}
	group := func(t *testing.T, st Store) *state.Group {
		t.Helper()
		g, err := st.GetGroup(ctx, "m", "once")
		if err != nil || g == nil {
			t.Fatalf("GetGroup = %v, %v", g, err)
		}
		return g
	}
	by := lifecycle.Actor{ID: "slack:U1"}
	once := func(id string) lifecycle.Once { return lifecycle.Once{ID: id, Expires: Now.Add(time.Hour)} }

	t.Run("once: a request acts once, however often it arrives; another request acts again", func(t *testing.T) {
		st, m, id := world(t)
		escalate := lifecycle.Change{Action: lifecycle.Escalate, Group: id, By: by, Once: once("slack:click-1")}
		if res := apply(t, m, escalate); !res.Done || res.Duplicate {
			t.Fatalf("first escalation: %+v", res)
		}
		before := group(t, st)
		recs, _ := st.AlertRecords(ctx, "m/once")
		for range 2 {
			if res := apply(t, m, escalate); res.Done || !res.Duplicate || res.Message != lifecycle.AlreadyDone {
				t.Errorf("the same request again: %+v, want a duplicate that changes nothing", res)
			}
		}
		if g := group(t, st); g.Step != 1 || g.Owner != "lead" || g.Version != before.Version {
			t.Errorf("after the replays: step %d with %s (version %d, was %d); want step 1 with lead", g.Step, g.Owner, g.Version, before.Version)
		}
		if again, _ := st.AlertRecords(ctx, "m/once"); len(again) != len(recs) {
			t.Errorf("the replays added %d audit records", len(again)-len(recs))
		}
		escalate.Once = once("slack:click-2")
		if res := apply(t, m, escalate); !res.Done || group(t, st).Owner != "head" {
			t.Errorf("a second click: %+v, owner %s; want escalated to head", res, group(t, st).Owner)
		}
	})

	t.Run("once: a request with nothing to do is remembered, and does nothing once the group moved on", func(t *testing.T) {
		st, m, id := world(t)
		apply(t, m, lifecycle.Change{Action: lifecycle.Acknowledge, Group: id, By: by, Once: once("slack:ack-1")})
		ack := lifecycle.Change{Action: lifecycle.Acknowledge, Group: id, By: lifecycle.Actor{ID: "pagerduty:P1"}, Once: once("pagerduty:ev-1")}
		if res := apply(t, m, ack); res.Done || res.Duplicate {
			t.Fatalf("an acknowledgement of an acknowledged group: %+v, want nothing to do", res)
		}
		apply(t, m, lifecycle.Change{Action: lifecycle.Escalate, Group: id, By: by, Once: once("slack:click-1")})
		if res := apply(t, m, ack); !res.Duplicate || group(t, st).Acked() {
			t.Errorf("the same acknowledgement after the escalation: %+v, acked by %q; want a duplicate, unacknowledged", res, group(t, st).AckedBy)
		}
	})

	t.Run("once: a change made before the group's current cycle began is stale", func(t *testing.T) {
		st, m, id := world(t)
		apply(t, m, lifecycle.Change{Action: lifecycle.Escalate, Group: id, By: by})
		g := group(t, st)
		if !g.CycleStart.Equal(Now) {
			t.Fatalf("the escalation began the cycle at %v, want %v", g.CycleStart, Now)
		}
		old := lifecycle.Change{Action: lifecycle.Acknowledge, Group: id, By: lifecycle.Actor{ID: "pagerduty:P1"}, At: Now.Add(-time.Minute),
			Once: once("pagerduty:ev-2")}
		if res := apply(t, m, old); !res.Stale || res.Done {
			t.Errorf("an acknowledgement made a minute before the escalation: %+v, want stale", res)
		}
		if after := group(t, st); after.Acked() || after.Version != g.Version {
			t.Errorf("a stale acknowledgement changed the group: acked by %q, version %d (was %d)", after.AckedBy, after.Version, g.Version)
		}
		old.At, old.Once = Now, once("pagerduty:ev-3")
		if res := apply(t, m, old); !res.Done {
			t.Errorf("an acknowledgement made when the cycle began: %+v, want applied", res)
		}
	})

	t.Run("once: a request's record lasts until it expires", func(t *testing.T) {
		st, m, id := world(t)
		escalate := lifecycle.Change{Action: lifecycle.Escalate, Group: id, By: by, Once: lifecycle.Once{ID: "slack:old", Expires: Now.Add(-time.Second)}}
		apply(t, m, escalate)
		if res := apply(t, m, escalate); !res.Done || group(t, st).Step != 2 {
			t.Errorf("a request whose record expired: %+v, step %d; want it to act again", res, group(t, st).Step)
		}
	})
}
