package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/escalator"
)

// digest_at moved later in the day (09:00 → 17:00): stuck for good.
func TestDigestScheduleStuckAfterDigestAtLater(t *testing.T) {
	r := newRig(t, time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	e := &escalator.Escalator{Config: r.cfg, Store: r.st, Now: func() time.Time { return r.now }, Signals: []string{}}
	e.Tick(ctx)
	r.cfg.Owners["data-platform"].DigestAt = 17 * time.Hour // Europe/Berlin
	for _, at := range []time.Time{time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 16, 0, 0, 0, time.UTC)} {
		r.now = at
		_, err := e.Tick(ctx)
		sc, _ := r.st.GetSchedule(ctx, "digest/data-platform")
		t.Logf("%s: next %s err %v", at.Format(time.RFC3339), sc.Next.UTC().Format(time.RFC3339), err)
	}
}
