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
)

// rig is the repository's configuration on an embedded store, with the
// router's pipeline and a clock the test moves.
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
