package bus

import (
	"context"

	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/notify"
)

// Publishing publishes entries (*Publisher, or replay's printer).
type Publishing interface {
	Publish(ctx context.Context, entries ...Entry) error
}

// Notifier is the EventBridge receiver of the delivery core: it publishes
// each notification's lifecycle event. Subscribers deduplicate by the
// detail's id (the notification's), since a retry after a lost answer
// publishes it again.
type Notifier struct {
	Bus Publishing
}

// Notify makes one attempt to publish m's lifecycle event.
func (b *Notifier) Notify(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	e := m.Event
	if err := b.Bus.Publish(ctx, Entry{DetailType: e.DetailType, Detail: e.Detail, Time: e.Time}); err != nil {
		return deliver.Result{}, classify(err)
	}
	return deliver.Result{Outcome: "published " + e.DetailType}, nil
}

// classify turns a publishing error into the delivery core's one
// classification.
func classify(err error) error {
	if Permanent(err) {
		return &notify.Error{Reason: "eventbridge refused the event", Err: err}
	}
	return &notify.Error{Retry: true, Reason: "eventbridge unavailable", Err: err}
}
