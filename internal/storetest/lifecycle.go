package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// LifecycleStore is what the escalator, the Slack app and the router's
// sightings need of a store beyond the router's records: what is due, the
// open groups, silence watches, schedules and model versions.
type LifecycleStore interface {
	Due(ctx context.Context, now time.Time, limit int) ([]state.DueItem, error)
	OpenGroups(ctx context.Context) ([]*state.Group, error)
	GetWatch(ctx context.Context, id string) (*state.Watch, error)
	EnsureWatch(ctx context.Context, w *state.Watch) (bool, error)
	SawSignal(ctx context.Context, id string, at, next, now time.Time) error
	GetSchedule(ctx context.Context, name string) (*state.Schedule, error)
	EnsureSchedule(ctx context.Context, sc *state.Schedule) (bool, error)
	SawVersion(ctx context.Context, model, version string, at time.Time) error
	Versions(ctx context.Context, model string) ([]state.ModelVersion, error)
}

// Times of the lifecycle tests: before Now, with fractions of a second
// (DynamoDB keeps due times in sort keys, to the nanosecond).
var (
	base = Now.Add(-time.Hour)
	frac = 123456789 * time.Nanosecond
)

func openGroup(rule string) *state.Group {
	return &state.Group{ID: "m/" + rule + "@1", Model: "m", Rule: rule, Opened: base, Members: []string{"m/" + rule}, Total: 1, Open: 1, Notices: 1,
		Lifecycle: state.Lifecycle{Owner: "team", Base: "team", AckWithin: "15m"}}
}

func dueOf(kind, key string, at time.Time) state.DueItem {
	return state.DueItem{Kind: kind, Key: key, At: at}
}

