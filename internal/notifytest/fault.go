// Package notifytest provides in-process fakes of the Slack Web API and the
// PagerDuty Events API v2 for the tests of the Slack and PagerDuty notifiers.
//
// The fakes speak the documented wire formats closely enough that the real
// client libraries (github.com/slack-go/slack and
// github.com/PagerDuty/go-pagerduty) can be pointed at them unchanged. They
// keep state (messages, threads, incidents), reject what the real services
// would reject, and record every rejection, so a notifier test can assert
// both what was delivered and that nothing invalid was ever sent. Faults
// (rate limiting, 5xx, slow answers, lost responses) can be queued to
// exercise the notifiers' retry and idempotency logic deterministically,
// which is impossible against the real services.
//
// Every server is closed by t.Cleanup, and all methods are safe for
// concurrent use because notifiers send from several goroutines.
package notifytest

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fault makes one call to a fake misbehave. A Fault is queued with Fail and
// consumed by the next matching call, so a test states exactly which attempt
// fails instead of relying on timing.
type Fault struct {
	// Status, when non-zero, answers the call with this HTTP status and the
	// service's error body for it, without applying the call's effect.
	// 429 carries a Retry-After header (see RetryAfter); 5xx statuses carry
	// the body the real service sends with them.
	Status int

	// RetryAfter is sent, rounded up to whole seconds, in the Retry-After
	// header of a 429. Slack always sends that header, so the Slack fake
	// uses one second when RetryAfter is zero; PagerDuty documents none, so
	// the PagerDuty fake sends it only when RetryAfter is set.
	RetryAfter time.Duration

	// Delay holds the answer back this long, to provoke client timeouts. The
	// wait ends early when the client gives up (the request context is
	// cancelled); the call then has no effect, as if it never arrived.
	Delay time.Duration

	// LoseResponse applies the call's effect (the message is posted, the
	// event is accepted) and then drops the connection without answering, so
	// the client sees a network error for a call that in fact succeeded.
	// This is the case that makes retries post duplicates.
	LoseResponse bool

	// Error, Slack only, answers {"ok":false,"error":Error} with HTTP 200,
	// the way Slack reports API errors, without applying the call's effect.
	Error string
}

// retryAfterSeconds renders d as the whole number of seconds, rounded up,
// that a Retry-After header carries; a positive duration never becomes "0",
// which clients would read as "retry immediately".
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// wait sleeps for d unless the client gives up or the fake is closing. It
// reports whether the full delay elapsed.
func wait(ctx context.Context, closing <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-closing:
		return false
	}
}

// loseResponse drops the connection without writing a response. The call's
// effect has already been applied by the caller. http.ErrAbortHandler makes
// net/http close the connection (HTTP/1) or reset the stream (HTTP/2)
// without logging, so the client gets an EOF or reset and no status code.
func loseResponse() {
	panic(http.ErrAbortHandler)
}
