package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// runJoins checks that joins of an open group commute: concurrent ones
// never conflict, while any other change of the group still does.
func runJoins(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	open := func(t *testing.T, st Store) *state.Group {
		t.Helper()
		g := &state.Group{ID: "m/r@1", Model: "m", Rule: "r", Opened: t0, Members: []string{"m/r/feature=f0"}, Open: 1, Notices: 1, New: true}
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{g}}); err != nil {
			t.Fatal(err)
		}
		read, err := st.GetGroup(ctx, "m", "r")
		if err != nil {
			t.Fatal(err)
		}
		return read
	}
	join := func(g *state.Group, i int, at time.Time) *state.Commit { return joinCommit(g, i, at) }

	t.Run("concurrent joins of one group all apply, into one update per window", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 1; i <= 16; i++ {
			wg.Go(func() { errs <- st.Commit(ctx, join(g, i, t0)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("a join failed: %v", err)
			}
		}
		got, _ := st.GetGroup(ctx, "m", "r")
		if got.Open != 17 || len(got.Members) != 17 || got.Version != g.Version {
			t.Errorf("group open %d, %d members, version %d; want 17, 17, %d", got.Open, len(got.Members), got.Version, g.Version)
		}
		id, _ := state.UpdateID(g, t0)
		n, _ := st.GetNotice(ctx, id)
		if n == nil || len(n.Joined) != 16 || n.Version != 1 {
			t.Fatalf("update %+v, want one at version 1 with the 16 joined", n)
		}
		pending, _ := st.Pending(ctx, n.Due(), 10)
		if len(pending) != 1 || pending[0].ID != id || len(pending[0].Joined) != 16 {
			t.Errorf("pending %v, want the update with its 16 joined", pending)
		}
		if early, _ := st.Pending(ctx, t0, 10); len(early) != 0 {
			t.Errorf("pending before the window ends: %d, want none", len(early))
		}
	})
	t.Run("a group names at most MaxMembers: racing joiners at the cap conflict, then only count", func(t *testing.T) {
		st := newStore(t)
		g := &state.Group{ID: "m/r@1", Model: "m", Rule: "r", Opened: t0, Open: state.MaxMembers - 1, Notices: 1, New: true}
		for i := range state.MaxMembers - 1 {
			g.Members = append(g.Members, fmt.Sprintf("m/r/feature=f%d", i))
		}
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{g}}); err != nil {
			t.Fatal(err)
		}
		read, _ := st.GetGroup(ctx, "m", "r")
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for i := range 3 {
			wg.Go(func() { errs <- st.Commit(ctx, join(read, 1000+i, t0)) })
		}
		wg.Wait()
		close(errs)
		var applied, conflicted int
		for err := range errs {
			switch {
			case err == nil:
				applied++
			case errors.Is(err, state.ErrConflict):
				conflicted++
			default:
				t.Errorf("a join failed: %v", err)
			}
		}
		if applied != 1 || conflicted != 2 {
			t.Fatalf("%d joins applied, %d conflicted; want the last name taken once and the others to conflict", applied, conflicted)
		}
		// Read again, the group's names are taken: the others only count.
		full, _ := st.GetGroup(ctx, "m", "r")
		for i := range 2 {
			c := join(full, 2000+i, t0)
			if c.Joins[0].Named {
				t.Fatalf("a join to a group naming %d is named", len(full.Members))
			}
			if err := st.Commit(ctx, c); err != nil {
				t.Fatalf("a join that only counts: %v", err)
			}
		}
		got, _ := st.GetGroup(ctx, "m", "r")
		if len(got.Members) != state.MaxMembers || got.Size() != state.MaxMembers+2 || got.Open != state.MaxMembers+2 {
			t.Errorf("group names %d, size %d, open %d; want %d named, %d in all and open", len(got.Members), got.Size(), got.Open,
				state.MaxMembers, state.MaxMembers+2)
		}
		id, _ := state.UpdateID(g, t0)
		n, _ := st.GetNotice(ctx, id)
		if n == nil || len(n.Joined) != 1 || n.JoinCount() != 3 {
			t.Errorf("update %+v; want 3 joins, 1 named", n)
		}
	})
	t.Run("a join to a group changed since it was read conflicts", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		acked := g.Clone()
		acked.AckedBy = "slack:U1"
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{acked}}); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, join(g, 1, t0)); !errors.Is(err, state.ErrConflict) {
			t.Errorf("join after an acknowledgement = %v, want ErrConflict", err)
		}
	})
	t.Run("a write that leaves the count alone keeps the joins made since its read", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		if err := st.Commit(ctx, join(g, 1, t0)); err != nil {
			t.Fatal(err)
		}
		acked := g.Clone()
		acked.AckedBy = "slack:U1"
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{acked}}); err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetGroup(ctx, "m", "r")
		if got.Open != 2 || len(got.Members) != 2 || got.AckedBy != "slack:U1" {
			t.Errorf("group open %d, members %v, acked by %q; want the join kept and the acknowledgement", got.Open, got.Members, got.AckedBy)
		}
	})
	t.Run("a count changed since it was read conflicts", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		if err := st.Commit(ctx, join(g, 1, t0)); err != nil {
			t.Fatal(err)
		}
		resolved := g.Clone()
		resolved.Open-- // decided on the count read before the join
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{resolved}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("a decrement decided before a join = %v, want ErrConflict", err)
		}
	})
	// A join that raises the group rewrites it (state.Group.Grew): its
	// count, names and total are the writer's, unless a join came first.
	grow := func(g *state.Group) *state.Group {
		grown := g.Clone()
		grown.Members = append(grown.Members, "m/r/feature=grew")
		grown.Total, grown.Open, grown.Grew, grown.Level = g.Size()+1, g.Open+1, true, "high"
		return grown
	}
	t.Run("a join that rewrites the group writes its count, names and total", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{grow(g)}}); err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetGroup(ctx, "m", "r")
		if got.Open != 2 || got.Size() != 2 || !slices.Contains(got.Members, "m/r/feature=grew") || got.Level != "high" {
			t.Errorf("group open %d, size %d, members %v, level %q; want 2, 2, the new one named, high", got.Open, got.Size(), got.Members, got.Level)
		}
		if err := st.Commit(ctx, join(got, 1, t0)); err != nil {
			t.Fatalf("a join after the rewrite: %v", err)
		}
		if got, _ = st.GetGroup(ctx, "m", "r"); got.Open != 3 || got.Size() != 3 {
			t.Errorf("after a further join: open %d, size %d; want 3, 3", got.Open, got.Size())
		}
	})
	t.Run("a join that rewrites the group conflicts with a join made since its read", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		if err := st.Commit(ctx, join(g, 1, t0)); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{grow(g)}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("a rewrite decided before a join = %v, want ErrConflict", err)
		}
	})
	t.Run("an update a sender has taken is closed to joins: they go in a later window", func(t *testing.T) {
		st := newStore(t)
		g := open(t, st)
		if err := st.Commit(ctx, join(g, 1, t0)); err != nil {
			t.Fatal(err)
		}
		id, _ := state.UpdateID(g, t0)
		n, _ := st.GetNotice(ctx, id)
		n.Claim, n.ClaimedUntil = "sender", Now.Add(time.Minute)
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
			t.Fatal(err)
		}
		// The sender read the window as it was: a join now would never
		// be told.
		var wc *state.WindowClosed
		if err := st.Commit(ctx, join(g, 2, t0)); !errors.As(err, &wc) || wc.ID != id || !errors.Is(err, state.ErrConflict) {
			t.Fatalf("join while the update is claimed = %v, want WindowClosed{%s}, a conflict", err, id)
		}
		if err := st.Commit(ctx, join(g, 2, t0.Add(state.UpdateWindow))); err != nil {
			t.Fatalf("join in the next window: %v", err)
		}
		n.Version++
		n.Sent, n.Claim = Now, ""
		if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.GetNotice(ctx, id); !slices.Equal(got.Joined, []string{"feature=f1"}) || got.Sent.IsZero() {
			t.Errorf("update joined %v, sent %v; want f1 only, sent", got.Joined, got.Sent)
		}
		if err := st.Commit(ctx, join(g, 3, t0)); !errors.As(err, &wc) {
			t.Errorf("join into a sent update = %v, want WindowClosed", err)
		}
	})
}

// joinCommit is alert f<i> of m/r joining group g, as read, at `at`, as
// the router's journal makes it: named while g names fewer than
// state.MaxMembers, only counted past them.
func joinCommit(g *state.Group, i int, at time.Time) *state.Commit {
	a := &state.Alert{ID: fmt.Sprintf("m/r/feature=f%d", i), Model: "m", Rule: "r", Owner: "team", Notify: []string{"slack"}}
	id, due := state.UpdateID(g, at)
	named := len(g.Members) < state.MaxMembers
	n := &state.Notification{ID: id, Kind: state.NoticeUpdated, Group: g.ID, Model: "m", Rule: "r", Owner: "team",
		Channels: []string{"slack"}, Created: at, ClaimedUntil: due, Joins: 1, Alert: *a}
	if named {
		n.Joined = []string{state.Subject(a.ID)}
	}
	return &state.Commit{Joins: []*state.Join{{Model: "m", Rule: "r", Group: g.ID, Version: g.Version, Alert: a.ID,
		Named: named, Size: g.Size(), Update: n}}}
}
