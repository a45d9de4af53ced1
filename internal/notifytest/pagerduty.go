package notifytest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// DefaultRoutingKey is the routing key a PagerDuty fake accepts unless
// WithRoutingKeys says otherwise. It has the 32 alphanumeric characters of
// a real integration key but is plainly fake.
const DefaultRoutingKey = "notifytest0000000000000000000key"

// Limits PagerDuty documents for the Events API v2 that its OpenAPI schema
// does not encode.
const (
	maxEventBody   = 512 * 1024
	maxDedupKey    = 255
	maxSummary     = 1024
	routingKeySize = 32
)

// Incident statuses, as PagerDuty names them.
const (
	StatusTriggered    = "triggered"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// Error bodies of the Events API v2. The 400 bodies are PagerDuty's
// documented ones; the others are guesses, as PagerDuty documents only the
// status codes.
const (
	pdInvalidStatus   = "invalid event"
	pdInvalidMessage  = "Event object is invalid"
	pdUnrecognized    = "Unrecognized object"
	pdUnrecognizedMsg = "Event object format is unrecognized"
)

// PagerDutyOption configures a PagerDuty fake.
type PagerDutyOption func(*pagerDutyConfig)

type pagerDutyConfig struct {
	keys       []string
	schemaPath string
}

// WithRoutingKeys sets the routing (integration) keys the fake accepts
// instead of DefaultRoutingKey. Real keys are 32 alphanumeric characters and
// the fake insists on that too, so that a test cannot pass with a key
// PagerDuty would refuse.
func WithRoutingKeys(keys ...string) PagerDutyOption {
	return func(c *pagerDutyConfig) { c.keys = append(c.keys, keys...) }
}

// WithSchemaPath makes the fake validate events against the OpenAPI document
// at path instead of the one found beside the repository.
func WithSchemaPath(path string) PagerDutyOption {
	return func(c *pagerDutyConfig) { c.schemaPath = path }
}

// Event is an event the fake accepted, as parsed from the request.
type Event struct {
	RoutingKey  string        `json:"routing_key"`
	EventAction string        `json:"event_action"`
	DedupKey    string        `json:"dedup_key,omitempty"`
	Payload     *EventPayload `json:"payload,omitempty"`
	Client      string        `json:"client,omitempty"`
	ClientURL   string        `json:"client_url,omitempty"`
	Links       []EventLink   `json:"links,omitempty"`
	Images      []EventImage  `json:"images,omitempty"`

	// GeneratedKey is set when the fake made DedupKey up for a trigger that
	// had none, as PagerDuty does.
	GeneratedKey bool `json:"-"`
	// Dropped is set for an acknowledge or resolve that matched no open
	// incident: PagerDuty accepts such events (202) and ignores them.
	Dropped bool `json:"-"`
	// Body is the request body as received.
	Body json.RawMessage `json:"-"`
}

// EventPayload is the payload of a trigger event.
type EventPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// EventLink is a link attached to an event.
type EventLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// EventImage is an image attached to an event.
type EventImage struct {
	Src  string `json:"src"`
	Href string `json:"href,omitempty"`
	Alt  string `json:"alt,omitempty"`
}

// Incident is the alert PagerDuty keeps per dedup_key.
type Incident struct {
	DedupKey   string
	RoutingKey string
	// Status is StatusTriggered, StatusAcknowledged or StatusResolved.
	Status string
	// Number counts the incidents opened for DedupKey: 1 for the first, 2
	// for the one a trigger opened after the first was resolved, and so on.
	Number int
	// Events are the events applied to this incident, oldest first.
	Events []Event
}

// Violation is a request the fake refused with HTTP 400 because PagerDuty
// would have.
type Violation struct {
	Body   []byte
	Errors []string
}

// String shows the errors and the start of the body: bodies may be up to
// 512 KB, too much for a test failure message.
func (v Violation) String() string {
	const show = 512
	body := string(v.Body)
	if len(body) > show {
		body = body[:show] + "..."
	}
	return fmt.Sprintf("%s: %s", strings.Join(v.Errors, "; "), body)
}

// PagerDuty is a fake PagerDuty Events API v2. Create it with NewPagerDuty.
type PagerDuty struct {
	t       testing.TB
	srv     *httptest.Server
	closing chan struct{}
	keys    []string
	schema  *jsonschema.Schema

	mu     sync.Mutex
	calls  int
	faults []Fault
	// outage answers every call while set (Outage).
	outage     *Fault
	events     []Event
	incidents  map[string][]*Incident // dedup_key -> incidents, oldest first
	violations []Violation
}

// NewPagerDuty starts a fake PagerDuty Events API v2 that is closed when the
// test ends. It validates every event against PagerDuty's OpenAPI document
// in shared/schemas beside the repository and fails the test if the
// document cannot be found.
func NewPagerDuty(t testing.TB, opts ...PagerDutyOption) *PagerDuty {
	t.Helper()
	var cfg pagerDutyConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	if len(cfg.keys) == 0 {
		cfg.keys = []string{DefaultRoutingKey}
	}
	for _, k := range cfg.keys {
		if errs := routingKeyErrors(k); len(errs) > 0 {
			t.Fatalf("notifytest: routing key %q would be refused by PagerDuty: %s", k, strings.Join(errs, "; "))
		}
	}
	path := cfg.schemaPath
	if path == "" {
		var err error
		if path, err = findEventsSchema(); err != nil {
			t.Fatalf("notifytest: %v", err)
		}
	}
	schema, err := enqueueSchema(path)
	if err != nil {
		t.Fatalf("notifytest: %v", err)
	}
	p := &PagerDuty{
		t:         t,
		closing:   make(chan struct{}),
		keys:      cfg.keys,
		schema:    schema,
		incidents: make(map[string][]*Incident),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		close(p.closing)
		p.srv.Close()
	})
	return p
}