// runLifecycle is the part of the suite on alert lifecycle, escalation and
// silence detection.
func runLifecycle(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	due := func(t *testing.T, st Store, now time.Time, limit int) []state.DueItem {
		t.Helper()
		items, err := st.Due(ctx, now, limit)
		if err != nil {
			t.Fatalf("Due(%v, %d): %v", now, limit, err)
		}
		return items
	}
	commit := func(t *testing.T, st Store, c *state.Commit) {
		t.Helper()
		if err := st.Commit(ctx, c); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	getWatch := func(t *testing.T, st Store, id string) *state.Watch {
		t.Helper()
		w, err := st.GetWatch(ctx, id)
		if err != nil || w == nil {
			t.Fatalf("GetWatch(%s) = %v, %v", id, w, err)
		}
		return w
	}
	getSchedule := func(t *testing.T, st Store, name string) *state.Schedule {
		t.Helper()
		sc, err := st.GetSchedule(ctx, name)
		if err != nil || sc == nil {
			t.Fatalf("GetSchedule(%s) = %v, %v", name, sc, err)
		}
		return sc
	}

	t.Run("due: groups, watches and schedules due by now, earliest first, limited", func(t *testing.T) {
		st := newStore(t)
		escalates := openGroup("escalates")
		escalates.EscalateAt = base.Add(10*time.Minute + frac)
		snoozed := openGroup("snoozed")
		snoozed.AckedBy, snoozed.AckedAt, snoozed.SnoozedUntil = "slack:U1", base, base.Add(5*time.Minute)
		acked := openGroup("acked") // acknowledged, no snooze: never due
		acked.AckedBy, acked.AckedAt, acked.EscalateAt = "slack:U1", base, base
		resolved := openGroup("resolved") // every member resolved
		resolved.Open, resolved.EscalateAt = 0, base
		closed := openGroup("closed") // closed by a person
		closed.Resolution, closed.ClosedBy, closed.EscalateAt = state.FalseAlarm, "slack:U1", base
		later := openGroup("later")
		later.EscalateAt = Now.Add(time.Hour)
		atNow := openGroup("at-now")
		atNow.EscalateAt = Now
		never := openGroup("never") // no ack_within
		never.AckWithin = ""
		commit(t, st, &state.Commit{Groups: []*state.Group{escalates, snoozed, acked, resolved, closed, later, atNow, never}})
		for _, w := range []*state.Watch{
			{Model: "m", Kind: "drift", Metric: "psi", Since: base, Next: base.Add(20*time.Minute + 500*time.Millisecond)},
			{Model: "m", Kind: "quality", Since: base, Next: Now.Add(time.Minute)},
			{Model: "m", Kind: "freshness", Since: base}, // only when the signal arrives
		} {
			if created, err := st.EnsureWatch(ctx, w); err != nil || !created {
				t.Fatalf("EnsureWatch(%s) = %v, %v; want created", w.ID(), created, err)
			}
		}
		for _, sc := range []*state.Schedule{
			// Due half a second before the drift watch: in string order,
			// "…:00Z" would come after "…:00.5Z".
			{Name: "digest/team", Next: base.Add(20 * time.Minute)},
			{Name: "digest/other", Next: Now.Add(24 * time.Hour)},
		} {
			if created, err := st.EnsureSchedule(ctx, sc); err != nil || !created {
				t.Fatalf("EnsureSchedule(%s) = %v, %v; want created", sc.Name, created, err)
			}
		}
		want := []state.DueItem{
			dueOf(state.DueGroup, "m/snoozed", base.Add(5*time.Minute)),
			dueOf(state.DueGroup, "m/escalates", base.Add(10*time.Minute+frac)),
			dueOf(state.DueSchedule, "digest/team", base.Add(20*time.Minute)),
			dueOf(state.DueWatch, "m/drift/psi", base.Add(20*time.Minute+500*time.Millisecond)),
			dueOf(state.DueGroup, "m/at-now", Now),
		}
		if diff := cmp.Diff(want, due(t, st, Now, 100)); diff != "" {
			t.Errorf("Due(now) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want[:2], due(t, st, Now, 2)); diff != "" {
			t.Errorf("Due(now, limit 2) (-want +got):\n%s", diff)
		}
		// The due time is kept to the nanosecond: due at it, not before.
		if diff := cmp.Diff(want[:2], due(t, st, base.Add(10*time.Minute+frac), 100)); diff != "" {
			t.Errorf("Due(at the escalation) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want[:1], due(t, st, base.Add(10*time.Minute+frac-time.Nanosecond), 100)); diff != "" {
			t.Errorf("Due(a nanosecond before the escalation) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, due(t, st, Now.Add(500*time.Millisecond), 100)); diff != "" {
			t.Errorf("Due(half a second after now) (-want +got):\n%s", diff)
		}
		if got := due(t, st, base, 100); len(got) != 0 {
			t.Errorf("Due(before anything) = %+v, want none", got)
		}
		far := due(t, st, Now.Add(48*time.Hour), 100)
		wantFar := append(want, dueOf(state.DueWatch, "m/quality", Now.Add(time.Minute)),
			dueOf(state.DueGroup, "m/later", Now.Add(time.Hour)), dueOf(state.DueSchedule, "digest/other", Now.Add(24*time.Hour)))
		if diff := cmp.Diff(wantFar, far); diff != "" {
			t.Errorf("Due(in two days) (-want +got):\n%s", diff)
		}
	})

	t.Run("due: a commit moves a group's due time, with no entry left at the old one", func(t *testing.T) {
		st := newStore(t)
		g := openGroup("r")
		g.EscalateAt = base.Add(frac)
		commit(t, st, &state.Commit{Groups: []*state.Group{g}})
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueGroup, "m/r", base.Add(frac))}, due(t, st, Now, 10)); diff != "" {
			t.Errorf("Due after opening (-want +got):\n%s", diff)
		}
		step := func(name string, change func(g *state.Group), want []state.DueItem) {
			t.Helper()
			g, err := st.GetGroup(ctx, "m", "r")
			if err != nil || g == nil {
				t.Fatalf("GetGroup = %v, %v", g, err)
			}
			change(g)
			commit(t, st, &state.Commit{Groups: []*state.Group{g}})
			if diff := cmp.Diff(want, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
				t.Errorf("Due after %s (-want +got):\n%s", name, diff)
			}
		}
		step("escalating (a later EscalateAt)", func(g *state.Group) { g.Step, g.EscalateAt = 1, base.Add(30*time.Minute) },
			[]state.DueItem{dueOf(state.DueGroup, "m/r", base.Add(30*time.Minute))})
		step("escalating (an earlier EscalateAt)", func(g *state.Group) { g.Step, g.EscalateAt = 2, base.Add(time.Minute) },
			[]state.DueItem{dueOf(state.DueGroup, "m/r", base.Add(time.Minute))})
		step("acknowledging", func(g *state.Group) { g.AckedBy, g.AckedAt, g.EscalateAt = "slack:U1", base, time.Time{} }, nil)
		step("snoozing", func(g *state.Group) { g.SnoozedUntil = Now.Add(2*time.Hour + frac) },
			[]state.DueItem{dueOf(state.DueGroup, "m/r", Now.Add(2*time.Hour+frac))})
		step("the snooze ending", func(g *state.Group) {
			g.AckedBy, g.AckedAt, g.SnoozedUntil, g.EscalateAt = "", time.Time{}, time.Time{}, Now.Add(3*time.Hour)
		}, []state.DueItem{dueOf(state.DueGroup, "m/r", Now.Add(3*time.Hour))})
		step("the last member resolving", func(g *state.Group) { g.Open = 0 }, nil)

		// A commit on a stale version moves nothing.
		stale := openGroup("r")
		stale.Version, stale.EscalateAt = 1, base
		if err := st.Commit(ctx, &state.Commit{Groups: []*state.Group{stale}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("Commit of a stale group = %v, want ErrConflict", err)
		}
		if got := due(t, st, Now.Add(48*time.Hour), 10); len(got) != 0 {
			t.Errorf("Due after a failed commit = %+v, want none", got)
		}
	})

	t.Run("open groups: those not over", func(t *testing.T) {
		st := newStore(t)
		a, b, c := openGroup("a"), openGroup("b"), openGroup("c")
		b.AckedBy, b.AckedAt = "slack:U1", base
		c.AckedBy, c.AckedAt, c.SnoozedUntil = "slack:U1", base, Now.Add(time.Hour)
		resolved := openGroup("resolved")
		resolved.Open = 0
		closed := openGroup("closed")
		closed.Resolution, closed.ClosedBy, closed.ClosedAt = state.ResolvedByPerson, "slack:U1", base
		other := &state.Group{ID: "n/x@1", Model: "n", Rule: "x", Opened: base, Members: []string{"n/x"}, Total: 1, Open: 2, Notices: 1}
		commit(t, st, &state.Commit{Groups: []*state.Group{other, closed, c, resolved, b, a}})
		list := func() []*state.Group {
			t.Helper()
			gs, err := st.OpenGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return gs
		}
		// By model and rule. (Version is left out: DynamoDB's index holds
		// the record's JSON, whose version lags the stored one.)
		ignoreVersion := cmpopts.IgnoreFields(state.Group{}, "Version", "OpenRead")
		if diff := cmp.Diff([]*state.Group{a, b, c, other}, list(), ignoreVersion); diff != "" {
			t.Errorf("OpenGroups (-want +got):\n%s", diff)
		}
		// Closing one, resolving another and reopening a third.
		b, _ = st.GetGroup(ctx, "m", "b")
		b.Resolution, b.ClosedBy, b.ClosedAt = state.FalseAlarm, "slack:U1", base
		other, _ = st.GetGroup(ctx, "n", "x")
		other.Open = 0
		again, _ := st.GetGroup(ctx, "m", "resolved")
		again.ID, again.Open = "m/resolved@2", 1
		commit(t, st, &state.Commit{Groups: []*state.Group{b, other, again}})
		if diff := cmp.Diff([]*state.Group{a, c, again}, list(), ignoreVersion); diff != "" {
			t.Errorf("OpenGroups after closing b and x, reopening resolved (-want +got):\n%s", diff)
		}
	})

	t.Run("watches: created once; a sighting moves Seen forward, the due time and the version", func(t *testing.T) {
		st := newStore(t)
		w := &state.Watch{Model: "m", Kind: "drift", Metric: "psi", Since: base, Next: base.Add(25 * time.Hour)}
		id := w.ID()
		if created, err := st.EnsureWatch(ctx, w); err != nil || !created {
			t.Fatalf("EnsureWatch = %v, %v; want created", created, err)
		}
		other := &state.Watch{Model: "m", Kind: "drift", Metric: "psi", Since: Now, Next: Now}
		if created, err := st.EnsureWatch(ctx, other); err != nil || created {
			t.Errorf("EnsureWatch of an existing watch = %v, %v; want not created", created, err)
		}
		want := &state.Watch{Model: "m", Kind: "drift", Metric: "psi", Since: base, Next: base.Add(25 * time.Hour), Version: 1}
		if diff := cmp.Diff(want, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch after EnsureWatch twice (-want +got):\n%s", diff)
		}
		if missing, err := st.GetWatch(ctx, "m/absent"); missing != nil || err != nil {
			t.Errorf("GetWatch(absent) = %v, %v; want nil, nil", missing, err)
		}
		read := getWatch(t, st, id)

		at := base.Add(10*time.Minute + frac)
		if err := st.SawSignal(ctx, id, at, at.Add(25*time.Hour), Now); err != nil {
			t.Fatal(err)
		}
		want.Seen, want.Next, want.Version = at, at.Add(25*time.Hour), 2
		if diff := cmp.Diff(want, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch after a sighting (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueWatch, id, at.Add(25*time.Hour))}, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
			t.Errorf("Due after a sighting (-want +got):\n%s", diff)
		}
		// The escalator decided on the watch before the sighting: its
		// commit must fail, and change nothing.
		read.Alert, read.SilentSince, read.Next = "m/silence/kind=drift", base, time.Time{}
		if err := st.Commit(ctx, &state.Commit{Watches: []*state.Watch{read}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("Commit of the watch read before a sighting = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(want, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch after a failed commit (-want +got):\n%s", diff)
		}
		// An older or the same sighting (out of order, redelivered)
		// changes nothing, not even the version.
		for _, old := range []time.Time{base.Add(5 * time.Minute), at, at.Add(-time.Nanosecond)} {
			if err := st.SawSignal(ctx, id, old, Now.Add(time.Minute), Now); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, getWatch(t, st, id)); diff != "" {
				t.Errorf("GetWatch after a sighting at %v, not after %v (-want +got):\n%s", old, at, diff)
			}
		}
		// A nanosecond later is later.
		if err := st.SawSignal(ctx, id, at.Add(time.Nanosecond), at.Add(26*time.Hour), Now); err != nil {
			t.Fatal(err)
		}
		want.Seen, want.Next, want.Version = at.Add(time.Nanosecond), at.Add(26*time.Hour), 3
		if diff := cmp.Diff(want, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch after a sighting a nanosecond later (-want +got):\n%s", diff)
		}
		// A watch that does not exist is not created by a sighting.
		if err := st.SawSignal(ctx, "m/absent", at, base, Now); err != nil {
			t.Errorf("SawSignal(absent) = %v", err)
		}
		if missing, err := st.GetWatch(ctx, "m/absent"); missing != nil || err != nil {
			t.Errorf("GetWatch(absent) after a sighting = %v, %v; want nil, nil", missing, err)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueWatch, id, at.Add(26*time.Hour))}, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
			t.Errorf("Due after a sighting of an absent watch (-want +got):\n%s", diff)
		}
	})

	t.Run("watches: a silent watch leaves Due, and is due at once when its signal returns", func(t *testing.T) {
		st := newStore(t)
		w := &state.Watch{Model: "m", Kind: "drift", Since: base.Add(-48 * time.Hour), Next: base}
		id := w.ID()
		if _, err := st.EnsureWatch(ctx, w); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueWatch, id, base)}, due(t, st, Now, 10)); diff != "" {
			t.Errorf("Due of a late watch (-want +got):\n%s", diff)
		}
		// The escalator opens the silence alert: due only when the
		// signal returns.
		silent := getWatch(t, st, id)
		silent.Alert, silent.SilentSince, silent.Next = "m/silence/kind=drift", silent.Last(), time.Time{}
		commit(t, st, &state.Commit{Watches: []*state.Watch{silent}})
		if got := due(t, st, Now.Add(48*time.Hour), 10); len(got) != 0 {
			t.Errorf("Due of a silent watch = %+v, want none", got)
		}
		silent.Version = 2
		if diff := cmp.Diff(silent, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch of a silent watch (-want +got):\n%s", diff)
		}
		// The signal returns: due at the time given, not at next.
		at, now := base.Add(frac), base.Add(30*time.Minute+750*time.Millisecond)
		if err := st.SawSignal(ctx, id, at, at.Add(25*time.Hour), now); err != nil {
			t.Fatal(err)
		}
		back := getWatch(t, st, id)
		want := *silent
		want.Seen, want.Next, want.Version = at, now, 3
		if diff := cmp.Diff(&want, back); diff != "" {
			t.Errorf("GetWatch after the signal returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueWatch, id, now)}, due(t, st, Now, 10)); diff != "" {
			t.Errorf("Due after the signal returned (-want +got):\n%s", diff)
		}
		// An older sighting of a silent watch changes nothing either.
		if err := st.SawSignal(ctx, id, at.Add(-time.Nanosecond), at.Add(25*time.Hour), Now); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&want, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch after an older sighting of a silent watch (-want +got):\n%s", diff)
		}
		// The escalator resolves the silence alert.
		back.Alert, back.SilentSince, back.Next = "", time.Time{}, at.Add(25*time.Hour)
		commit(t, st, &state.Commit{Watches: []*state.Watch{back}})
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueWatch, id, at.Add(25*time.Hour))}, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
			t.Errorf("Due after the silence ended (-want +got):\n%s", diff)
		}
		back.Version = 4
		if diff := cmp.Diff(back, getWatch(t, st, id)); diff != "" {
			t.Errorf("GetWatch after the silence ended (-want +got):\n%s", diff)
		}
		// Signals again, no longer silent: due at next.
		at2 := at.Add(time.Hour)
		if err := st.SawSignal(ctx, id, at2, at2.Add(25*time.Hour), now); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueWatch, id, at2.Add(25*time.Hour))}, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
			t.Errorf("Due after a sighting of a watch no longer silent (-want +got):\n%s", diff)
		}
	})

	t.Run("schedules: created once; a commit moves Next, on the version read", func(t *testing.T) {
		st := newStore(t)
		sc := &state.Schedule{Name: "digest/team", Next: base.Add(frac)}
		if created, err := st.EnsureSchedule(ctx, sc); err != nil || !created {
			t.Fatalf("EnsureSchedule = %v, %v; want created", created, err)
		}
		if created, err := st.EnsureSchedule(ctx, &state.Schedule{Name: "digest/team", Next: Now}); err != nil || created {
			t.Errorf("EnsureSchedule of an existing schedule = %v, %v; want not created", created, err)
		}
		want := &state.Schedule{Name: "digest/team", Next: base.Add(frac), Version: 1}
		if diff := cmp.Diff(want, getSchedule(t, st, "digest/team")); diff != "" {
			t.Errorf("GetSchedule (-want +got):\n%s", diff)
		}
		if missing, err := st.GetSchedule(ctx, "digest/absent"); missing != nil || err != nil {
			t.Errorf("GetSchedule(absent) = %v, %v; want nil, nil", missing, err)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueSchedule, "digest/team", base.Add(frac))}, due(t, st, Now, 10)); diff != "" {
			t.Errorf("Due (-want +got):\n%s", diff)
		}
		// The run: Next moves a day on.
		run := getSchedule(t, st, "digest/team")
		stale := getSchedule(t, st, "digest/team")
		run.Last, run.Next = run.Next, run.Next.Add(24*time.Hour)
		commit(t, st, &state.Commit{Schedules: []*state.Schedule{run}})
		if got := due(t, st, Now, 10); len(got) != 0 {
			t.Errorf("Due after the run = %+v, want none", got)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueSchedule, "digest/team", base.Add(24*time.Hour+frac))}, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
			t.Errorf("Due a day on (-want +got):\n%s", diff)
		}
		want = &state.Schedule{Name: "digest/team", Next: base.Add(24*time.Hour + frac), Last: base.Add(frac), Version: 2}
		if diff := cmp.Diff(want, getSchedule(t, st, "digest/team")); diff != "" {
			t.Errorf("GetSchedule after the run (-want +got):\n%s", diff)
		}
		// A second run on the version read before the first fails, and so
		// does everything committed with it.
		stale.Next = Now.Add(time.Hour)
		w := &state.Watch{Model: "m", Kind: "drift", Since: base, Next: base}
		err := st.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{stale}, Watches: []*state.Watch{w}})
		if !errors.Is(err, state.ErrConflict) {
			t.Errorf("Commit of a stale schedule = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(want, getSchedule(t, st, "digest/team")); diff != "" {
			t.Errorf("GetSchedule after a failed commit (-want +got):\n%s", diff)
		}
		if missing, err := st.GetWatch(ctx, w.ID()); missing != nil || err != nil {
			t.Errorf("GetWatch of a watch in a failed commit = %v, %v; want nil, nil", missing, err)
		}
		// A record that exists is not created again by a commit.
		if err := st.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{{Name: "digest/team", Next: Now}}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("Commit of a new schedule over an existing one = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff([]state.DueItem{dueOf(state.DueSchedule, "digest/team", base.Add(24*time.Hour+frac))}, due(t, st, Now.Add(48*time.Hour), 10)); diff != "" {
			t.Errorf("Due after failed commits (-want +got):\n%s", diff)
		}
	})

	t.Run("model versions: first and last seen, idempotent, by first sighting", func(t *testing.T) {
		st := newStore(t)
		saw := func(model, version string, at time.Time) {
			t.Helper()
			if err := st.SawVersion(ctx, model, version, at); err != nil {
				t.Fatalf("SawVersion(%s, %s, %v): %v", model, version, at, err)
			}
		}
		versions := func(model string) []state.ModelVersion {
			t.Helper()
			vs, err := st.Versions(ctx, model)
			if err != nil {
				t.Fatal(err)
			}
			return vs
		}
		saw("m", "v2", base.Add(2*time.Hour))
		saw("m", "v1", base.Add(time.Hour+frac))
		saw("other", "v9", base)
		want := []state.ModelVersion{
			{Model: "m", Version: "v1", FirstSeen: base.Add(time.Hour + frac), LastSeen: base.Add(time.Hour + frac)},
			{Model: "m", Version: "v2", FirstSeen: base.Add(2 * time.Hour), LastSeen: base.Add(2 * time.Hour)},
		}
		if diff := cmp.Diff(want, versions("m")); diff != "" {
			t.Errorf("Versions (-want +got):\n%s", diff)
		}
		saw("m", "v1", base.Add(3*time.Hour+frac)) // later: LastSeen moves
		saw("m", "v1", base.Add(3*time.Hour+frac)) // again: nothing changes
		saw("m", "v1", base.Add(2*time.Hour))      // in between: nothing changes
		want[0].LastSeen = base.Add(3*time.Hour + frac)
		if diff := cmp.Diff(want, versions("m")); diff != "" {
			t.Errorf("Versions after later sightings of v1 (-want +got):\n%s", diff)
		}
		// An earlier sighting (events out of order) moves FirstSeen back,
		// and v2 comes first now.
		saw("m", "v2", base.Add(30*time.Minute))
		want = []state.ModelVersion{
			{Model: "m", Version: "v2", FirstSeen: base.Add(30 * time.Minute), LastSeen: base.Add(2 * time.Hour)},
			{Model: "m", Version: "v1", FirstSeen: base.Add(time.Hour + frac), LastSeen: base.Add(3*time.Hour + frac)},
		}
		if diff := cmp.Diff(want, versions("m")); diff != "" {
			t.Errorf("Versions after an earlier sighting of v2 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]state.ModelVersion{{Model: "other", Version: "v9", FirstSeen: base, LastSeen: base}}, versions("other")); diff != "" {
			t.Errorf("Versions(other) (-want +got):\n%s", diff)
		}
		if none := versions("absent"); len(none) != 0 {
			t.Errorf("Versions(absent) = %+v, want none", none)
		}
	})
}
