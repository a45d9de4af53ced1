package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// runWindows: the schedule ending an alert's silence is written by the
// router in the commit that silences the alert — created when absent,
// conditioned on its version after — and is due, from the due index, at
// the window's end; once done (no Next) it is due no more.
func runWindows(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("a silenced alert's window end is created, due at its time, and done", func(t *testing.T) {
		st := newStore(t)
		id := "m/r/feature=income"
		end := base.Add(30 * time.Minute)
		a := &state.Alert{ID: id, Model: "m", Rule: "r", Status: state.Suppressed, SilencedBy: "sunday-retrain", SilencedUntil: end}
		sc := &state.Schedule{Name: state.WindowSchedule(id), Next: end}
		if err := st.Commit(ctx, &state.Commit{Alerts: []*state.Alert{a}, Schedules: []*state.Schedule{sc}}); err != nil {
			t.Fatalf("commit the silenced alert with its window's end: %v", err)
		}
		due := func(at time.Time) bool {
			t.Helper()
			items, err := st.Due(ctx, at, 10)
			if err != nil {
				t.Fatal(err)
			}
			return slices.Contains(items, state.DueItem{Kind: state.DueSchedule, Key: sc.Name, At: end})
		}
		if due(end.Add(-time.Second)) || !due(end) {
			t.Errorf("due before its end: %v, at it: %v; want false, true", due(end.Add(-time.Second)), due(end))
		}
		again := &state.Schedule{Name: sc.Name, Next: end.Add(time.Hour)}
		if err := st.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{again}}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("a second creation of the schedule = %v, want ErrConflict", err)
		}
		got, err := st.GetSchedule(ctx, sc.Name)
		if err != nil || got == nil || !got.Next.Equal(end) {
			t.Fatalf("GetSchedule = %+v, %v", got, err)
		}
		got.Last, got.Next = got.Next, time.Time{}
		if err := st.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{got}}); err != nil {
			t.Fatalf("mark it done: %v", err)
		}
		if due(end.Add(time.Hour)) {
			t.Errorf("a done window end is still due")
		}
		got, _ = st.GetSchedule(ctx, sc.Name)
		got.Next = end.Add(2 * time.Hour) // silenced again, by a later window
		if err := st.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{got}}); err != nil {
			t.Fatalf("reuse it: %v", err)
		}
		if !slices.ContainsFunc(mustDue(t, st, end.Add(2*time.Hour)), func(it state.DueItem) bool { return it.Key == sc.Name }) {
			t.Errorf("the reused schedule is not due at its new time")
		}
		back, _ := st.GetAlert(ctx, id)
		if back == nil || back.SilencedBy != "sunday-retrain" || !back.SilencedUntil.Equal(end) {
			t.Errorf("the silenced alert read back: %+v", back)
		}
	})
}

func mustDue(t *testing.T, st Store, at time.Time) []state.DueItem {
	t.Helper()
	items, err := st.Due(context.Background(), at, 10)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
