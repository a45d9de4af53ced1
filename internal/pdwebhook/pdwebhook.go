// Package pdwebhook decodes the v3 webhooks PagerDuty sends when an
// incident stakeout paged for is acknowledged or resolved in PagerDuty, so
// that the alert's state in stakeout (and its Slack message) can follow
// what the on-call engineer did there instead of drifting apart.
//
// The wire format is the "Webhook Payload" and "Event Data Types" sections
// of PagerDuty's v3 Webhooks Overview on developer.pagerduty.com (source:
// github.com/PagerDuty/developer-docs, docs/webhooks/01-Overview.md): one
// event per body, {"event": {"id", "event_type", "resource_type",
// "occurred_at", "agent", "client", "data"}}, where data's shape depends on
// event_type. For incident events data is an incident, which carries the
// incident_key: the dedup_key stakeout set when it triggered the incident
// through the Events API v2 (PagerDuty's REST API calls incident_key "the
// incident's de-duplication key"). That key is what ties a webhook back to
// a stakeout alert group.
//
// Parse checks only what stakeout relies on and ignores every other field:
// the docs warn that "Additional event types may be added to this list over
// time", and a receiver that rejected the unknown would start refusing
// PagerDuty's deliveries the day it adds something. The body must already
// be authenticated (package signature); Parse never panics on hostile input.
package pdwebhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// MaxBody bounds what Parse will decode. PagerDuty says webhooks larger
// than 256 KB "are always dropped" (docs/webhooks/02-Behavior.md, "Size
// Limit"; written with v2 payloads in mind, but the only limit it states),
// so a larger body is not one of its deliveries; 1 MiB leaves
// room without letting a flood of big bodies run up Lambda memory. Callers
// reading a request should stop at MaxBody+1 bytes (io.LimitReader) and
// hand the result to Parse, which reports ErrTooLarge.
const MaxBody = 1 << 20

// Event types stakeout acts on; any other type still parses. Those listed
// carry an incident in data (docs: "data.type is incident").
const (
	IncidentTriggered      = "incident.triggered"
	IncidentAcknowledged   = "incident.acknowledged"
	IncidentUnacknowledged = "incident.unacknowledged"
	IncidentResolved       = "incident.resolved"
	IncidentReopened       = "incident.reopened"
	IncidentEscalated      = "incident.escalated"
	IncidentReassigned     = "incident.reassigned"
	// Ping is the test event PagerDuty sends when a subscription is created
	// or tested: resource_type "pagey", data {"message", "type": "ping"}.
	Ping = "pagey.ping"
)

// Incident statuses, as in data.status.
const (
	StatusTriggered    = "triggered"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// ErrTooLarge is returned for a body over MaxBody, so a handler can answer
// 413 rather than 400.
var ErrTooLarge = errors.New("pagerduty webhook: body too large")

// Event is one decoded webhook.
type Event struct {
	// ID is event.id, unique per event. A redelivery of the same webhook
	// repeats it; PagerDuty also names each webhook in the X-Webhook-Id
	// header for that purpose (docs/webhooks/02-Behavior.md).
	ID           string
	Type         string // event.event_type, e.g. IncidentAcknowledged
	ResourceType string // event.resource_type, e.g. "incident", "pagey"
	OccurredAt   time.Time
	// Agent is who or what caused the event; zero when event.agent is null,
	// as in the docs' service.updated example and in pings.
	Agent Agent
	// Incident is set when event.data is an incident (data.type
	// "incident"); nil for pings, services, and incident sub-resources
	// such as incident_note whose data only references the incident.
	Incident *Incident
}

// Agent is a reference to whoever initiated the event: a user
// ("user_reference"), a service or integration, per event.agent.
type Agent struct {
	ID      string
	Type    string // e.g. "user_reference", "service_reference"
	Summary string // the user's or service's display name
	HTMLURL string
}

// Incident is the part of PagerDuty's incident object stakeout uses.
type Incident struct {
	ID     string // PagerDuty's incident id, e.g. "PGR0VU2"
	Number int    // the account-wide incident number shown in the UI
	Status string // StatusTriggered, StatusAcknowledged or StatusResolved
	// IncidentKey is the incident's de-duplication key: for an incident
	// stakeout triggered, the dedup_key it sent. Empty when PagerDuty sends
	// null, reported for incidents opened through the v1 Events API by some
	// integrations (github.com/PagerDuty/api-schema pull request 412).
	IncidentKey    string
	Title          string
	HTMLURL        string
	ServiceID      string
	ServiceSummary string
}

// wire mirrors the documented JSON. Strings, not time.Time or pointers,
// where a missing value must be told apart and named in the error.
type wire struct {
	Event *wireEvent `json:"event"`
}

type wireEvent struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   string          `json:"occurred_at"`
	Agent        *wireReference  `json:"agent"`
	Data         json.RawMessage `json:"data"`
}

