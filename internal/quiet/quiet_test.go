package quiet_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/quiet"
	"github.com/stakeout-ml/stakeout/internal/state"
)

var now = time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*config.Config, *memstore.Store) {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("load: %v %v", err, cfg.Errors())
	}
	return cfg, memstore.New(func() time.Time { return now })
}

func request(rule string) quiet.Request {
	return quiet.Request{Model: "churn-prediction", Rule: rule, For: time.Hour, Reason: "backfill", By: lifecycle.Actor{ID: "slack:U1"}}
}

// Two windows made in the same second get distinct names; a copy of a
// request (same Once) makes none; past MaxQuiets running, none is made.
func TestStartNamesWindowsApartAndRefusesCopiesAndExcess(t *testing.T) {
	ctx := context.Background()
	cfg, st := setup(t)
	a, err := quiet.Start(ctx, st, cfg, request("feature-drift"), now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := quiet.Start(ctx, st, cfg, request("feature-drift"), now)
	if err != nil || a.Name == b.Name || !strings.HasPrefix(a.Name, "quiet/churn-prediction/20261209T100000-feature-drift") {
		t.Fatalf("names %q and %q (%v), want two distinct names of the model, time and rule", a.Name, b.Name, err)
	}
	r := request("")
	r.Once = lifecycle.Once{ID: "slack:trigger:1", Expires: now.Add(time.Hour)}
	if _, err := quiet.Start(ctx, st, cfg, r, now); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.Start(ctx, st, cfg, r, now); !errors.Is(err, state.ErrDuplicate) {
		t.Errorf("a copy of the request: %v, want ErrDuplicate", err)
	}
	for i := 3; i < state.MaxQuiets; i++ {
		if _, err := quiet.Start(ctx, st, cfg, request(""), now); err != nil {
			t.Fatalf("window %d: %v", i+1, err)
		}
	}
	if _, err := quiet.Start(ctx, st, cfg, request(""), now); !errors.Is(err, quiet.ErrFull) {
		t.Errorf("window %d: %v, want ErrFull", state.MaxQuiets+1, err)
	}
}

// Check names what is wrong, and the model's rules.
func TestCheckSaysWhatIsWrong(t *testing.T) {
	cfg, _ := setup(t)
	for _, c := range []struct {
		name string
		edit func(r *quiet.Request)
		want string
	}{
		{"unknown rule", func(r *quiet.Request) { r.Rule = "feature-drfit" }, `has no rule "feature-drfit" (did you mean "feature-drift"?)`},
		{"zero length", func(r *quiet.Request) { r.For = 0 }, "positive length"},
		{"too long", func(r *quiet.Request) { r.For = 8 * 24 * time.Hour }, "longer than 7 days"},
		{"no reason", func(r *quiet.Request) { r.Reason = " " }, "needs a reason"},
		{"unknown model", func(r *quiet.Request) { r.Model = "churn" }, `no model "churn"`},
	} {
		r := request("")
		c.edit(&r)
		if err := quiet.Check(cfg, r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
