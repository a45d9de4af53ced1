package bustest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/stakeout-ml/stakeout/internal/awsjsontest"
	"github.com/stakeout-ml/stakeout/internal/putevents"
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

// serveHTTP answers PutEvents. A call-level error is an AWS JSON error
// body, whose __type the SDK decodes into the modelled error type
// (types.ResourceNotFoundException) or a smithy.GenericAPIError.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var req putevents.Request
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

// putEvents validates a request by EventBridge's rules (package
// putevents) — shape and size of the whole request first, failing the
// call; then each entry, failing only that entry — and accepts the valid
// entries. The buses are checked after the sizes, before any entry.
func (s *Server) putEvents(req *putevents.Request, now time.Time) (*putevents.Response, *awsjsontest.Error) {
	if bad := putevents.CheckRequest(req); bad != nil {
		return nil, awsjsontest.NewError(http.StatusBadRequest, bad.Code, bad.Message)
	}
	for _, e := range req.Entries {
		if name := putevents.BusName(e.EventBusName); !s.buses[name] {
			return nil, awsjsontest.NewError(http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("Event bus %s does not exist.", name))
		}
	}

	resp := &putevents.Response{Entries: make([]putevents.ResultEntry, len(req.Entries))}
	for i, e := range req.Entries {
		ev, code, msg := s.accept(e, now)
		if code == "" && s.failN > 0 {
			s.failN--
			code, msg = s.failCode, s.failCode+" (injected by bustest)"
		}
		if code != "" {
			resp.FailedEntryCount++
			resp.Entries[i] = putevents.ResultEntry{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		ev.ID = awsjsontest.NewID()
		s.events = append(s.events, ev)
		resp.Entries[i] = putevents.ResultEntry{EventId: ev.ID}
	}
	// Events accepted before an injected failure are kept: on EventBridge
	// too, a partially failed call has delivered its successful entries.
	return resp, nil
}

// accept checks one entry by EventBridge's rules (package putevents) and
// returns the event it makes, or the entry's ErrorCode and ErrorMessage.
func (s *Server) accept(e *putevents.Entry, now time.Time) (ev Event, code, msg string) {
	t, bad := putevents.CheckEntry(e, now)
	if bad != nil {
		return ev, bad.Code, bad.Message
	}
	return Event{
		Bus:        putevents.BusName(e.EventBusName),
		Source:     *e.Source,
		DetailType: *e.DetailType,
		Detail:     json.RawMessage(*e.Detail),
		Resources:  e.Resources,
		Time:       t,
	}, "", ""
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
