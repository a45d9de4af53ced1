package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Error is a delivery error classified once, at the boundary to the vendor:
// Retry says whether trying again can help (rate limits, 5xx, network
// errors), After how long the vendor asked us to wait. Reason is a short
// machine-readable cause for audit records ("channel_not_found", "http 400").
// Err never holds a secret: notifiers build it from vendor error codes.
type Error struct {
	Retry  bool
	After  time.Duration
	Reason string
	// Unanswered: the request may have been applied though no answer came
	// (a network error, a timeout, a 5xx); a retry of a non-idempotent
	// call must first check.
	Unanswered bool
	// Global: the fault is not this notification's but every one's — the
	// bot token was revoked, no Slack token is configured. Such failures
	// wait for the fix however long it takes, and are never given up on.
	Global bool
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether err is a classified error that retrying cannot
// fix (the channel does not exist, the routing key is invalid, the request
// is malformed).
func Permanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Retry
}

// Reason is err's short cause: its classified Reason, or its text.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return err.Error()
}

// RetryableStatus reports whether an HTTP status is worth retrying: 429
// and 5xx, as Slack and PagerDuty both document; any other 4xx means the
// request itself is wrong.
func RetryableStatus(code int) bool { return code == 429 || code >= 500 }

// Policy bounds retries within one delivery attempt.
type Policy struct {
	// Initial and Max bound the exponential backoff between tries (with
	// ±50% jitter, so that many senders do not retry in step).
	Initial, Max time.Duration
	// Margin is kept free before the context's deadline (a Lambda's time
	// budget): no try starts, and no wait ends, later than that.
	Margin time.Duration
	// Tries caps the tries of one operation.
	Tries uint
	// TryTimeout bounds one try: a vendor that hangs costs one try, not
	// the whole budget.
	TryTimeout time.Duration
	// MaxElapsed bounds all tries and waits when the context has no
	// deadline (the CLI).
	MaxElapsed time.Duration
}

// DefaultPolicy suits a Lambda with a budget of tens of seconds.
var DefaultPolicy = Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Margin: 2 * time.Second, Tries: 6,
	TryTimeout: 10 * time.Second, MaxElapsed: 30 * time.Second}

// Do runs op until it succeeds, fails permanently, runs out of tries, or
// the next wait would pass the deadline less the margin. A rate limit's
// Retry-After is honoured rather than the backoff. The error returned is
// op's last (a classified *Error when op classified it).
func Do[T any](ctx context.Context, p Policy, op func(context.Context) (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.RandomizationFactor = p.Initial, p.Max, 0.5
	var last error
	wrapped := func() (T, error) {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < p.Margin {
			var zero T
			if last == nil {
				last = fmt.Errorf("no time left before the deadline: %w", context.DeadlineExceeded)
			}
			return zero, backoff.Permanent(last)
		}
		// A try ends by TryTimeout, and never within the margin: a vendor
		// that hangs must leave time to record what happened.
		tryCtx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok {
			tryCtx, cancel = context.WithDeadline(ctx, deadline.Add(-p.Margin))
		}
		if p.TryTimeout > 0 {
			c, cancelTry := context.WithTimeout(tryCtx, p.TryTimeout)
			parent := cancel
			tryCtx, cancel = c, func() { cancelTry(); parent() }
		}
		v, err := op(tryCtx)
		cancel()
		if err == nil {
			return v, nil
		}
		last = err
		var e *Error
		if errors.As(err, &e) {
			if !e.Retry {
				return v, backoff.Permanent(err)
			}
			if e.After > 0 {
				return v, backoff.RetryAfter(int((e.After + time.Second - 1) / time.Second))
			}
		}
		if ctx.Err() != nil {
			return v, backoff.Permanent(err)
		}
		return v, err
	}
	opts := []backoff.RetryOption{backoff.WithBackOff(b), backoff.WithMaxTries(p.Tries)}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, backoff.WithMaxElapsedTime(max(time.Until(deadline)-p.Margin, time.Nanosecond)))
	} else if p.MaxElapsed > 0 {
		opts = append(opts, backoff.WithMaxElapsedTime(p.MaxElapsed))
	}
	v, err := backoff.Retry(ctx, wrapped, opts...)
	if err != nil && last != nil {
		// backoff wraps and replaces errors (RetryAfter, Permanent, the
		// context's); callers classify the operation's own.
		return v, last
	}
	return v, err
}
