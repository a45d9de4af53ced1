package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// OnConflict runs fn, and runs it again while it returns an error wrapping
// ErrConflict: every conditional write in stakeout re-reads what it
// decided on and decides again when that moved, and this is the one loop
// that does it. fn is told which attempt it is, from 1. An error that is
// not a conflict, or none, ends the retries and is returned as fn gave it.
//
// Between attempts it pauses for a random moment that grows with each
// conflict (see conflictPause): contenders for one record spread out
// instead of colliding again in step. The pause is cut short when ctx is
// done, and the retries end there, with an error wrapping the context's.
// After tries attempts that all conflicted it gives up with an error that
// names their number and wraps the last conflict.
func OnConflict(ctx context.Context, tries int, fn func(attempt int) error) error {
	tries = max(tries, 1)
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil || !errors.Is(err, ErrConflict) {
			return err
		}
		if attempt >= tries {
			return fmt.Errorf("%s conflicted: %w", attempts(attempt), err)
		}
		if cerr := pause(ctx, conflictPause(attempt)); cerr != nil {
			return fmt.Errorf("stopped after %s, the last conflicted (%v): %w", attempts(attempt), err, cerr)
		}
	}
}

// maxConflictPause bounds the pause after a conflict: a Lambda retrying a
// busy record must still finish well within its timeout.
const maxConflictPause = 64 * time.Millisecond

// conflictPause is how long to wait after the n-th conflict in a row:
// random below 1 ms, 2 ms, 4 ms … up to maxConflictPause.
func conflictPause(n int) time.Duration {
	limit := min(time.Millisecond<<min(max(n-1, 0), 6), maxConflictPause)
	return time.Duration(rand.Int64N(int64(limit)))
}

// pause waits d, or until ctx is done (then it returns why).
func pause(ctx context.Context, d time.Duration) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
