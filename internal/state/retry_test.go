package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func conflict(id string) error { return fmt.Errorf("alert %s: %w", id, ErrConflict) }

func TestOnConflict(t *testing.T) {
	boom := errors.New("throttled")
	for _, tc := range []struct {
		name      string
		tries     int
		results   []error // what fn returns at each attempt; the last repeats
		wantCalls int
		wantErr   string // "" for none
		wantIs    []error
		wantNotIs []error
	}{
		{name: "success on the first attempt runs fn once", tries: 8, results: []error{nil}, wantCalls: 1},
		{name: "a conflict is retried until it clears", tries: 8, results: []error{conflict("a"), conflict("a"), nil}, wantCalls: 3},
		{name: "an error that is not a conflict ends the retries as it is", tries: 8,
			results: []error{conflict("a"), boom}, wantCalls: 2, wantErr: "throttled", wantIs: []error{boom}, wantNotIs: []error{ErrConflict}},
		{name: "conflicts beyond tries give up, naming the attempts", tries: 3, results: []error{conflict("a")}, wantCalls: 3,
			wantErr: "3 attempts conflicted: alert a: state changed concurrently", wantIs: []error{ErrConflict}},
		{name: "tries below one still runs fn once", tries: 0, results: []error{conflict("a")}, wantCalls: 1,
			wantErr: "1 attempt conflicted: alert a: state changed concurrently", wantIs: []error{ErrConflict}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var attempts []int
			err := OnConflict(context.Background(), tc.tries, func(attempt int) error {
				attempts = append(attempts, attempt)
				return tc.results[min(attempt, len(tc.results))-1]
			})
			if want := seq(tc.wantCalls); !slices.Equal(attempts, want) {
				t.Errorf("OnConflict ran fn with attempts %v, want %v", attempts, want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("OnConflict = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("OnConflict = %v, want %s", err, tc.wantErr)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("OnConflict = %v, want it to wrap %v", err, target)
				}
			}
			for _, target := range tc.wantNotIs {
				if errors.Is(err, target) {
					t.Errorf("OnConflict = %v, want it not to wrap %v", err, target)
				}
			}
		})
	}

	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		err := OnConflict(ctx, 8, func(attempt int) error {
			calls++
			if attempt == 2 {
				cancel()
			}
			return conflict("a")
		})
		if calls != 2 {
			t.Errorf("OnConflict ran fn %d times after the context was cancelled at the 2nd, want 2", calls)
		}
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrConflict) {
			t.Errorf("OnConflict = %v, want context.Canceled and not ErrConflict (retrying again would not help)", err)
		}
		if want := "stopped after 2 attempts, the last conflicted (alert a: state changed concurrently): context canceled"; err == nil || err.Error() != want {
			t.Errorf("OnConflict = %v, want %s", err, want)
		}
	})

	t.Run("a context cancelled during the pauses ends them", func(t *testing.T) {
		// 200 conflicts with pauses of up to 64 ms take seconds: only the
		// context can end them within the deadline.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		err := OnConflict(ctx, 200, func(int) error { return conflict("a") })
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("OnConflict took %s after its context was cancelled at 30ms", took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("OnConflict = %v, want context.Canceled", err)
		}
	})

	t.Run("the pauses stay short however many conflicts", func(t *testing.T) {
		for n := range 40 {
			limit := min(time.Millisecond<<min(max(n-1, 0), 6), 64*time.Millisecond)
			for range 100 {
				if d := conflictPause(n); d < 0 || d >= limit {
					t.Fatalf("conflictPause(%d) = %s, want in [0, %s)", n, d, limit)
				}
			}
		}
	})

	t.Run("the pauses are jittered", func(t *testing.T) {
		seen := map[time.Duration]bool{}
		for range 50 {
			seen[conflictPause(7)] = true
		}
		if len(seen) < 10 {
			t.Errorf("conflictPause(7) took %d distinct values in 50 draws, want them spread", len(seen))
		}
	})
}

// seq is 1, 2, … n.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}
