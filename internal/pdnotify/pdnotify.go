// Package pdnotify pages through PagerDuty's Events API v2
// (https://developer.pagerduty.com/docs/events-api-v2/overview): an
// incident per alert group, triggered when the group opens and resolved
// when its last alert does, under a dedup key derived from the group so
// that a retried trigger merges into the same incident instead of paging
// twice. A group that must page again although its incident is open or
// over (asked again after reack_after, raised, reopened: see IncidentKey)
// opens its next incident, which supersedes the earlier ones (they are
// resolved). Routing keys are secret references resolved at send time.
package pdnotify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// PagerDuty's limits (Events API v2: "dedup_key: maximum 255 characters",
// "summary: maximum 1024 characters"; the whole event at most 512 KB).
const (
	MaxDedupKey    = 255
	MaxSummary     = 1024
	MaxDetailValue = 4096 // stakeout's own cap on one custom_details value
)

// Event actions.
const (
	Trigger     = "trigger"
	Acknowledge = "acknowledge"
	Resolve     = "resolve"
)

// Severity maps stakeout's severities onto PagerDuty's four.
var Severity = map[string]string{"critical": "critical", "high": "error", "warning": "warning", "info": "info"}

// dedupPrefix starts every dedup key stakeout triggers with.
const dedupPrefix = "stakeout/"

// DedupKey is the group's key: stable across retries and notifications of
// the group, distinct between groups. Group ids are short; an over-long one
// keeps a readable prefix and a hash of the whole.
func DedupKey(group string) string {
	k := dedupPrefix + group
	if len(k) <= MaxDedupKey {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	h := hex.EncodeToString(sum[:16])
	return truncateBytes(k, MaxDedupKey-len(h)-1) + "#" + h
}

// IncidentKey is the dedup key of the group's incident after `repages`
// re-pages (state.Lifecycle.Repages): the group's key for its first, then
// the group's key numbered ("stakeout/<group>/2", …). A trigger under the
// key of an incident still open — acknowledged, or triggered — is only
// appended to it and pages nobody: "If there is an open incident with a
// matching key, the new event will be appended to that incident's Alerts
// log as an additional Trigger log entry" (PagerDuty, Event Management,
// support.pagerduty.com/docs/event-management), and "once an incident is
// acknowledged, the assignee will not receive notifications" until its
// ack timeout (support.pagerduty.com/docs/incidents). A page that must
// reach someone again therefore opens the next incident.
func IncidentKey(group string, repages int) string {
	if repages <= 0 {
		return DedupKey(group)
	}
	return DedupKey(group + "/" + strconv.Itoa(repages+1))
}

// ParseIncidentKey reads a dedup key stakeout triggers with back into its
// group and re-page count (see IncidentKey); ok is false for a key not
// stakeout's. (A key shortened with a hash reads back as no group.)
func ParseIncidentKey(key string) (group string, repages int, ok bool) {
	rest, ok := strings.CutPrefix(key, dedupPrefix)
	if !ok {
		return "", 0, false
	}
	at := strings.LastIndexByte(rest, '@')
	if i := strings.LastIndexByte(rest, '/'); at >= 0 && i > at {
		if n, err := strconv.Atoi(rest[i+1:]); err == nil && n >= 2 && strconv.Itoa(n) == rest[i+1:] {
			return rest[:i], n - 1, true
		}
	}
	return rest, 0, true
}

// Event builds the Events API v2 body for a notification: a trigger for a
// group that opened, escalated, was reassigned, woke from a snooze, was
// asked again, raised or reopened (each to the owner it now belongs to,
// under the key of its current incident, IncidentKey); an acknowledge when
// someone acknowledged or snoozed it; a resolve for a finished one; and
// nothing for any other update, which must not page again. An acknowledge
// or resolve names the current incident; the notifier sends it for each of
// the group's open incidents under that incident's own key. The routing
// key is left empty: the sender sets it from the secret at the last moment.
func Event(v *notify.View) (*pagerduty.V2Event, bool) {
	key := IncidentKey(v.Group, v.Repages)
	switch v.Change {
	case state.NoticeOpened, state.NoticeEscalated, state.NoticeReassigned, state.NoticeSnoozeEnded, state.NoticeDeliveryFailed,
		state.NoticeStillOpen, state.NoticeRaised:
	case state.NoticeUpdated:
		if !v.Reopened {
			return nil, false
		}
	case state.NoticeAcknowledged, state.NoticeSnoozed:
		return &pagerduty.V2Event{Action: Acknowledge, DedupKey: key, Client: "stakeout"}, true
	case state.NoticeResolved:
		return &pagerduty.V2Event{Action: Resolve, DedupKey: key, Client: "stakeout"}, true
	default:
		return nil, false
	}
	return trigger(v, key), true
}

// trigger is the trigger event for v under dedup key key: its summary
// (marked for a failed delivery or a drill), links and details.
func trigger(v *notify.View, key string) *pagerduty.V2Event {
	details := triggerDetails(v)
	summary := fmt.Sprintf("[%s] %s: %s", v.Model, v.Rule, v.Summary)
	if f := v.Failure; f != nil {
		// Under the group's dedup key: it joins the group's incident when
		// one is open, and pages when the failed channel was the only one.
		summary = fmt.Sprintf("[%s] %s: %s failed (%s): %s", v.Model, v.Rule, f.Channel, f.Reason, v.Summary)
		details["delivery_failed"] = f.Channel
		details["delivery_failed_reason"] = f.Reason
	}
	if v.Drill {
		// Marked where a responder looks first (the incident's title),
		// and for tools reading the event.
		summary = fmt.Sprintf("%s: %s", notify.DrillMark, v.Summary)
		details["drill"] = true
	}
	return &pagerduty.V2Event{Action: Trigger, DedupKey: key, Client: "stakeout", Links: triggerLinks(v),
		Payload: &pagerduty.V2Payload{
			Summary:   truncateRunes(summary, MaxSummary),
			Source:    "stakeout/" + v.Model,
			Severity:  cmpOr(Severity[v.Severity], "error"),
			Timestamp: v.OpenedAt.UTC().Format(time.RFC3339),
			Component: v.Model,
			Group:     v.Owner.ID,
			Class:     strings.Trim(v.Kind+"/"+v.Metric, "/"),
			Details:   details, // encoding/json writes map keys in order
		}}
}

// triggerDetails is a trigger's custom details: what the alert is, whose,
// and what a responder needs first; text values cut to MaxDetailValue, and
// those with nothing to say left out.
func triggerDetails(v *notify.View) map[string]any {
	details := map[string]any{
		"model": v.Model, "rule": v.Rule, "alert": v.AlertID, "group": v.Group,
		"stakes": v.Stakes, "severity": v.Severity, "value": v.Value,
		"owner": v.Owner.ID, "owner_name": v.Owner.Name, "role": v.Role,
	}
	opt := func(k, val string) {
		if val != "" {
			details[k] = truncateRunes(val, MaxDetailValue)
		}
	}
	opt("why", v.Why)
	opt("kind", v.Kind)
	opt("metric", v.Metric)
	opt("feature", v.Feature)
	opt("segment", v.Segment)
	opt("model_version", v.ModelVersion)
	opt("description", v.Description)
	opt("ack_within", v.AckWithin)
	if v.Baseline != nil {
		details["baseline"] = *v.Baseline
	}
	if v.Impact != nil {
		details["impact_per_day"] = expression.RoundImpact(*v.Impact)
	}
	if len(v.Recent) > 0 {
		details["recent_values"] = v.Recent
	}
	if v.Members > 1 {
		details["group_alerts"] = v.Members
		details["group_subjects"] = v.Subjects
	}
	if len(v.Lineage) > 0 {
		lin := map[string]string{}
		for _, kv := range v.Lineage {
			lin[kv.Key] = truncateRunes(kv.Value, MaxDetailValue)
		}
		details["lineage"] = lin
	}
	if v.EscalatesTo != nil {
		details["escalates_to"] = v.EscalatesTo.ID
	}
	return details
}

// triggerLinks are a trigger's links: the runbook and the Slack message,
// where each is an http(s) URL.
func triggerLinks(v *notify.View) []any {
	var links []any
	if u := httpURL(v.Runbook); u != "" {
		links = append(links, map[string]string{"href": u, "text": "Runbook"})
	}
	if u := httpURL(v.SlackLink); u != "" {
		links = append(links, map[string]string{"href": u, "text": "Slack message"})
	}
	return links
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func httpURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return s
}

func truncateRunes(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit-1]) + "…"
}

