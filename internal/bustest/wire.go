package bustest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/awsjsontest"
)

// wire is PutEvents' wire protocol, AWS JSON 1.1 (EventBridge's service
// name in its Smithy model is AWSEvents).
var wire = awsjsontest.Service{
	Target:        "AWSEvents",
	Operations:    []string{"PutEvents"},
	SigningName:   "events",
	Region:        Region,
	Server:        "bustest",
	InternalError: "InternalException",
	FaultCode:     faultCode,
}

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

// serveHTTP answers PutEvents. A call-level error is an AWS JSON error
// body, whose __type the SDK decodes into the modelled error type
// (types.ResourceNotFoundException) or a smithy.GenericAPIError.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var req putEventsRequest
	if e := wire.Receive(r, &s.faults, &req); e != nil {
		wire.WriteError(w, e)
		return
	}
	resp, e := s.putEvents(&req, time.Now().UTC())
	if e != nil {
		wire.WriteError(w, e)
		return
	}
	wire.WriteJSON(w, http.StatusOK, resp)
}

// putEvents validates a request as EventBridge does — shape and size of
// the whole request first, failing the call; then each entry, failing only
// that entry — and accepts the valid entries.
func (s *Server) putEvents(req *putEventsRequest, now time.Time) (*putEventsResponse, *awsjsontest.Error) {
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
			return nil, awsjsontest.NewError(http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("Event bus %s does not exist.", name))
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
		ev.ID = awsjsontest.NewID()
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

func validation(msg string) *awsjsontest.Error {
	return awsjsontest.NewError(http.StatusBadRequest, "ValidationException", msg)
}

// faultCode is the code of the error EventBridge answers a failed call
// with HTTP status.
func faultCode(status int) string {
	switch {
	case status == http.StatusBadRequest || status == http.StatusTooManyRequests:
		return "ThrottlingException"
	case status == http.StatusForbidden:
		return "AccessDeniedException"
	case status == http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case status >= 500:
		return "InternalException"
	}
	return "ValidationException"
}
