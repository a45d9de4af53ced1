package signal

import (
	"errors"
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/duration"
)

// MaxEventBytes is the largest event stakeout reads, envelope included:
// the router quarantines a larger one, and the CLI refuses it. It is a
// quarter of what EventBridge lets an entry carry (256 KB): a signal is a
// few hundred bytes, and a larger one is a monitor sending something else.
const MaxEventBytes = 64 << 10

// Earliest is the earliest time an event may carry. Before it, a time is
// a zero or unset clock (0001-01-01, the Unix epoch), not a measurement:
// accepted, it would be late on every series, or open an alert dated year 1.
var Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// The reasons a time is refused, for errors.Is.
var (
	// ErrTooEarly: a time before Earliest.
	ErrTooEarly = errors.New("time before 2000-01-01")
	// ErrFuture: a time ahead of the clock by more than the allowed skew.
	ErrFuture = errors.New("time in the future")
)

// sizeError refuses an event over MaxEventBytes ("" when it is not).
func sizeError(data []byte) error {
	if len(data) > MaxEventBytes {
		return fmt.Errorf("event is %d bytes, more than the %d (%d KiB) an event may have", len(data), MaxEventBytes, MaxEventBytes>>10)
	}
	return nil
}

// times visits the event's time fields by their JSON names.
func (e *Event) times(visit func(field string, t time.Time) error) error {
	if err := visit("observed_at", e.ObservedAt); err != nil {
		return err
	}
	for _, f := range [...]struct {
		name string
		t    *time.Time
	}{{"window_start", e.WindowStart}, {"window_end", e.WindowEnd}} {
		if f.t != nil {
			if err := visit(f.name, *f.t); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEarliest refuses times before Earliest.
func (e *Event) checkEarliest() error {
	return e.times(func(field string, t time.Time) error {
		if t.Before(Earliest) {
			return &FieldError{Field: field, Err: ErrTooEarly, Msg: fmt.Sprintf(
				"%s is before %s, the earliest time stakeout accepts: the monitor sent a zero or unset time",
				t.Format(time.RFC3339Nano), Earliest.Format(time.RFC3339))}
		}
		return nil
	})
}

// CheckClock refuses times ahead of now by more than skew: a monitor
// whose clock or time zone is wrong. The router checks it against the
// wall clock; an event's own times cannot bound themselves.
func (e *Event) CheckClock(now time.Time, skew time.Duration) error {
	return e.times(func(field string, t time.Time) error {
		if t.After(now.Add(skew)) {
			return &FieldError{Field: field, Err: ErrFuture, Msg: fmt.Sprintf(
				"%s is %s in the future (more than the %s allowed): the monitor's clock or time zone is wrong",
				t.UTC().Format(time.RFC3339), duration.Format(t.Sub(now).Round(time.Minute)), duration.Format(skew))}
		}
		return nil
	})
}