type wireReference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

type wireIncident struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	HTMLURL     string         `json:"html_url"`
	Number      int            `json:"number"`
	Status      string         `json:"status"`
	IncidentKey string         `json:"incident_key"`
	Title       string         `json:"title"`
	Service     *wireReference `json:"service"`
}

// Parse decodes a v3 webhook body. Errors say which field is wrong, as
// "event.event_type is missing", so a rejected delivery can be diagnosed
// from the log without logging the body.
func Parse(body []byte) (Event, error) {
	if len(body) > MaxBody {
		return Event{}, fmt.Errorf("%d bytes, more than %d: %w", len(body), MaxBody, ErrTooLarge)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Event{}, invalid("body is empty")
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return Event{}, decodeError(err, "")
	}
	if w.Event == nil {
		return Event{}, invalid("event is missing")
	}
	we := w.Event
	switch {
	case we.ID == "":
		return Event{}, invalid("event.id is missing")
	case we.EventType == "":
		return Event{}, invalid("event.event_type is missing")
	case we.ResourceType == "":
		return Event{}, invalid("event.resource_type is missing")
	case we.OccurredAt == "":
		return Event{}, invalid("event.occurred_at is missing")
	}
	at, err := time.Parse(time.RFC3339Nano, we.OccurredAt)
	if err != nil {
		return Event{}, invalid("event.occurred_at is not an ISO 8601 (RFC 3339) time")
	}
	ev := Event{ID: we.ID, Type: we.EventType, ResourceType: we.ResourceType, OccurredAt: at}
	if we.Agent != nil {
		ev.Agent = Agent(*we.Agent)
	}
	inc, err := parseIncident(we.ResourceType, we.Data)
	if err != nil {
		return Event{}, err
	}
	ev.Incident = inc
	return ev, nil
}

// parseIncident decodes data when it is an incident. Which data type an
// event carries is told by data.type (the docs list it per event type), so
// that and not event_type decides: new incident.* event types then work
// without a change here.
func parseIncident(resourceType string, data json.RawMessage) (*Incident, error) {
	if resourceType != "incident" {
		return nil, nil
	}
	if isNull(data) {
		return nil, invalid("event.data is missing")
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, decodeError(err, "event.data")
	}
	switch head.Type {
	case "":
		return nil, invalid("event.data.type is missing")
	case "incident":
	default:
		return nil, nil // incident_note, incident_responder, ...: not an incident
	}
	var wi wireIncident
	if err := json.Unmarshal(data, &wi); err != nil {
		return nil, decodeError(err, "event.data")
	}
	if wi.ID == "" {
		return nil, invalid("event.data.id is missing")
	}
	if wi.Status == "" {
		return nil, invalid("event.data.status is missing")
	}
	inc := &Incident{ID: wi.ID, Number: wi.Number, Status: wi.Status, IncidentKey: wi.IncidentKey,
		Title: wi.Title, HTMLURL: wi.HTMLURL}
	if wi.Service != nil {
		inc.ServiceID, inc.ServiceSummary = wi.Service.ID, wi.Service.Summary
	}
	return inc, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func invalid(what string) error {
	return errors.New("pagerduty webhook: " + what)
}

// decodeError turns encoding/json's errors, which name Go types, into ones
// that name the JSON field and the JSON type expected. prefix is the path
// of the value that was decoded, since json reports paths relative to it.
func decodeError(err error, prefix string) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("pagerduty webhook: body is not valid JSON (at byte %d)", syntax.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := typ.Field
		switch {
		case prefix != "" && field != "":
			field = prefix + "." + field
		case prefix != "":
			field = prefix
		case field == "":
			field = "body"
		}
		return fmt.Errorf("pagerduty webhook: %s is a JSON %s, want %s", field, typ.Value, jsonKind(typ.Type))
	}
	return fmt.Errorf("pagerduty webhook: %w", err)
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return t.Kind().String()
	}
}
