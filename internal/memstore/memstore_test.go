package memstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
	"github.com/stakeout-ml/stakeout/internal/storetest"
)

func newStore(*testing.T) storetest.Store {
	return memstore.New(func() time.Time { return storetest.Now })
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

// A store saved and opened again passes the suite too: nothing is lost in
// the file.
func TestConformanceAfterSaveAndOpen(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := memstore.New(time.Now).Save(path); err != nil {
			t.Fatal(err)
		}
		st, err := memstore.Open(path, func() time.Time { return storetest.Now })
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestReliability(t *testing.T) { storetest.Reliability(t, newStore(t), 50, 200) }

// The due index follows every change a replay makes — a notification
// queued, claimed, postponed and sent; a group escalating, acknowledged,
// snoozed; a watch seen; a schedule moved — and survives a save and open.
func TestDueIndexFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	horizon := minute(60)
	st := memstore.New(func() time.Time { return t0 })
	commit := func(t *testing.T, c *state.Commit) {
		t.Helper()
		if err := st.Commit(ctx, c); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	notice := func(t *testing.T, id string, change func(n *state.Notification)) {
		t.Helper()
		n, err := st.GetNotice(ctx, id)
		if err != nil || n == nil {
			t.Fatalf("GetNotice(%s) = %v, %v", id, n, err)
		}
		change(n)
		commit(t, &state.Commit{Notices: []*state.Notification{n}})
	}
	group := &state.Group{ID: "m/r@1", Model: "m", Rule: "r", Opened: t0, Members: []string{"m/r"}, Open: 1,
		Lifecycle: state.Lifecycle{Owner: "team", AckWithin: "10m", EscalateAt: minute(10)}}
	setGroup := func(t *testing.T, change func(g *state.Group)) {
		t.Helper()
		g, err := st.GetGroup(ctx, "m", "r")
		if err != nil || g == nil {
			t.Fatalf("GetGroup = %v, %v", g, err)
		}
		change(g)
		commit(t, &state.Commit{Groups: []*state.Group{g}})
	}
	steps := []struct {
		name        string
		change      func(t *testing.T)
		next        time.Time
		pending     []string // by the horizon
		pendingSoon []string // by 3 minutes in
		due         []string // by the horizon
	}{
		{"queued notifications are pending in queue order", func(t *testing.T) {
			var out []*state.Notification
			for i, id := range []string{"g#1", "g#2", "h#1"} {
				out = append(out, &state.Notification{ID: id, Kind: state.NoticeOpened, Group: id[:1], Created: minute(i)})
			}
			commit(t, &state.Commit{Outbox: out})
		}, minute(0), []string{"g#1", "g#2", "h#1"}, []string{"g#1", "g#2", "h#1"}, nil},
		{"a claim holds a notification until it ends", func(t *testing.T) {
			notice(t, "g#1", func(n *state.Notification) { n.Claim, n.ClaimedUntil, n.Attempts = "c1", minute(5), 1 })
		}, minute(1), []string{"g#2", "h#1", "g#1"}, []string{"g#2", "h#1"}, nil},
		{"a sent notification leaves the index", func(t *testing.T) {
			notice(t, "g#2", func(n *state.Notification) { n.Sent = minute(1) })
		}, minute(2), []string{"h#1", "g#1"}, []string{"h#1"}, nil},
		{"a postponement moves the notification later", func(t *testing.T) {
			notice(t, "g#1", func(n *state.Notification) { n.Claim, n.ClaimedUntil = "", minute(30) })
		}, minute(2), []string{"h#1", "g#1"}, []string{"h#1"}, nil},
		{"a postponement can move it earlier too", func(t *testing.T) {
			notice(t, "g#1", func(n *state.Notification) { n.ClaimedUntil = minute(1) })
		}, minute(1), []string{"g#1", "h#1"}, []string{"g#1", "h#1"}, nil},
		{"with nothing unsent, only the claim left waits", func(t *testing.T) {
			notice(t, "h#1", func(n *state.Notification) { n.Sent = minute(2) })
			notice(t, "g#1", func(n *state.Notification) { n.ClaimedUntil = minute(30) })
		}, minute(30), []string{"g#1"}, nil, nil},
		{"an escalating group is due when it escalates", func(t *testing.T) {
			commit(t, &state.Commit{Groups: []*state.Group{group}})
		}, minute(10), []string{"g#1"}, nil, []string{"group m/r"}},
		{"an acknowledged group is never due", func(t *testing.T) {
			setGroup(t, func(g *state.Group) { g.AckedBy, g.AckedAt = "slack:U1", minute(3) })
		}, minute(30), []string{"g#1"}, nil, nil},
		{"a snoozed group is due when the snooze ends", func(t *testing.T) {
			setGroup(t, func(g *state.Group) { g.SnoozedUntil = minute(20) })
		}, minute(20), []string{"g#1"}, nil, []string{"group m/r"}},
		{"a watch is due at its next look", func(t *testing.T) {
			if _, err := st.EnsureWatch(ctx, &state.Watch{Model: "m", Kind: "drift", Since: t0, Next: minute(15)}); err != nil {
				t.Fatal(err)
			}
		}, minute(15), []string{"g#1"}, nil, []string{"watch m/drift", "group m/r"}},
		{"a sighting moves the watch past the horizon", func(t *testing.T) {
			if err := st.SawSignal(ctx, "m/drift", minute(16), minute(90), minute(16)); err != nil {
				t.Fatal(err)
			}
		}, minute(20), []string{"g#1"}, nil, []string{"group m/r"}},
		{"a schedule is due at its next run, and moves with a commit", func(t *testing.T) {
			if _, err := st.EnsureSchedule(ctx, &state.Schedule{Name: "digest/team", Next: minute(5)}); err != nil {
				t.Fatal(err)
			}
			sc, err := st.GetSchedule(ctx, "digest/team")
			if err != nil || sc == nil {
				t.Fatalf("GetSchedule = %v, %v", sc, err)
			}
			sc.Last, sc.Next = sc.Next, minute(25)
			commit(t, &state.Commit{Schedules: []*state.Schedule{sc}})
		}, minute(20), []string{"g#1"}, nil, []string{"group m/r", "schedule digest/team"}},
		{"a saved and opened store has the same index", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := st.Save(path); err != nil {
				t.Fatal(err)
			}
			var err error
			if st, err = memstore.Open(path, func() time.Time { return t0 }); err != nil {
				t.Fatal(err)
			}
		}, minute(20), []string{"g#1"}, nil, []string{"group m/r", "schedule digest/team"}},
		{"the opened store's index follows changes", func(t *testing.T) {
			notice(t, "g#1", func(n *state.Notification) { n.Sent = minute(21) })
			setGroup(t, func(g *state.Group) { g.Open = 0 })
			commit(t, &state.Commit{Outbox: []*state.Notification{{ID: "g#3", Group: "g", Created: minute(40)}}})
		}, minute(25), []string{"g#3"}, nil, []string{"schedule digest/team"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change(t)
			if got := st.NextDue(); !got.Equal(s.next) {
				t.Errorf("NextDue() = %v, want %v", got, s.next)
			}
			for _, p := range []struct {
				by   time.Time
				want []string
			}{{horizon, s.pending}, {minute(3), s.pendingSoon}} {
				pending, err := st.Pending(ctx, p.by, 10)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, n := range pending {
					ids = append(ids, n.ID)
				}
				if diff := cmp.Diff(p.want, ids); diff != "" {
					t.Errorf("Pending(%v) (-want +got):\n%s", p.by, diff)
				}
			}
			items, err := st.Due(ctx, horizon, 10)
			if err != nil {
				t.Fatal(err)
			}
			var due []string
			for _, it := range items {
				due = append(due, it.Kind+" "+it.Key)
			}
			if diff := cmp.Diff(s.due, due); diff != "" {
				t.Errorf("Due(horizon) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimits(t *testing.T) { storetest.Limits(t, newStore) }
