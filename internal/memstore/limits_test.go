package memstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// A join checked against the size the store keeps, rather than encoded
// again, is refused exactly when encoding it would refuse it: whatever the
// names (long, escaped in JSON, invalid UTF-8), however near 400 KB the
// group and its update grow, with the group rewritten and the update
// claimed by a sender now and then. And what the store keeps is never
// below the size of what it checks.
func TestJoinsAreRefusedAsEncodingWouldRefuseThem(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	st := New(func() time.Time { return t0 })
	g := &state.Group{ID: "m/r@1", Model: "m", Rule: "r", Opened: t0, Started: t0, Open: 1, Members: []string{"a0"}, Total: 1, New: true}
	if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{g}}); err != nil {
		t.Fatal(err)
	}
	name := func(i int) string {
		n := 200 + r.IntN(3000)
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("%d/", i) + strings.Repeat("\x01", n) // six bytes each in JSON
		case 1:
			return fmt.Sprintf("%d/", i) + strings.Repeat("\xff", n) // invalid UTF-8: three
		}
		return fmt.Sprintf("%d/", i) + strings.Repeat("é", n/2)
	}
	refused, accepted, bounded, window := 0, 0, 0, 0
	for i := 1; i <= 800; i++ {
		read, _ := st.GetGroup(ctx, "m", "r")
		at := t0.Add(time.Duration(window) * state.UpdateWindow)
		c := joinOf(read, name(i), at, r.IntN(4) > 0)
		want := encodedVerdict(st, c)
		st.mu.Lock()
		grown := st.grown(c)
		if len(grown) > 0 {
			bounded++
		}
		for k, bound := range grown {
			if exact := joinedSize(st, c, k); bound < exact {
				t.Fatalf("join %d: the store bounds %s at %d bytes, below its %d", i, k, bound, exact)
			}
		}
		st.mu.Unlock()
		err := st.Commit(ctx, c)
		if (err == nil) != (want == nil) || err != nil && !errors.Is(err, state.ErrRejected) {
			t.Fatalf("join %d: Commit = %v; encoding the records says %v", i, err, want)
		}
		if err != nil {
			refused++
		} else {
			accepted++
		}
		switch r.IntN(40) {
		case 0: // the sender takes the window: joins go in the next one
			n, _ := st.GetNotice(ctx, c.Joins[0].Update.ID)
			if n != nil {
				n.Claim, n.ClaimedUntil = "c", at.Add(time.Hour)
				if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil && !errors.Is(err, state.ErrRejected) {
					t.Fatal(err)
				}
			}
			window++
		case 1: // the group is rewritten (acknowledged, say), its names kept
			read, _ := st.GetGroup(ctx, "m", "r")
			read.AckedBy = "slack:U1"
			if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{read}}); err != nil && !errors.Is(err, state.ErrRejected) {
				t.Fatal(err)
			}
		}
	}
	if refused == 0 || accepted == 0 || bounded < accepted/2 {
		t.Fatalf("%d joins accepted (%d by the size kept), %d refused: want both, near the limit, and most by the size kept", accepted, bounded, refused)
	}
	t.Logf("%d joins accepted (%d by the size kept), %d refused", accepted, bounded, refused)
}

// joinOf is alert id joining group g, as read, at `at`, named or not
// (named only while g names fewer than state.MaxMembers).
func joinOf(g *state.Group, id string, at time.Time, named bool) *state.Commit {
	named = named && len(g.Members) < state.MaxMembers
	a := &state.Alert{ID: id, Model: "m", Rule: "r", Owner: "team", Notify: []string{"slack"}}
	uid, due := state.UpdateID(g, at)
	n := &state.Notification{ID: uid, Kind: state.NoticeUpdated, Group: g.ID, Model: "m", Rule: "r", Owner: "team",
		Channels: []string{"slack"}, Created: at, ClaimedUntil: due, Joins: 1, Alert: *a}
	if named {
		n.Joined = []string{state.Subject(a.ID)}
	}
	return &state.Commit{Joins: []*state.Join{{Model: "m", Rule: "r", Group: g.ID, Version: g.Version, Alert: a.ID,
		Named: named, Size: g.Size(), Update: n}}}
}

// encodedVerdict is what checking every record c joins, encoded, says.
func encodedVerdict(s *Store, c *state.Commit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	groups, notices := s.joined(c)
	for _, g := range groups {
		if err := check(layout.GroupItem(g)); err != nil {
			return err
		}
	}
	for _, n := range notices {
		if err := check(layout.NoticeItem(n)); err != nil {
			return err
		}
	}
	return nil
}

// joinedSize is the encoded size of the record named k (a groupSize or
// noticeSize key) once c joins it (s.mu held).
func joinedSize(s *Store, c *state.Commit, k string) int {
	groups, notices := s.joined(c)
	for gk, g := range groups {
		if groupSize(gk) == k {
			it, _ := layout.GroupItem(g)
			return it.Size()
		}
	}
	for id, n := range notices {
		if noticeSize(id) == k {
			it, _ := layout.NoticeItem(n)
			return it.Size()
		}
	}
	panic("no record " + k)
}
