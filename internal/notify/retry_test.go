package notify

import (
	"context"
	"errors"
	"testing"
	"time"
)

var fast = Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Margin: 10 * time.Millisecond, Tries: 5}

func TestDo(t *testing.T) {
	transient := &Error{Retry: true, Reason: "http 503", Err: errors.New("503")}
	permanent := &Error{Reason: "channel_not_found", Err: errors.New("channel_not_found")}
	for _, tc := range []struct {
		name      string
		errs      []error // what each try returns, nil = success
		wantTries int
		wantErr   error
	}{
		{"success first time", []error{nil}, 1, nil},
		{"transient errors are retried", []error{transient, transient, nil}, 3, nil},
		{"a permanent error is not retried", []error{permanent, nil}, 1, permanent},
		{"tries are capped and the last error returned", []error{transient, transient, transient, transient, transient, nil}, 5, transient},
		{"unclassified errors are retried", []error{errors.New("eof"), nil}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			_, err := Do(context.Background(), fast, func(context.Context) (int, error) {
				tries++
				return tries, tc.errs[tries-1]
			})
			if tries != tc.wantTries || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Errorf("Do: %d tries, error %v; want %d, %v", tries, err, tc.wantTries, tc.wantErr)
			}
		})
	}
}

func TestDoHonoursRetryAfterAndTheDeadline(t *testing.T) {
	limited := &Error{Retry: true, After: time.Second, Reason: "ratelimited", Err: errors.New("429")}
	t.Run("a Retry-After beyond the deadline ends the tries", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		tries := 0
		_, err := Do(ctx, fast, func(context.Context) (int, error) { tries++; return 0, limited })
		if tries != 1 || !errors.Is(err, limited) {
			t.Errorf("Do = %d tries, %v; want 1 try and the rate limit", tries, err)
		}
	})
	t.Run("a Retry-After within the budget is waited for", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tries := 0
		start := time.Now()
		_, err := Do(ctx, fast, func(context.Context) (int, error) {
			tries++
			if tries == 1 {
				return 0, limited
			}
			return 1, nil
		})
		if err != nil || tries != 2 || time.Since(start) < time.Second {
			t.Errorf("Do = %d tries, %v after %s; want 2 tries after at least 1s", tries, err, time.Since(start))
		}
	})
	t.Run("no try starts within the margin of the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		tries := 0
		_, err := Do(ctx, fast, func(context.Context) (int, error) { tries++; return 0, nil })
		if tries != 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do = %d tries, %v; want none and DeadlineExceeded", tries, err)
		}
	})
	t.Run("a hanging try is cut at TryTimeout and retried", func(t *testing.T) {
		p := fast
		p.TryTimeout = 20 * time.Millisecond
		tries := 0
		_, err := Do(context.Background(), p, func(ctx context.Context) (int, error) {
			tries++
			if tries == 1 {
				<-ctx.Done()
				return 0, &Error{Retry: true, Unanswered: true, Reason: "no answer", Err: ctx.Err()}
			}
			return 1, nil
		})
		if err != nil || tries != 2 {
			t.Errorf("Do = %d tries, %v; want 2, nil", tries, err)
		}
	})
}

func TestATryNeverRunsIntoTheMargin(t *testing.T) {
	p := fast
	p.Margin = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, _ = Do(ctx, p, func(ctx context.Context) (int, error) {
		<-ctx.Done() // a vendor that hangs
		return 0, &Error{Retry: true, Unanswered: true, Reason: "no answer", Err: ctx.Err()}
	})
	if left := time.Until(deadline); left < p.Margin/2 {
		t.Errorf("Do returned %s before the deadline, want about the margin (%s) left", left, p.Margin)
	}
}
