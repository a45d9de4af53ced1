package memstore

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// The index answers exactly what a scan of every record answers (the
// store's queries before it had one), whatever the order of changes:
// notifications queued, claimed, postponed, sent (and unsent), groups
// escalating, acknowledged, snoozed, over, watches and schedules moving,
// the store saved and opened again. Ties are frequent on purpose.
func TestIndexAgreesWithAScan(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	// Times on a coarse grid, so that many are equal; sometimes zero.
	at := func() time.Time {
		if r.IntN(25) == 0 {
			return time.Time{}
		}
		return t0.Add(time.Duration(r.IntN(90))*time.Minute + time.Duration(r.IntN(2))*500*time.Millisecond)
	}
	st := New(func() time.Time { return t0 })
	var ids []string
	commit := func(c *state.Commit) {
		t.Helper()
		if err := st.Commit(ctx, c); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	changes := []func() string{
		func() string {
			var out []*state.Notification
			for range 1 + r.IntN(3) {
				id := fmt.Sprintf("%c#%d", 'a'+r.IntN(5), len(ids)+1)
				ids = append(ids, id)
				out = append(out, &state.Notification{ID: id, Group: id[:1], Created: at()})
			}
			if r.IntN(8) == 0 {
				// Twice in one commit: both are queued, and Pending keeps
				// them in queue order (the second is the one GetNotice
				// returns and senders change).
				out = append(out, out[0].Clone())
			}
			commit(&state.Commit{Outbox: out})
			return fmt.Sprintf("queue %d", len(out))
		},
		func() string {
			if len(ids) == 0 {
				return "no notification to change"
			}
			// Mostly recent ones, so that changes meet ties.
			id := ids[max(0, len(ids)-1-r.IntN(12))]
			if r.IntN(4) == 0 {
				id = ids[r.IntN(len(ids))]
			}
			n, err := st.GetNotice(ctx, id)
			if err != nil || n == nil {
				t.Fatalf("GetNotice(%s) = %v, %v", id, n, err)
			}
			what := []string{"claim", "postpone", "send", "unsend", "release"}[r.IntN(5)]
			switch what {
			case "claim":
				n.Claim, n.ClaimedUntil, n.Attempts = "c", at(), n.Attempts+1
			case "postpone":
				n.Claim, n.ClaimedUntil = "", at()
			case "send":
				n.Sent = t0
			case "unsend":
				n.Sent = time.Time{}
			case "release":
				n.Claim, n.ClaimedUntil = "", time.Time{}
			}
			commit(&state.Commit{Notices: []*state.Notification{n}})
			return what + " " + id
		},
		func() string {
			rule := fmt.Sprintf("r%d", r.IntN(8))
			g, err := st.GetGroup(ctx, "m", rule)
			if err != nil {
				t.Fatal(err)
			}
			if g == nil {
				g = &state.Group{ID: "m/" + rule + "@1", Model: "m", Rule: rule, Opened: t0, Open: 1}
			}
			g.Open, g.EscalateAt = r.IntN(3), at()
			g.AckedBy, g.SnoozedUntil, g.Resolution = "", time.Time{}, ""
			switch r.IntN(4) {
			case 0:
				g.AckedBy = "slack:U1"
			case 1:
				g.AckedBy, g.SnoozedUntil = "slack:U1", at()
			case 2:
				g.Resolution = state.FalseAlarm
			}
			commit(&state.Commit{Groups: []*state.Group{g}})
			return "group " + rule
		},
		func() string {
			w := &state.Watch{Model: "m", Kind: fmt.Sprintf("k%d", r.IntN(6)), Since: t0, Next: at()}
			switch r.IntN(3) {
			case 0:
				if _, err := st.EnsureWatch(ctx, w); err != nil {
					t.Fatal(err)
				}
				return "ensure watch " + w.ID()
			case 1:
				if err := st.SawSignal(ctx, w.ID(), at(), at(), at()); err != nil {
					t.Fatal(err)
				}
				return "sighting of " + w.ID()
			}
			if old, err := st.GetWatch(ctx, w.ID()); err != nil {
				t.Fatal(err)
			} else if old != nil {
				w.Version = old.Version
			}
			commit(&state.Commit{Watches: []*state.Watch{w}})
			return "commit watch " + w.ID()
		},
		func() string {
			sc := &state.Schedule{Name: fmt.Sprintf("digest/o%d", r.IntN(4)), Next: at()}
			if r.IntN(2) == 0 {
				if _, err := st.EnsureSchedule(ctx, sc); err != nil {
					t.Fatal(err)
				}
				return "ensure schedule " + sc.Name
			}
			if old, err := st.GetSchedule(ctx, sc.Name); err != nil {
				t.Fatal(err)
			} else if old != nil {
				sc.Version = old.Version
			}
			commit(&state.Commit{Schedules: []*state.Schedule{sc}})
			return "commit schedule " + sc.Name
		},
	}
	for step := range 2000 {
		what := changes[r.IntN(len(changes))]()
		if r.IntN(200) == 0 {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := st.Save(path); err != nil {
				t.Fatal(err)
			}
			var err error
			if st, err = Open(path, func() time.Time { return t0 }); err != nil {
				t.Fatal(err)
			}
			what += ", save and open"
		}
		checkIndex(t, st)
		if got, want := st.NextDue(), scanNextDue(st); !got.Equal(want) {
			t.Fatalf("step %d (%s): NextDue() = %v, want %v", step, what, got, want)
		}
		if got, want := st.NextNotice(), scanNextNotice(st); !got.Equal(want) {
			t.Fatalf("step %d (%s): NextNotice() = %v, want %v", step, what, got, want)
		}
		by, limit := at(), r.IntN(13) // 0 too: an empty answer, not nil, when something is due
		pending, err := st.Pending(ctx, by, limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(scanPending(st, by, limit), pending); diff != "" {
			t.Fatalf("step %d (%s): Pending(%v, %d) (-want +got):\n%s", step, what, by, limit, diff)
		}
		due, err := st.Due(ctx, by, limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(scanDue(st, by, limit), due); diff != "" {
			t.Fatalf("step %d (%s): Due(%v, %d) (-want +got):\n%s", step, what, by, limit, diff)
		}
	}
}

// checkIndex fails unless both indexes are heaps whose entries know their
// place, and hold exactly the records that are due.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, x := range map[string]dueIndex{"outbox": s.outboxDue, "escalator": s.escalatorDue} {
		for i, e := range x {
			if e.pos != i {
				t.Fatalf("%s index: entry %s at %d thinks it is at %d", name, e.key, i, e.pos)
			}
			if p := (i - 1) / 2; i > 0 && e.before(x[p]) {
				t.Fatalf("%s index: entry %s at %d comes before its parent %s", name, e.key, i, x[p].key)
			}
		}
	}
	unsent := 0
	for _, n := range s.outbox {
		e := s.noticeEntries[n]
		if e == nil || e.notice != n {
			t.Fatalf("notification %s has no entry of its own", n.ID)
		}
		if n.Sent.IsZero() {
			unsent++
			if e.pos < 0 || !e.at.Equal(n.Due()) {
				t.Fatalf("unsent notification %s: entry at %v (position %d), due %v", n.ID, e.at, e.pos, n.Due())
			}
		} else if e.pos >= 0 {
			t.Fatalf("sent notification %s is still in the index", n.ID)
		}
	}
	if unsent != len(s.outboxDue) || len(s.noticeEntries) != len(s.outbox) {
		t.Fatalf("outbox index holds %d of %d entries, want %d unsent of %d", len(s.outboxDue), len(s.noticeEntries), unsent, len(s.outbox))
	}
	due := 0
	want := func(kind, key string, at time.Time) {
		e := s.dueEntries[dueKey{kind, key}]
		switch {
		case at.IsZero() && e != nil:
			t.Fatalf("%s %s is never due but has an entry at %v", kind, key, e.at)
		case at.IsZero():
		case e == nil || e.pos < 0 || !e.at.Equal(at):
			t.Fatalf("%s %s due at %v has entry %+v", kind, key, at, e)
		default:
			due++
		}
	}
	for k, g := range s.groups {
		want(state.DueGroup, k, g.Due())
	}
	for k, w := range s.watches {
		want(state.DueWatch, k, w.Next)
	}
	for k, sc := range s.schedules {
		want(state.DueSchedule, k, sc.Next)
	}
	if due != len(s.escalatorDue) || due != len(s.dueEntries) {
		t.Fatalf("escalator index holds %d entries (%d known), want %d", len(s.escalatorDue), len(s.dueEntries), due)
	}
}

// scanPending is Pending as a scan of the outbox.
func scanPending(s *Store, due time.Time, limit int) []*state.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*state.Notification
	for _, n := range s.outbox {
		if n.Sent.IsZero() && !n.Due().After(due) {
			out = append(out, n)
		}
	}
	slices.SortStableFunc(out, func(a, b *state.Notification) int {
		return cmp.Or(a.Due().Compare(b.Due()), cmp.Compare(a.ID, b.ID))
	})
	out = out[:min(len(out), limit)]
	for i, n := range out {
		out[i] = n.Clone()
	}
	return out
}

