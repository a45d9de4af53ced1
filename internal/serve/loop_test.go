package serve

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A loop whose work says it is due soon runs then, not a whole Every
// later: an update due when its window ends goes out at that moment.
func TestLoopRunsWhenNextSaysItIsDue(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	due := time.Now().Add(100 * time.Millisecond)
	ran := make(chan time.Time, 1)
	l := Loop{Name: "drain", Every: time.Hour, Next: func() time.Time { return due },
		Run: func(context.Context) error {
			select {
			case ran <- time.Now():
			default:
			}
			return nil
		}}
	go (&Server{}).loop(ctx, l)
	select {
	case at := <-ran:
		if at.Before(due) {
			t.Errorf("ran at %v, before the work was due (%v)", at, due)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run within 10s of its work's due time; it waited for Every (1h)")
	}
}

// Without Next, or when Next knows of nothing (zero), a loop waits Every;
// a due time in the past waits minWait, so that work still due after a
// run is not run in a busy loop; one beyond Every waits Every.
func TestLoopWaitsEveryUnlessNextIsSooner(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return now.Add(d) } }
	for _, c := range []struct {
		name string
		next func() time.Time
		want time.Duration
	}{
		{"no Next", nil, time.Second},
		{"nothing due", func() time.Time { return time.Time{} }, time.Second},
		{"due sooner", at(300 * time.Millisecond), 300 * time.Millisecond},
		{"due later", at(time.Minute), time.Second},
		{"overdue", at(-time.Minute), minWait},
	} {
		if got := (Loop{Every: time.Second, Next: c.next}).wait(now); got != c.want {
			t.Errorf("%s: wait = %v, want %v", c.name, got, c.want)
		}
	}
}

// A loop asks Next again after each run: a run that found nothing left
// due goes back to Every.
func TestLoopAsksNextAfterEachRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int32
	done := make(chan struct{})
	l := Loop{Name: "drain", Every: time.Hour,
		Next: func() time.Time {
			if runs.Load() < 3 {
				return time.Now().Add(20 * time.Millisecond)
			}
			return time.Time{}
		},
		Run: func(context.Context) error {
			if runs.Add(1) == 3 {
				close(done)
			}
			return nil
		}}
	go (&Server{}).loop(ctx, l)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d runs in 10s, want 3: Next was not asked again after a run", runs.Load())
	}
	time.Sleep(200 * time.Millisecond)
	if n := runs.Load(); n != 3 {
		t.Errorf("%d runs, want 3: with nothing due the loop should wait Every (1h)", n)
	}
}

// A wake runs the loop at once, whatever its Every: the router queued a
// notification, and the drain sends it now rather than a tick later.
func TestWakeRunsTheLoopAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := make(chan struct{}, 1)
	ran := make(chan struct{}, 1)
	l := Loop{Name: "drain", Every: time.Hour, Wake: wake, Run: func(context.Context) error {
		ran <- struct{}{}
		return nil
	}}
	go (&Server{}).loop(ctx, l)
	for i := range 3 {
		wake <- struct{}{}
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatalf("wake %d: the loop did not run; it waited for Every (1h)", i+1)
		}
	}
}

// A run is bounded by the loop's Timeout: a run hung on a channel ends,
// so that the shutdown and its save are not held forever.
func TestARunEndsAtItsTimeout(t *testing.T) {
	var done atomic.Bool
	l := Loop{Name: "hung", Timeout: 50 * time.Millisecond, Run: func(ctx context.Context) error {
		<-ctx.Done()
		done.Store(true)
		return ctx.Err()
	}}
	finished := make(chan struct{})
	go func() {
		(&Server{}).run(context.Background(), l)
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("a run past its 50ms timeout did not end")
	}
	if !done.Load() {
		t.Error("the run's context was not cancelled at its timeout")
	}
}
