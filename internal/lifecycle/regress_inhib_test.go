package lifecycle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

type rig struct {
	t   *testing.T
	cfg *config.Config
	st  *memstore.Store
	p   *pipeline.Processor
	now time.Time
	n   int
}

func newRig(t *testing.T, start time.Time) *rig {
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, cfg: cfg, now: start}
	r.st = memstore.New(func() time.Time { return r.now })
	r.p = &pipeline.Processor{Config: cfg, Store: r.st, Now: func() time.Time { return r.now }}
	return r
}

func (r *rig) ev(kind, metric, feature string, v float64) pipeline.Outcome {
	r.t.Helper()
	r.n++
	out, err := r.p.ProcessEvent(context.Background(), fmt.Sprintf("e%d", r.n), signal.Event{Model: "credit-approval", Kind: kind, Metric: metric,
		Feature: feature, Value: v, ObservedAt: r.now})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *rig) act(action, group string) lifecycle.Result {
	r.t.Helper()
	m := &lifecycle.Manager{Config: r.cfg, Store: r.st, Now: func() time.Time { return r.now }}
	res, err := m.Apply(context.Background(), lifecycle.Change{Action: action, Group: group, By: lifecycle.Actor{ID: "slack:U01DPE0001"}})
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// A freshness alert (an inhibitor source) resolved by a person stays in the
// model's inhibitors forever: later drift alerts are suppressed.
func TestPersonResolvedInhibitorKeepsSuppressing(t *testing.T) {
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
	in, _ := r.st.GetInhibitors(ctx, "credit-approval")
	t.Logf("inhibitors after recovery: %v", in.Active)
	// two nights of income drift
	r.now = r.now.Add(24 * time.Hour)
	r.ev("drift", "psi", "income", 0.41)
	r.now = r.now.Add(24 * time.Hour)
	out := r.ev("drift", "psi", "income", 0.45)
	for _, c := range out.Changes {
		t.Logf("change: %s %s inhibited_by=%s notify=%v", c.Alert, c.State, c.InhibitedBy, c.Notify)
	}
	a, _ := r.st.GetAlert(ctx, "credit-approval/key-feature-drift/feature=income")
	if a == nil || a.Status != state.Open {
		t.Errorf("income drift alert: %+v — suppressed by a freshness alert a person resolved long ago", a.Status+" by "+a.InhibitedBy)
	}
}

// Marking a group as a false alarm: the next (still breaching) reading opens
// a new group and notifies again at once.
func TestFalseAlarmReopensOnNextReading(t *testing.T) {
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
	for _, n := range out.Queued {
		t.Logf("queued %s %s via %v", n.Kind, n.ID, n.Channels)
	}
	if len(out.Queued) > 0 {
		t.Errorf("15 minutes after a false-alarm mark, the next reading queued %d notification(s) (a new page)", len(out.Queued))
	}
}
