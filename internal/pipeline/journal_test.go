package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestJournal(t *testing.T) {
	ctx := context.Background()
	// setup returns a journal over a store holding group (if not nil) as
	// the rule psi's current group, and an open alert of psi.
	setup := func(t *testing.T, group *state.Group) (*Journal, *state.Alert) {
		t.Helper()
		st := memstore.New(func() time.Time { return t0 })
		if group != nil {
			group.Model, group.Rule = "m", "psi"
			if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{group}}); err != nil {
				t.Fatal(err)
			}
		}
		j := &Journal{Model: "m", At: t0, Now: t0.Add(time.Minute), Groups: st,
			Audit: func(a *state.Alert, action, detail string) audit.Record {
				return audit.Record{Alert: a.ID, Action: action, Actor: "test", Group: a.Group, Detail: detail}
			}}
		a := &state.Alert{ID: "m/psi/feature=income", Model: "m", Rule: "psi", Status: state.Open,
			Owner: "ds-team", Role: "model", Notify: []string{"slack"}}
		return j, a
	}
	actions := func(c *state.Commit) []string {
		var out []string
		for _, r := range c.Audit {
			out = append(out, r.Action+": "+r.Detail)
		}
		return out
	}

	t.Run("an alert of a rule without a group opens one and tells its owner", func(t *testing.T) {
		j, a := setup(t, nil)
		if err := j.Join(ctx, a); err != nil {
			t.Fatal(err)
		}
		c := j.Commit()
		if len(c.Groups) != 1 || len(c.Outbox) != 1 {
			t.Fatalf("Commit = %d groups, %d notifications, want 1 of each", len(c.Groups), len(c.Outbox))
		}
		g, n := c.Groups[0], c.Outbox[0]
		if g.ID != "m/psi@20260301T000000Z.1" || a.Group != g.ID || g.Open != 1 || !slices.Equal(g.Members, []string{a.ID}) || g.Version != 0 {
			t.Errorf("group = %s (alert's %s), open %d, members %v, version %d; want m/psi@20260301T000000Z.1 with the alert, new",
				g.ID, a.Group, g.Open, g.Members, g.Version)
		}
		if g.Owner != "ds-team" || !g.Opened.Equal(t0) {
			t.Errorf("group lifecycle owner %q opened %s, want ds-team at %s", g.Owner, g.Opened, t0)
		}
		if n.Kind != state.NoticeOpened || !slices.Equal(n.Channels, []string{"slack", "events"}) || !n.Created.Equal(j.Now) || n.Alert.Group != g.ID {
			t.Errorf("notification = %s via %v created %s, want opened via slack and events at the wall clock, with the alert in its group", n.Kind, n.Channels, n.Created)
		}
		want := []string{"queued: opened notification m/psi@20260301T000000Z.1#1 to ds-team via slack, events"}
		if diff := cmp.Diff(want, actions(c)); diff != "" {
			t.Errorf("audit records (-want +got):\n%s", diff)
		}
		if err := audit.Verify(c.Audit); err != nil || a.AuditSeq != 1 {
			t.Errorf("the alert's chain: %v, head %d; want one sealed record", err, a.AuditSeq)
		}
	})

	t.Run("an alert joins its rule's group while that has open members", func(t *testing.T) {
		j, a := setup(t, &state.Group{ID: "m/psi@x.1", Members: []string{"m/psi/feature=age"}, Open: 1, Notices: 1})
		if err := j.Join(ctx, a); err != nil {
			t.Fatal(err)
		}
		c := j.Commit()
		if len(c.Groups) != 0 || len(c.Outbox) != 0 || len(c.Joins) != 1 {
			t.Fatalf("Commit = %d groups, %d notifications, %d joins; want the join alone (commutative: the group is not rewritten)", len(c.Groups), len(c.Outbox), len(c.Joins))
		}
		jn := c.Joins[0]
		if jn.Group != "m/psi@x.1" || jn.Alert != a.ID || jn.Member || a.Group != jn.Group {
			t.Errorf("join = %+v (alert's group %s), want %s into m/psi@x.1", jn, a.Group, a.ID)
		}
		if n := jn.Update; n.Kind != state.NoticeUpdated || !strings.HasPrefix(n.ID, "m/psi@x.1#u") || n.After != "m/psi@x.1#1" ||
			!slices.Equal(n.Channels, []string{"slack"}) || !slices.Equal(n.Joined, []string{"feature=income"}) {
			t.Errorf("update = %s %s after %s via %v joined %v, want the window's update after #1, via slack only (other tools hear of openings)",
				n.ID, n.Kind, n.After, n.Channels, n.Joined)
		}
	})

	full := func() *state.Group {
		g := &state.Group{ID: "m/psi@x.1", Total: 250, Open: 250, Notices: 1}
		for i := range state.MaxMembers {
			g.Members = append(g.Members, fmt.Sprintf("m/psi/feature=f%d", i))
		}
		return g
	}
	t.Run("a group naming MaxMembers counts a new member without naming it, and its record says so", func(t *testing.T) {
		j, a := setup(t, full())
		if err := j.Join(ctx, a); err != nil {
			t.Fatal(err)
		}
		c := j.Commit()
		jn := c.Joins[0]
		if jn.Named || jn.Member || jn.Size != 250 || len(jn.Update.Joined) != 0 || jn.Update.JoinCount() != 1 {
			t.Errorf("join named %v, member %v, size %d, update joined %v (%d); want counted only, from 250",
				jn.Named, jn.Member, jn.Size, jn.Update.Joined, jn.Update.JoinCount())
		}
		if got := actions(c); len(got) != 1 || !strings.HasSuffix(got[0], "the group names its first 100 alerts, and 151 more with this one") {
			t.Errorf("audit records %q; want the queued update saying the group names its first 100 and 151 more", got)
		}
	})
	t.Run("an alert reopening in the group it was in counts once, named or not", func(t *testing.T) {
		j, a := setup(t, full())
		a.Group = "m/psi@x.1"
		Route(&config.Config{}, &config.Model{}, &config.Rule{}, a, t0)
		if err := j.Join(ctx, a); err != nil {
			t.Fatal(err)
		}
		if jn := j.Commit().Joins[0]; !jn.Member || jn.Named {
			t.Errorf("join member %v, named %v; want a member again, not counted twice", jn.Member, jn.Named)
		}
	})

	t.Run("a group that is over gives way to a new one, conditional on the version read", func(t *testing.T) {
		j, a := setup(t, &state.Group{ID: "m/psi@x.1", Members: []string{"m/psi/feature=age"}, Open: 0})
		g, kind, err := j.Place(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if kind != state.NoticeOpened || g.ID != "m/psi@20260301T000000Z.2" || g.Version != 1 {
			t.Errorf("Place = %s %s version %d, want a new group m/psi@20260301T000000Z.2 written over version 1", kind, g.ID, g.Version)
		}
		if len(j.Commit().Outbox) != 0 {
			t.Error("Place queued a notification; Notice does")
		}
	})

	t.Run("the last open member leaving ends the group and tells its owner", func(t *testing.T) {
		j, a := setup(t, &state.Group{ID: "m/psi@x.1", Members: []string{"m/psi/feature=income"}, Open: 1})
		a.Group, a.Status = "m/psi@x.1", state.Resolved
		if err := j.Leave(ctx, a, "router", "every alert of the group is clean again"); err != nil {
			t.Fatal(err)
		}
		c := j.Commit()
		if len(c.Groups) != 1 || len(c.Outbox) != 1 {
			t.Fatalf("Commit = %d groups, %d notifications, want 1 of each", len(c.Groups), len(c.Outbox))
		}
		g, n := c.Groups[0], c.Outbox[0]
		if g.Open != 0 || g.By != "router" || g.Note != "every alert of the group is clean again" {
			t.Errorf("group open %d, by %q, note %q; want over, by the router, saying why", g.Open, g.By, g.Note)
		}
		if n.Kind != state.NoticeResolved || n.Lifecycle.Note != g.Note || !slices.Equal(n.Channels, []string{"slack", "events"}) {
			t.Errorf("notification = %s via %v, note %q; want resolved via slack and events, saying why", n.Kind, n.Channels, n.Lifecycle.Note)
		}
	})

	t.Run("a member leaving while others are open tells nobody", func(t *testing.T) {
		j, a := setup(t, &state.Group{ID: "m/psi@x.1", Members: []string{"m/psi/feature=age", "m/psi/feature=income"}, Open: 2})
		a.Group = "m/psi@x.1"
		if err := j.Leave(ctx, a, "router", "clean"); err != nil {
			t.Fatal(err)
		}
		c := j.Commit()
		if len(c.Groups) != 1 || c.Groups[0].Open != 1 || len(c.Outbox) != 0 {
			t.Errorf("Commit = %d groups, %d notifications; want the group counted down to 1 open, nobody told", len(c.Groups), len(c.Outbox))
		}
	})

	for _, tc := range []struct {
		name  string
		group *state.Group
	}{
		{"a group a person closed is left as it is", &state.Group{ID: "m/psi@x.1", Open: 1, Lifecycle: state.Lifecycle{Resolution: state.ResolvedByPerson}}},
		{"a group the alert no longer belongs to is left as it is", &state.Group{ID: "m/psi@y.2", Open: 1}},
		{"a rule without a group is no error", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, a := setup(t, tc.group)
			a.Group = "m/psi@x.1"
			if err := j.Leave(ctx, a, "router", "clean"); err != nil {
				t.Fatal(err)
			}
			if j.Changed() {
				c := j.Commit()
				t.Errorf("Leave changed %d groups, queued %d notifications; want nothing", len(c.Groups), len(c.Outbox))
			}
		})
	}

	t.Run("the commit holds each alert once, by id, with all its records", func(t *testing.T) {
		j, _ := setup(t, nil)
		b, a := &state.Alert{ID: "m/b"}, &state.Alert{ID: "m/a"}
		if j.Changed() {
			t.Error("Changed() = true before anything was recorded")
		}
		j.Record(b, audit.Opened, "b")
		j.Record(a, audit.Opened, "a")
		j.Record(b, audit.Updated, "b again")
		c := j.Commit()
		if !j.Changed() || len(c.Alerts) != 2 || c.Alerts[0] != a || c.Alerts[1] != b || len(c.Audit) != 3 {
			t.Errorf("Commit = alerts %v and %d records, want [m/a m/b] and 3", ids(c.Alerts), len(c.Audit))
		}
		if b.AuditSeq != 2 {
			t.Errorf("m/b's chain head = %d, want 2", b.AuditSeq)
		}
	})
}

