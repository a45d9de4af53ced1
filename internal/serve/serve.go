// Package serve runs the whole of stakeout in one process, over HTTP: the
// handlers the Lambda functions run (the router behind an EventBridge
// PutEvents endpoint, the Slack and PagerDuty endpoints) and the escalator
// on the real clock, for development, demos and benchmarks. Lambda stays
// the production path; this package adds no second implementation of any
// of them, only the process around them: one listener, timed loops, and a
// shutdown that finishes what was accepted before it saves the state.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Loop is work the process does on a timer (an escalator run, a drain of
// the outbox). It returns an error for a fault worth a log line; the next
// run tries again, as the functions' next invocation would.
type Loop struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
	// Next, if set, says when the work is next due (zero: nothing known):
	// the loop runs then if that is sooner than Every, so that an update
	// due at the end of its window goes out then, not up to Every later.
	// It is asked after each run; work queued meanwhile for sooner waits
	// at most Every, as without it, unless Wake says so.
	Next func() time.Time
	// Wake, if set, runs the loop at once when it receives (the router
	// queued notifications to deliver).
	Wake <-chan struct{}
	// Timeout bounds one run (default a minute, the escalator function's
	// own timeout): a run hung on a channel must not hold the shutdown,
	// nor the save, forever.
	Timeout time.Duration
}

// minWait is the least a loop waits between runs: work that is still due
// after a run (a channel failing, more than a run's limit) is not run
// again in a busy loop.
const minWait = 10 * time.Millisecond

// Server is the one process. Routes are mounted as given; the zero value
// of an optional handler leaves its path answering 503 with what to set.
type Server struct {
	// Addr is where to listen ("127.0.0.1:8080"; port 0 picks one).
	Addr string
	// Events is the EventBridge PutEvents endpoint, at "POST /".
	Events http.Handler
	// Slack and PagerDuty are the functions' Function URL handlers, at
	// /slack/actions and /pagerduty/webhook.
	Slack, PagerDuty http.Handler
	// Metrics is GET /metrics (Prometheus' text format).
	Metrics http.Handler
	// Loops run from Serve until shutdown begins.
	Loops []Loop
	// Save runs once at the end, after every request and loop has
	// finished (the embedded store written to --state).
	Save func() error
	Log  *slog.Logger
	// Grace bounds the wait for in-flight requests at shutdown (default
	// 30 s): a client that never reads its answer must not keep the
	// state from being saved.
	Grace time.Duration
}

// Unconfigured answers every request with 503 and why: a path whose
// handler could not be built (a signing secret not set), which still
// says what to do rather than 404.
func Unconfigured(why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, why, http.StatusServiceUnavailable)
	})
}

// Handler is the process's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mount := func(pattern string, h http.Handler, missing string) {
		if h == nil {
			h = Unconfigured(missing)
		}
		mux.Handle(pattern, h)
	}
	mount("GET /metrics", s.Metrics, "metrics are not configured")
	mount("/slack/actions", s.Slack, "the Slack endpoint is not configured: set SLACK_SIGNING_SECRET to a secret reference and its STAKEOUT_SECRET_* variable to the signing secret")
	mount("/pagerduty/webhook", s.PagerDuty, "the PagerDuty endpoint is not configured: set PAGERDUTY_WEBHOOK_SECRET to a secret reference and its STAKEOUT_SECRET_* variable to the webhook secret")
	// PutEvents is POST /; the endpoint answers anything else at / the
	// way EventBridge does (UnknownOperationException), so a mistyped
	// path reads as an AWS error to the SDK rather than a 404 page.
	mount("/", s.Events, "the PutEvents endpoint is not configured")
	return mux
}

// Serve listens and serves until ctx is done, then shuts down: it stops
// accepting, lets in-flight requests finish (within Grace), stops the
// loops after their current run, and saves. ready, if not nil, is called
// with the address once it listens.
func (s *Server) Serve(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	loopsCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	for _, l := range s.Loops {
		loops.Go(func() { s.loop(loopsCtx, l) })
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		s.log().Info("shutting down: no new requests; finishing those in flight")
		grace, cancel := context.WithTimeout(context.Background(), cmpDuration(s.Grace, 30*time.Second))
		err = srv.Shutdown(grace)
		cancel()
		if err != nil {
			err = fmt.Errorf("requests still in flight after %s: %w", cmpDuration(s.Grace, 30*time.Second), err)
		}
	}
	stopLoops()
	loops.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if s.Save != nil {
		if serr := s.Save(); serr != nil {
			return errors.Join(err, fmt.Errorf("save: %w", serr))
		}
	}
	return err
}

// loop runs l every l.Every until ctx is done; a run in progress when it
// is finishes first (its context is not the one cancelled).
func (s *Server) loop(ctx context.Context, l Loop) {
	t := time.NewTimer(l.wait(time.Now()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.Wake:
			t.Stop()
		}
		s.run(ctx, l)
		t.Reset(l.wait(time.Now()))
	}
}

// wait is how long the loop waits from now before its next run: Every,
// or less when Next is sooner (never less than minWait).
func (l Loop) wait(now time.Time) time.Duration {
	if l.Next == nil {
		return l.Every
	}
	next := l.Next()
	if next.IsZero() {
		return l.Every
	}
	return min(l.Every, max(next.Sub(now), min(minWait, l.Every)))
}

// run runs l once, within its timeout, on a context the shutdown does not
// cancel: a run in progress finishes.
func (s *Server) run(ctx context.Context, l Loop) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmpDuration(l.Timeout, time.Minute))
	defer cancel()
	if err := l.Run(ctx); err != nil {
		s.log().Error(l.Name+" failed; it runs again", "error", err, "every", l.Every.String())
	}
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