// URL returns the endpoint for pagerduty.WithV2EventsAPIEndpoint; clients
// append /v2/enqueue to it.
func (p *PagerDuty) URL() string { return p.srv.URL }

// RoutingKey returns the first routing key the fake accepts.
func (p *PagerDuty) RoutingKey() string { return p.keys[0] }

// Fail queues faults for the next calls: the first fault applies to the next
// call, and so on. Fault.Error is Slack's and makes the test fail here.
func (p *PagerDuty) Fail(faults ...Fault) {
	p.t.Helper()
	for _, f := range faults {
		if f.Error != "" {
			p.t.Errorf("notifytest: Fault.Error is for the Slack fake; PagerDuty has no such answer")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, faults...)
}

// Outage answers every call with f until the outage is over
// (Outage(nil)). Queued faults come first.
func (p *PagerDuty) Outage(f *Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outage = f
}

// Calls reports how many requests arrived, including faulted and refused
// ones.
func (p *PagerDuty) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Events returns every accepted event, oldest first, including dropped ones.
func (p *PagerDuty) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// Violations returns every request refused with HTTP 400, oldest first.
func (p *PagerDuty) Violations() []Violation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.violations)
}

// Incident returns the latest incident for a dedup_key.
func (p *PagerDuty) Incident(dedupKey string) (Incident, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.incidents[dedupKey]
	if len(list) == 0 {
		return Incident{}, false
	}
	return list[len(list)-1].clone(), true
}

// Incidents returns every incident opened for a dedup_key, oldest first.
// More than one means a trigger arrived after the previous was resolved.
func (p *PagerDuty) Incidents(dedupKey string) []Incident {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Incident
	for _, inc := range p.incidents[dedupKey] {
		out = append(out, inc.clone())
	}
	return out
}

// Open returns every incident not resolved, by dedup_key.
func (p *PagerDuty) Open() []Incident {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Incident
	for _, k := range slices.Sorted(maps.Keys(p.incidents)) {
		for _, inc := range p.incidents[k] {
			if inc.Status != StatusResolved {
				out = append(out, inc.clone())
			}
		}
	}
	return out
}

func (inc *Incident) clone() Incident {
	c := *inc
	c.Events = slices.Clone(inc.Events)
	return c
}

// pdReply is an Events API answer.
type pdReply struct {
	status int
	body   any
}

func (p *PagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/enqueue" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Read one byte past the limit to tell an oversized body from one that
	// is exactly at it.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEventBody+1))
	if err != nil {
		return
	}

	p.mu.Lock()
	p.calls++
	var fault Fault
	var faulted bool
	if len(p.faults) > 0 {
		fault, faulted = p.faults[0], true
		p.faults = p.faults[1:]
	} else if p.outage != nil {
		fault, faulted = *p.outage, true
	}
	p.mu.Unlock()

	if faulted {
		if !wait(r.Context(), p.closing, fault.Delay) {
			return
		}
		if fault.Status != 0 {
			writePagerDutyFault(w, fault)
			return
		}
	}
	reply := p.enqueue(body)
	if faulted && fault.LoseResponse {
		loseResponse()
	}
	writeJSON(w, reply.status, reply.body)
}

