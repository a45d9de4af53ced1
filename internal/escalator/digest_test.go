package escalator_test

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/memstore"
)

// digestWorld is the repository's configuration and an escalator on an
// embedded store, at a clock the test moves.
func digestWorld(t *testing.T, start time.Time) (*config.Config, *memstore.Store, *escalator.Escalator, *time.Time) {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := start
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	e := &escalator.Escalator{Config: cfg, Store: st, Now: clock, Signals: []string{}}
	return cfg, st, e, &now
}

// tickDigests ticks at each time and checks that owner's digest schedule
// neither fails nor falls behind: the next digest is always in the future.
func tickDigests(t *testing.T, st *memstore.Store, e *escalator.Escalator, now *time.Time, owner string, at ...time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, tm := range at {
		*now = tm
		if _, err := e.Tick(ctx); err != nil {
			t.Fatalf("tick at %s: %v (the digest schedule is stuck)", tm.Format(time.RFC3339), err)
		}
		sc, err := st.GetSchedule(ctx, "digest/"+owner)
		if err != nil || sc == nil {
			t.Fatalf("tick at %s: no digest schedule for %s (%v)", tm.Format(time.RFC3339), owner, err)
		}
		if !sc.Next.After(tm) {
			t.Errorf("tick at %s: %s's next digest is %s, not in the future", tm.Format(time.RFC3339), owner, sc.Next.Format(time.RFC3339))
		}
	}
}

// A team that moves time zone gets its digest at the new local time: the
// day's digest, already sent at the old time, does not collide with the
// one due at the new time on the same local date.
func TestDigestScheduleFollowsAnOwnersNewTimeZone(t *testing.T) {
	cfg, st, e, now := digestWorld(t, time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	tickDigests(t, st, e, now, "credit-ds", time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Owners["credit-ds"].Timezone = la // the next deployment's owners file
	tickDigests(t, st, e, now, "credit-ds", time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 11, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 12, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC))
}

// Moving digest_at later in the day (09:00 → 17:00 Berlin) moves the
// schedule with it.
func TestDigestScheduleFollowsALaterDigestAt(t *testing.T) {
	cfg, st, e, now := digestWorld(t, time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	tickDigests(t, st, e, now, "data-platform", time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	cfg.Owners["data-platform"].DigestAt = 17 * time.Hour
	tickDigests(t, st, e, now, "data-platform", time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 16, 0, 0, 0, time.UTC))
	sc, _ := st.GetSchedule(context.Background(), "digest/data-platform")
	if want := time.Date(2026, 3, 16, 16, 0, 0, 0, time.UTC); !sc.Next.Equal(want) {
		t.Errorf("next digest %s, want %s (17:00 Berlin)", sc.Next.UTC().Format(time.RFC3339), want.Format(time.RFC3339))
	}
}
