package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/escalator"
)

// An owner's timezone changes (a team moves): the digest schedule fires at
// the old time, then at the new one on the same local date: the second
// notification id exists already and the schedule conflicts forever.
func TestDigestScheduleStuckAfterTimezoneChange(t *testing.T) {
	r := newRig(t, time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	e := &escalator.Escalator{Config: r.cfg, Store: r.st, Now: func() time.Time { return r.now }, Signals: []string{}}
	if _, err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	r.now = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	rep, err := e.Tick(ctx)
	t.Logf("Mar 10 09:00Z: digests %d err %v", rep.Digests, err)
	la, _ := time.LoadLocation("America/Los_Angeles")
	r.cfg.Owners["credit-ds"].Timezone = la // the next deployment's owners file
	r.now = time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC)
	rep, err = e.Tick(ctx)
	t.Logf("Mar 11 09:00Z: digests %d err %v", rep.Digests, err)
	for _, at := range []time.Time{time.Date(2026, 3, 11, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 12, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)} {
		r.now = at
		rep, err = e.Tick(ctx)
		sc, _ := r.st.GetSchedule(ctx, "digest/credit-ds")
		t.Logf("%s: digests %d, schedule next %s, err %v", at.Format(time.RFC3339), rep.Digests, sc.Next.Format(time.RFC3339), err)
		if err != nil {
			t.Errorf("credit-ds's digest schedule is stuck: %v", err)
		}
	}
}
