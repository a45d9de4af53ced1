package notify

import (
	"errors"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// Error is a delivery error classified once, at the boundary to the vendor,
// by the notifier of each receiver (Slack, PagerDuty, EventBridge): the
// one classification the delivery core acts on. Retry says whether trying
// again can help (rate limits, 5xx, network errors), After how long the
// vendor asked us to wait (Retry-After). Reason is a short
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
	// bot token was revoked, no Slack token is configured. Such a failure
	// is declared at once (nobody should wait for a deadline to hear
	// that a channel is dead), and delivery goes on being tried, so that
	// what is still waiting goes out once someone fixes it.
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

// MaxReasonBytes bounds a reason as notifications and audit records keep
// it: an unclassified error's text can be anything a vendor sent.
const MaxReasonBytes = 500

// Reason is err's short cause: its classified Reason, or its text
// (bounded: MaxReasonBytes).
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return state.Clip(e.Reason, MaxReasonBytes)
	}
	return state.Clip(err.Error(), MaxReasonBytes)
}

// RetryableStatus reports whether an HTTP status is worth retrying: 429
// and 5xx, as Slack and PagerDuty both document; any other 4xx means the
// request itself is wrong.
func RetryableStatus(code int) bool { return code == 429 || code >= 500 }
