package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// racingStore runs race before each of the first commits it is asked
// for: another writer getting there first.
type racingStore struct {
	*memstore.Store
	commits int
	race    func(commit int) error // nil: no race
}

func (r *racingStore) Commit(ctx context.Context, c *state.Commit) error {
	r.commits++
	if r.race != nil {
		if err := r.race(r.commits); err != nil {
			return err
		}
	}
	return r.Store.Commit(ctx, c)
}

func TestConflictsAreDecidedAgain(t *testing.T) {
	now := func() time.Time { return t0.Add(24 * time.Hour) }
	setup := func(t *testing.T) (*Processor, *racingStore) {
		st := &racingStore{Store: memstore.New(now)}
		return &Processor{Config: testConfig(t), Store: st, Now: now}, st
	}

	t.Run("an event without contention takes one attempt", func(t *testing.T) {
		p, _ := setup(t)
		if out := process(t, p, event("e1", "drift", "psi", "income", 0.4, 0)); out.Attempts != 1 {
			t.Errorf("Attempts = %d, want 1", out.Attempts)
		}
	})

	t.Run("an event of a series another event changed meanwhile is decided again", func(t *testing.T) {
		p, st := setup(t)
		other := &Processor{Config: p.Config, Store: st.Store, Now: now}
		st.race = func(commit int) error {
			if commit == 1 {
				// The series' previous reading, breaching too, lands
				// between this event's read and its commit.
				if _, err := other.Process(context.Background(), event("e0", "drift", "psi", "income", 0.3, -time.Minute)); err != nil {
					t.Fatalf("the racing event: %v", err)
				}
			}
			return nil
		}
		out := process(t, p, event("e1", "drift", "psi", "income", 0.4, 0))
		// Decided on what it first read, it would open the alert a
		// second time and notify twice.
		if out.Attempts != 2 || !out.Wrote || states(out) != "psi:updated" || len(out.Queued) != 0 {
			t.Errorf("Process = %d attempts, wrote %v, changes %q, %d queued; want 2 attempts that update the open psi alert and queue nothing",
				out.Attempts, out.Wrote, states(out), len(out.Queued))
		}
		if pending, _ := st.Pending(context.Background(), farFuture, 100); len(pending) != 1 {
			t.Errorf("%d notifications queued in all, want 1", len(pending))
		}
	})

	t.Run("an event that keeps conflicting gives up, naming its attempts", func(t *testing.T) {
		p, st := setup(t)
		st.race = func(int) error { return errConflict }
		out, err := p.Process(context.Background(), event("e1", "drift", "psi", "income", 0.4, 0))
		if !errors.Is(err, state.ErrConflict) || !strings.HasPrefix(err.Error(), "commit event e1: 8 attempts conflicted: ") {
			t.Errorf("Process = %v, want commit event e1: 8 attempts conflicted: … wrapping ErrConflict", err)
		}
		if out.Attempts != maxAttempts || st.commits != maxAttempts {
			t.Errorf("Process took %d attempts and %d commits, want %d of each", out.Attempts, st.commits, maxAttempts)
		}
	})

	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		p, st := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st.race = func(commit int) error {
			if commit == 2 {
				cancel() // the Lambda's deadline, say
			}
			return errConflict
		}
		out, err := p.Process(ctx, event("e1", "drift", "psi", "income", 0.4, 0))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Process = %v, want context.Canceled", err)
		}
		if out.Attempts != 2 || st.commits != 2 {
			t.Errorf("Process took %d attempts and %d commits after the context was cancelled at the 2nd, want 2", out.Attempts, st.commits)
		}
	})
}

// errConflict is what a store says when a record moved since it was read.
var errConflict = fmt.Errorf("series m/drift/psi/income: %w", state.ErrConflict)