// scanDue is Due as a scan of groups, watches and schedules.
func scanDue(s *Store, now time.Time, limit int) []state.DueItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.DueItem
	add := func(kind, key string, at time.Time) {
		if !at.IsZero() && !at.After(now) {
			out = append(out, state.DueItem{Kind: kind, Key: key, At: at})
		}
	}
	for k, g := range s.groups {
		add(state.DueGroup, k, g.Due())
	}
	for k, w := range s.watches {
		add(state.DueWatch, k, w.Next)
	}
	for k, sc := range s.schedules {
		add(state.DueSchedule, k, sc.Next)
	}
	slices.SortFunc(out, func(a, b state.DueItem) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key))
	})
	return out[:min(len(out), limit)]
}

// scanNextDue is NextDue as a scan of every record.
// scanNextNotice is the earliest due time of an unsent notification, by
// a scan; those due at zero (no Created time) are not waited for.
func scanNextNotice(s *Store) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, n := range s.outbox {
		if at := n.Due(); n.Sent.IsZero() && !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

func scanNextDue(s *Store) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	earlier := func(at time.Time) {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	for _, g := range s.groups {
		earlier(g.Due())
	}
	for _, w := range s.watches {
		earlier(w.Next)
	}
	for _, sc := range s.schedules {
		earlier(sc.Next)
	}
	for _, n := range s.outbox {
		if n.Sent.IsZero() {
			earlier(n.Due())
		}
	}
	return next
}
