package putevents

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// put validates one entry, makes it an event, and routes the event if a
// rule matches it. Every outcome is logged with the event's id or the
// reason, and counted.
func (h *Handler) put(ctx context.Context, e *Entry, now time.Time) ResultEntry {
	t, bad := CheckEntry(e, now)
	if bad != nil {
		h.rejected.Add(1)
		h.log.WarnContext(ctx, "PutEvents entry rejected", "error_code", bad.Code, "error", bad.Message)
		return ResultEntry{ErrorCode: bad.Code, ErrorMessage: bad.Message}
	}
	ev := signal.Envelope{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: *e.DetailType,
		Source:     *e.Source,
		Account:    h.acct,
		// EventBridge's time has whole seconds.
		Time:      t.Truncate(time.Second).Format(time.RFC3339),
		Region:    h.region,
		Resources: e.Resources,
		Detail:    json.RawMessage(*e.Detail),
	}
	if ev.Resources == nil {
		ev.Resources = []string{}
	}
	raw, err := json.Marshal(ev)
	if err != nil { // Detail was checked to be a JSON object
		return h.fail(ctx, ev, "encode event: "+err.Error())
	}
	bus := BusName(e.EventBusName)
	rules, err := matching(h.rules, bus, raw)
	if err != nil {
		return h.fail(ctx, ev, "match event: "+err.Error())
	}
	if len(rules) == 0 {
		h.unmatched.Add(1)
		h.log.WarnContext(ctx, "PutEvents entry accepted but matched no rule: not delivered",
			"event_id", ev.ID, "bus", bus, "source", ev.Source, "detail_type", ev.DetailType)
		return ResultEntry{EventId: ev.ID}
	}
	// The router's rules are disjoint (they differ in detail-type), so an
	// event is routed once; EventBridge would deliver it once per rule.
	if err := h.router.Route(ctx, raw); err != nil {
		return h.fail(ctx, ev, "the router did not apply the event ("+err.Error()+"); send it again")
	}
	h.routed.Add(1)
	// Debug: the router logs every event it applies, by this id.
	h.log.DebugContext(ctx, "PutEvents entry routed", "event_id", ev.ID, "rules", strings.Join(rules, ","))
	return ResultEntry{EventId: ev.ID}
}

// fail answers an entry the router could not take as InternalFailure,
// which EventBridge documents as retryable: the event is not kept, and
// the client that sent it knows to send it again.
func (h *Handler) fail(ctx context.Context, ev signal.Envelope, reason string) ResultEntry {
	h.failed.Add(1)
	h.log.ErrorContext(ctx, "PutEvents entry failed", "event_id", ev.ID, "source", ev.Source, "detail_type", ev.DetailType, "error", reason)
	return ResultEntry{ErrorCode: "InternalFailure", ErrorMessage: reason}
}
