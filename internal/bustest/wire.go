package bustest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// PutEvents' wire protocol, AWS JSON 1.1: every operation is a POST to "/"
// named by X-Amz-Target ("<service>.<operation>"; EventBridge's service
// name in its Smithy model is AWSEvents).
const (
	target      = "AWSEvents.PutEvents"
	contentType = "application/x-amz-json-1.1"
)

// Limits EventBridge documents for PutEvents: 1 to 10 entries
// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html),
// at most 256 KB of entries counted as "Calculating PutEvents event entry
// size" describes: a Time counts 14 bytes whatever its value; Source,
// DetailType, Detail and each resource count their UTF-8 bytes
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
// EventBusName does not count.
const (
	maxEntries     = 10
	maxRequestSize = 256 * 1024
	timeSize       = 14
)

// putEventsRequest is PutEvents' request body. Pointers tell a member the
// client left out from one it sent empty.
type putEventsRequest struct {
	Entries    []*requestEntry
	EndpointId *string
}

type requestEntry struct {
	Source       *string
	DetailType   *string
	Detail       *string
	EventBusName *string
	Resources    []string
	// Time is a timestamp, which AWS JSON sends as epoch seconds with a
	// fractional part (the SDK sends milliseconds).
	Time        *json.Number
	TraceHeader *string
}

type resultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

type putEventsResponse struct {
	FailedEntryCount int
	Entries          []resultEntry
}

// apiError is a call-level error: an AWS JSON error body, whose __type the
// SDK decodes into the modelled error type (types.ResourceNotFoundException)
// or a smithy.GenericAPIError.
type apiError struct {
	status  int
	code    string
	message string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++

	if e := checkProtocol(r); e != nil {
		writeError(w, e)
		return
	}
	if s.callFailN > 0 {
		s.callFailN--
		writeError(w, callFault(s.callStatus))
		return
	}
	var req putEventsRequest
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", "request body is not valid JSON: " + err.Error()})
		return
	}
	resp, e := s.putEvents(&req, time.Now().UTC())
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// checkProtocol rejects what EventBridge would not route to PutEvents, or
// would not authenticate. The signature itself is not verified — the
// credentials are placeholders — but its scope is, which catches a client
// signing for the wrong service or region.
func checkProtocol(r *http.Request) *apiError {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("%s %s is not an operation", r.Method, r.URL.Path)}
	}
	if t := r.Header.Get("X-Amz-Target"); t != target {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("X-Amz-Target %q is not %q", t, target)}
	}
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("Content-Type %q is not %q", ct, contentType)}
	}
	auth := r.Header.Get("Authorization")
	cred, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return &apiError{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	cred, _, _ = strings.Cut(cred, ",")
	// access-key-id/date/region/service/aws4_request
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return &apiError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires a valid Credential"}
	}
	if scope[3] != "events" {
		return &apiError{http.StatusForbidden, "InvalidSignatureException", "Credential should be scoped to correct service: 'events'."}
	}
	if scope[2] != Region {
		return &apiError{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not %q.", scope[2])}
	}
	return nil
}

// putEvents validates a request as EventBridge does — shape and size of
// the whole request first, failing the call; then each entry, failing only
// that entry — and accepts the valid entries.
func (s *Server) putEvents(req *putEventsRequest, now time.Time) (*putEventsResponse, *apiError) {
	switch n := len(req.Entries); {
	case req.Entries == nil:
		return nil, validation("1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null")
	case n < 1:
		return nil, validation("1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case n > maxEntries:
		return nil, validation(fmt.Sprintf("1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to %d", maxEntries))
	}
	size := 0
	for i, e := range req.Entries {
		if e == nil {
			return nil, validation(fmt.Sprintf("1 validation error detected: Value null at 'entries.%d.member' failed to satisfy constraint: Member must not be null", i+1))
		}
		size += entrySize(e)
	}
	if size > maxRequestSize {
		return nil, validation("Total size of the entries in the request is over the limit.")
	}
	for _, e := range req.Entries {
		if name := busName(e.EventBusName); !s.buses[name] {
			return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("Event bus %s does not exist.", name)}
		}
	}

	resp := &putEventsResponse{Entries: make([]resultEntry, len(req.Entries))}
	for i, e := range req.Entries {
		ev, code, msg := s.accept(e, now)
		if code == "" && s.failN > 0 {
			s.failN--
			code, msg = s.failCode, s.failCode+" (injected by bustest)"
		}
		if code != "" {
			resp.FailedEntryCount++
			resp.Entries[i] = resultEntry{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		ev.ID = newID()
		s.events = append(s.events, ev)
		resp.Entries[i] = resultEntry{EventId: ev.ID}
	}
	// Events accepted before an injected failure are kept: on EventBridge
	// too, a partially failed call has delivered its successful entries.
	return resp, nil
}

// accept checks one entry, in the order EventBridge reports its failures
// (messages as the service words them), and returns the event it makes.
func (s *Server) accept(e *requestEntry, now time.Time) (ev Event, code, msg string) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"Source", e.Source}, {"DetailType", e.DetailType}, {"Detail", e.Detail}} {
		if f.v == nil || *f.v == "" {
			return ev, "InvalidArgument", fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", f.name, f.name)
		}
	}
	if !isJSONObject(*e.Detail) {
		return ev, "MalformedDetail", "Detail is malformed."
	}
	t := now
	if e.Time != nil {
		var ok bool
		if t, ok = epochSeconds(*e.Time); !ok {
			return ev, "InvalidArgument", "Parameter Time is not valid."
		}
	}
	return Event{
		Bus:        busName(e.EventBusName),
		Source:     *e.Source,
		DetailType: *e.DetailType,
		Detail:     json.RawMessage(*e.Detail),
		Resources:  e.Resources,
		Time:       t,
	}, "", ""
}

func entrySize(e *requestEntry) int {
	n := 0
	if e.Time != nil {
		n += timeSize
	}
	for _, v := range []*string{e.Source, e.DetailType, e.Detail} {
		if v != nil {
			n += len(*v)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// busName is the name of the bus an entry goes to: EventBusName may be a
// name or an ARN (arn:aws:events:region:account:event-bus/name), and is
// the default bus when left out.
func busName(v *string) string {
	if v == nil || *v == "" {
		return DefaultBus
	}
	if strings.HasPrefix(*v, "arn:") {
		if _, name, ok := strings.Cut(*v, ":event-bus/"); ok {
			return name
		}
	}
	return *v
}

func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &m) == nil && m != nil
}

func epochSeconds(n json.Number) (time.Time, bool) {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC(), true
}

func validation(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationException", msg}
}

// callFault is the error EventBridge answers a failed call with: throttling
// is a 400 in AWS JSON services, not a 429.
func callFault(status int) *apiError {
	code := "ValidationException"
	switch {
	case status == http.StatusBadRequest || status == http.StatusTooManyRequests:
		code = "ThrottlingException"
	case status == http.StatusForbidden:
		code = "AccessDeniedException"
	case status == http.StatusServiceUnavailable:
		code = "ServiceUnavailable"
	case status >= 500:
		code = "InternalException"
	}
	return &apiError{status, code, code + " (injected by bustest)"}
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]string{"__type": e.code, "message": e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"__type":"InternalException","message":"bustest: encode response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Requestid", newID())
	w.WriteHeader(status)
	w.Write(body)
}

// newID returns a random version-4 UUID, the form of EventBridge's event
// and request ids.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
