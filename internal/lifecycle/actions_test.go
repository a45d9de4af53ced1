package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// A freshness alert (an inhibitor source) resolved by a person stops
// suppressing once its feed recovers: later drift alerts open.
func TestAnInhibitorResolvedByAPersonStopsSuppressingWhenItsFeedRecovers(t *testing.T) {
	r := newRig(t, time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC))
	ctx := context.Background()
	r.ev("freshness", "lag_seconds", "", 30000) // bureau-feed-stale opens
	g, _ := r.st.GetGroup(ctx, "credit-approval", "bureau-feed-stale")
	if g == nil {
		t.Fatal("no group")
	}
	r.now = r.now.Add(10 * time.Minute)
	if res := r.act(lifecycle.Resolve, g.ID); !res.Done {
		t.Fatal(res.Message)
	}
	// the feed recovers: many clean readings
	for i := 0; i < 5; i++ {
		r.now = r.now.Add(15 * time.Minute)
		r.ev("freshness", "lag_seconds", "", 100)
	}
	// two nights of income drift
	r.now = r.now.Add(24 * time.Hour)
	r.ev("drift", "psi", "income", 0.41)
	r.now = r.now.Add(24 * time.Hour)
	r.ev("drift", "psi", "income", 0.45)
	a, _ := r.st.GetAlert(ctx, "credit-approval/key-feature-drift/feature=income")
	switch {
	case a == nil:
		t.Errorf("income drift alert: none, want open")
	case a.Status != state.Open:
		t.Errorf("income drift alert: %s by %q, want open — not suppressed by a freshness alert a person resolved long ago", a.Status, a.InhibitedBy)
	}
}

// A group marked as a false alarm is not reopened, nor paged again, by the
// next reading that still breaches a quarter of an hour later.
func TestAFalseAlarmIsNotPagedAgainByTheNextReading(t *testing.T) {
	r := newRig(t, time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC))
	ctx := context.Background()
	r.ev("freshness", "lag_seconds", "", 30000)
	g, _ := r.st.GetGroup(ctx, "credit-approval", "bureau-feed-stale")
	r.now = r.now.Add(5 * time.Minute)
	if res := r.act(lifecycle.FalseAlarm, g.ID); !res.Done {
		t.Fatal(res.Message)
	}
	r.now = r.now.Add(15 * time.Minute)
	out := r.ev("freshness", "lag_seconds", "", 30500)
	if len(out.Queued) > 0 {
		t.Errorf("15 minutes after a false-alarm mark, the next reading queued %d notification(s) (a new page)", len(out.Queued))
	}
}