func ids(alerts []*state.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.ID)
	}
	return out
}

// A join whose update window a sender has taken (sent, here, as replay's
// clock allows a reading measured inside a window sent already) goes in
// the next window, at once: it is told, and the event commits.
func TestJoinAfterItsWindowWasTakenGoesInTheNext(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(func() time.Time { return t0.Add(time.Hour) })
	p := &Processor{Config: configFrom(t, testModel), Store: st} // replay: the events' clock
	process(t, p, event("o0", "drift", "psi", "income", 0.4, 0))
	out := process(t, p, event("j1", "drift", "psi", "age", 0.4, time.Second))
	if len(out.Coalesced) != 1 {
		t.Fatalf("coalesced %d, want 1", len(out.Coalesced))
	}
	first := out.Coalesced[0].ID
	n, _ := st.GetNotice(ctx, first)
	n.Sent = t0.Add(time.Minute)
	if err := st.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
		t.Fatal(err)
	}
	late, err := p.Process(ctx, event("late", "drift", "psi", "zip", 0.4, 2*time.Second))
	if err != nil {
		t.Fatalf("a join into a sent window: %v", err)
	}
	if len(late.Coalesced) != 1 || late.Coalesced[0].ID == first || late.Attempts != 2 {
		t.Fatalf("joined %v in %d attempts, want one window after %s, in 2", late.Coalesced, late.Attempts, first)
	}
	if got, _ := st.GetNotice(ctx, late.Coalesced[0].ID); got == nil || !got.Sent.IsZero() || len(got.Joined) != 1 {
		t.Errorf("next window %+v, want it unsent, naming the late join", got)
	}
}
