package metrics

import (
	"context"
	"log/slog"
)

// Namespace is where stakeout's metrics go in CloudWatch; each carries the
// dimension Stack (the CloudFormation stack), so that two deployments in
// one account stay apart. template.yaml's dashboard and alarms read them.
const Namespace = "stakeout"

// Metric names. Changing one breaks the dashboard and the alarms in
// template.yaml (make test checks that they only name these).
const (
	EventsReceived       = "EventsReceived"       // signals the router took (duplicates included)
	EventsQuarantined    = "EventsQuarantined"    // signals set aside with a reason
	EventsLate           = "EventsLate"           // signals no newer than their series' latest reading (logged with the reason)
	EventsIgnored        = "EventsIgnored"        // events read with nothing to evaluate: unmatched AWS service events, unfinished runs (logged with the reason)
	RulesEvaluated       = "RulesEvaluated"       // rule evaluations (one per rule of the model per signal)
	RuleErrors           = "RuleErrors"           // rules stopped over their evaluation budget; also by Model
	AlertsOpened         = "AlertsOpened"         // also by Model and by Owner
	AlertsSuppressed     = "AlertsSuppressed"     // opened inhibited; also by Model
	AlertsEscalated      = "AlertsEscalated"      // escalation notices sent; also by Owner
	NotificationsSent    = "NotificationsSent"    // outbox notifications sent on every channel
	NotificationFailures = "NotificationFailures" // channels that failed for good (an owner was not told there)
	NotificationLag      = "NotificationLag"      // ms from the opening signal's observed_at to its notification sent
	TimeToAcknowledge    = "TimeToAcknowledge"    // ms from the alert's observed_at to its acknowledgement; also by Owner
)

// Names lists every metric stakeout emits.
var Names = []string{EventsReceived, EventsQuarantined, EventsLate, EventsIgnored, RulesEvaluated, RuleErrors, AlertsOpened, AlertsSuppressed,
	AlertsEscalated, NotificationsSent, NotificationFailures, NotificationLag, TimeToAcknowledge}

// Flushing wraps a Lambda handler so that what an invocation recorded is
// written when it returns, whatever it returns.
func Flushing[In, Out any](r *Recorder, log *slog.Logger, h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	if r == nil {
		return h
	}
	return func(ctx context.Context, in In) (Out, error) {
		defer func() {
			if err := r.Flush(); err != nil {
				log.ErrorContext(ctx, "metrics not written", "error", err)
			}
		}()
		return h(ctx, in)
	}
}