func writePagerDutyFault(w http.ResponseWriter, f Fault) {
	if f.Status == http.StatusTooManyRequests {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterSeconds(f.RetryAfter))
		}
		writeJSON(w, f.Status, map[string]any{
			"status":  "throttle event",
			"message": "Requests for this service are arriving too quickly. Please retry later.",
		})
		return
	}
	writeJSON(w, f.Status, map[string]any{
		"status":  http.StatusText(f.Status),
		"message": "An error occurred while processing the event.",
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// enqueue validates one event and applies it.
func (p *PagerDuty) enqueue(body []byte) pdReply {
	p.mu.Lock()
	defer p.mu.Unlock()

	if len(body) > maxEventBody {
		return p.violate(body, pdInvalidStatus, pdInvalidMessage,
			fmt.Sprintf("Event object is larger than %d bytes", maxEventBody))
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return p.violate(body, pdUnrecognized, pdUnrecognizedMsg, "JSON parse error")
	}
	errs := schemaErrors(p.schema.Validate(inst))

	var ev Event
	if len(errs) == 0 {
		// The schema has made sure the shapes fit, so this cannot fail on
		// types; it is checked anyway rather than trusted.
		if err := json.Unmarshal(body, &ev); err != nil {
			errs = append(errs, "JSON parse error: "+err.Error())
		}
	}
	if len(errs) == 0 {
		errs = append(errs, p.eventErrors(ev)...)
	}
	if len(errs) > 0 {
		return p.violate(body, pdInvalidStatus, pdInvalidMessage, errs...)
	}

	ev.Body = slices.Clone(body)
	p.apply(&ev)
	p.events = append(p.events, ev)
	return pdReply{status: http.StatusAccepted, body: map[string]any{
		"status":    "success",
		"message":   "Event processed",
		"dedup_key": ev.DedupKey,
	}}
}

// eventErrors enforces the documented rules the OpenAPI schema leaves out.
// The messages follow the style of PagerDuty's own.
func (p *PagerDuty) eventErrors(ev Event) []string {
	var errs []string
	if !slices.Contains(p.keys, ev.RoutingKey) {
		if errs = routingKeyErrors(ev.RoutingKey); len(errs) == 0 {
			errs = append(errs, "Invalid routing key")
		}
	}
	if n := utf8.RuneCountInString(ev.DedupKey); n > maxDedupKey {
		errs = append(errs, fmt.Sprintf("'dedup_key' is too long (%d characters; the maximum is %d)", n, maxDedupKey))
	}
	switch ev.EventAction {
	case "trigger":
		if ev.Payload == nil {
			errs = append(errs, "'payload' is missing or blank")
			break
		}
		if n := utf8.RuneCountInString(ev.Payload.Summary); n > maxSummary {
			errs = append(errs, fmt.Sprintf("'payload.summary' is too long (%d characters; the maximum is %d)", n, maxSummary))
		}
		if strings.TrimSpace(ev.Payload.Summary) == "" {
			errs = append(errs, "'payload.summary' is missing or blank")
		}
		if strings.TrimSpace(ev.Payload.Source) == "" {
			errs = append(errs, "'payload.source' is missing or blank")
		}
		if !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity) {
			errs = append(errs, "'payload.severity' is invalid (must be one of: critical, error, warning, info)")
		}
	case "acknowledge", "resolve":
		if ev.DedupKey == "" {
			errs = append(errs, "'dedup_key' is missing or blank")
		}
	default:
		errs = append(errs, "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
	}
	return errs
}

// routingKeyErrors are the errors PagerDuty answers for a malformed routing
// key.
func routingKeyErrors(key string) []string {
	var errs []string
	if len(key) != routingKeySize {
		errs = append(errs, fmt.Sprintf("Length of 'routing_key' is incorrect (should be %d characters)", routingKeySize))
	}
	for _, r := range key {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			errs = append(errs, "'routing_key' cannot contain non-alphanumeric characters.")
			break
		}
	}
	return errs
}

// violate records a refused request and builds PagerDuty's 400 answer.
// p.mu must be held.
func (p *PagerDuty) violate(body []byte, status, message string, errs ...string) pdReply {
	p.violations = append(p.violations, Violation{Body: slices.Clone(body), Errors: errs})
	return pdReply{status: http.StatusBadRequest, body: map[string]any{
		"status":  status,
		"message": message,
		"errors":  errs,
	}}
}

// apply runs an accepted event through the incident life cycle PagerDuty
// documents: a trigger opens an incident unless one is open for the key;
// acknowledge and resolve move an open incident and are dropped otherwise,
// as are those sent with another routing key than the trigger's. A
// trigger for an open incident — triggered or acknowledged — is appended
// to it and changes nothing else: "If there is an open incident with a
// matching key, the new event will be appended to that incident's Alerts
// log as an additional Trigger log entry" (support.pagerduty.com/docs/
// event-management), so an acknowledged incident stays acknowledged and
// nobody is paged ("once an incident is acknowledged, the assignee will
// not receive notifications unless the Incident Ack Timeout is reached",
// support.pagerduty.com/docs/incidents). (PagerDuty deduplicates per
// service integration; the fake keeps one set of incidents for all its
// routing keys.)
// p.mu must be held.
func (p *PagerDuty) apply(ev *Event) {
	if ev.EventAction == "trigger" && ev.DedupKey == "" {
		ev.DedupKey = newDedupKey()
		ev.GeneratedKey = true
	}
	list := p.incidents[ev.DedupKey]
	var open *Incident
	if n := len(list); n > 0 && list[n-1].Status != StatusResolved {
		open = list[n-1]
	}
	switch ev.EventAction {
	case "trigger":
		if open == nil {
			open = &Incident{DedupKey: ev.DedupKey, RoutingKey: ev.RoutingKey, Status: StatusTriggered, Number: len(list) + 1}
			p.incidents[ev.DedupKey] = append(list, open)
		}
	case "acknowledge", "resolve":
		if open == nil || open.RoutingKey != ev.RoutingKey {
			ev.Dropped = true
			return
		}
		if ev.EventAction == "acknowledge" {
			open.Status = StatusAcknowledged
		} else {
			open.Status = StatusResolved
		}
	}
	open.Events = append(open.Events, *ev)
}

func newDedupKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// schemaErrors flattens a validation error into one message per failed
// keyword, each prefixed with the JSON pointer of the offending value.
func schemaErrors(err error) []string {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, fmt.Sprintf("%s: %s", "/"+strings.Join(e.InstanceLocation, "/"), leafMessage(e)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(out)
	return out
}

// leafMessage renders a validation error without causes in the library's
// default English.
func leafMessage(e *jsonschema.ValidationError) string {
	if out := e.BasicOutput(); out.Error != nil {
		return out.Error.String()
	}
	return fmt.Sprintf("%v", e.ErrorKind)
}

// The OpenAPI document is compiled once per path: every fake in a test run
// shares the result.
var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

// enqueuePointer locates the request body schema of POST /enqueue in the
// OpenAPI document.
const enqueuePointer = "#/paths/~1enqueue/post/requestBody/content/application~1json/schema"

// enqueueSchema compiles the request schema of POST /enqueue from the
// OpenAPI document at path. The whole document is added as one resource so
// that its "#/components/schemas/..." references resolve. OpenAPI 3.0 schema
// objects are a superset of JSON Schema draft 4 (draft-wright-00); keywords
// of their own (nullable, example, discriminator, x-*) are unknown to draft
// 4 and so ignored. Formats are not asserted: PagerDuty's own examples use
// timestamps like "2015-07-17T08:42:58.315+0000", which RFC 3339 date-time
// would refuse.
func enqueueSchema(path string) (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[path]; ok {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open pagerduty events schema: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("parse pagerduty events schema %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	const docURL = "https://notifytest.invalid/events-v2.openapi.json"
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, fmt.Errorf("load pagerduty events schema %s: %w", path, err)
	}
	s, err := c.Compile(docURL + enqueuePointer)
	if err != nil {
		return nil, fmt.Errorf("compile pagerduty events schema %s: %w", path, err)
	}
	schemaCache[path] = s
	return s, nil
}

// findEventsSchema finds shared/schemas/pagerduty/events-v2.openapi.json
// beside the repository: the shared directory sits next to the directory
// holding go.mod, which is found by walking up from the working directory
// (a package directory under go test).
func findEventsSchema() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find pagerduty events schema: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			path := filepath.Join(dir, "..", "shared", "schemas", "pagerduty", "events-v2.openapi.json")
			if _, err := os.Stat(path); err != nil {
				return "", fmt.Errorf("pagerduty events schema missing: %s must sit beside the repository (%v)", path, err)
			}
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find pagerduty events schema: no go.mod above the working directory")
		}
		dir = parent
	}
}