func truncateBytes(s string, limit int) string {
	for len(s) > limit {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// Client sends events.
type Client struct {
	pd      *pagerduty.Client
	secrets secret.Resolver
}

// New returns a client. endpoint overrides PagerDuty's events endpoint
// (tests); "" is the real one.
func New(secrets secret.Resolver, endpoint string) *Client {
	var opts []pagerduty.ClientOptions
	if endpoint != "" {
		opts = append(opts, pagerduty.WithV2EventsAPIEndpoint(endpoint))
	}
	return &Client{pd: pagerduty.NewClient("", opts...), secrets: secrets}
}

// Send resolves the routing key reference and sends ev, once (the
// delivery core retries). The error is classified (notify.Permanent) and
// never contains the routing key.
func (c *Client) Send(ctx context.Context, routingKeyRef string, ev *pagerduty.V2Event) error {
	key, err := c.secrets.Resolve(ctx, routingKeyRef)
	if err != nil {
		// Only an unavailable secret store may pass by itself; a missing,
		// empty or malformed secret is a configuration problem to report.
		return &notify.Error{Retry: errors.Is(err, secret.ErrUnavailable),
			Reason: "routing key " + secret.Name(routingKeyRef) + " unavailable", Err: fmt.Errorf("pagerduty %s %s: %w", ev.Action, ev.DedupKey, err)}
	}
	send := *ev
	send.RoutingKey = key.Reveal()
	_, err = c.pd.ManageEventWithContext(ctx, &send)
	return classify(err, ev)
}

// classify turns go-pagerduty's errors into notify.Errors, by PagerDuty's
// documented table: 202 done; 400 wrong, never retry; 429 and 5xx retry;
// network errors retry. (go-pagerduty's Client reports HTTP failures as
// its REST APIError, whatever the endpoint.) The routing key is in the
// request body only, never in what an error carries.
func classify(err error, ev *pagerduty.V2Event) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf("pagerduty %s %s", ev.Action, ev.DedupKey)
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		reason := fmt.Sprintf("http %d", apiErr.StatusCode)
		if apiErr.StatusCode == 400 {
			reason += " (invalid event or routing key)"
		}
		return &notify.Error{Retry: notify.RetryableStatus(apiErr.StatusCode), Reason: reason, Err: fmt.Errorf("%s: %s", what, reason)}
	}
	// Anything else failed before an answer: a network error, a timeout,
	// a response lost on the way back. The dedup key makes a retry safe.
	return &notify.Error{Retry: true, Unanswered: true, Reason: "no answer", Err: fmt.Errorf("%s: no answer: %w", what, err)}
}
