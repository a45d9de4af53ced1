// Package bustest runs an in-process Amazon EventBridge for the tests of
// internal/bus: an httptest server that speaks PutEvents' real wire protocol
// (AWS JSON 1.1), so the real aws-sdk-go-v2 eventbridge client is pointed at
// it unchanged and the tests exercise the SDK's serialisation, signing and
// error decoding as production does.
//
// It validates what EventBridge documents it validates — 1 to 10 entries,
// Source, DetailType and Detail required, Detail a JSON object, the entries'
// total size within 256 KB, the event bus existing — and answers with the
// service's error shapes: call-level errors as AWS JSON errors carrying
// __type, entry-level failures in the response's Entries with ErrorCode and
// ErrorMessage. The request's shape and those rules are package putevents',
// the local EventBridge endpoint's, so that the two cannot drift apart.
// Faults (throttled or failed calls, entries that come back failed) are
// queued with Fail and FailCalls and consumed by the next requests, so a
// retry test states exactly which attempt fails instead of relying on
// timing, which is impossible against the real service.
//
// One deliberate difference: EventBridge has been reported to accept events
// for an event bus that does not exist (aws/aws-cli#9186); this server
// rejects the call with ResourceNotFoundException so that a misnamed bus is
// caught in tests rather than silently dropping events.
//
// Every server is closed by t.Cleanup, and all methods are safe for
// concurrent use.
package bustest

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/stakeout-ml/stakeout/internal/awsjsontest"
	"github.com/stakeout-ml/stakeout/internal/putevents"
)

// Region is the region the server claims to be in and Client signs for.
const Region = "us-east-1"

// DefaultBus is the event bus every account has, and the one an entry
// without EventBusName goes to.
const DefaultBus = putevents.DefaultBus

// Event is an event the server accepted, as EventBridge would deliver it.
type Event struct {
	ID         string
	Bus        string // the bus's name, also when the entry named it by ARN
	Source     string
	DetailType string
	Detail     json.RawMessage // exactly the bytes the client sent
	Resources  []string
	// Time is the entry's Time, or when the server received it if the entry
	// had none, as EventBridge stamps it.
	Time time.Time
}

// Server is a fake EventBridge. Create it with New.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	buses    map[string]bool
	events   []Event
	calls    int
	failN    int
	failCode string
	faults   awsjsontest.Faults // FailCalls
}

// Option configures a Server.
type Option func(*Server)

// WithBuses makes event buses with these names exist besides DefaultBus,
// which every account has.
func WithBuses(names ...string) Option {
	return func(s *Server) {
		for _, n := range names {
			s.buses[n] = true
		}
	}
}

// New starts a server; t.Cleanup closes it.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{buses: map[string]bool{DefaultBus: true}}
	for _, o := range opts {
		o(s)
	}
	s.srv = awsjsontest.Start(t, s.serveHTTP)
	return s
}

// URL is the server's endpoint, for an EventBridge client's BaseEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an EventBridge client for the server, with optFns applied
// after the defaults (RetryMaxAttempts = 1 to see every fault, say). The
// credentials are placeholders, not secrets: the server checks that requests
// are SigV4-signed for the "events" service but not the signature itself.
func (s *Server) Client(t testing.TB, optFns ...func(*eventbridge.Options)) *eventbridge.Client {
	t.Helper()
	return eventbridge.New(eventbridge.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("bustest", "bustest", ""),
		HTTPClient:   s.srv.Client(),
	}, optFns...)
}

// Events returns the events accepted so far, in the order accepted.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		e.Detail = slices.Clone(e.Detail)
		e.Resources = slices.Clone(e.Resources)
		out[i] = e
	}
	return out
}

// Fail makes the next n entries that would be accepted come back failed
// with ErrorCode code ("ThrottlingException", "InternalFailure",
// "NotAuthorizedForSourceException", ...) in an otherwise successful
// response: EventBridge's partial failure.
func (s *Server) Fail(n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// FailCalls makes the next n PutEvents calls answer with HTTP status and
// the error EventBridge sends with it, without accepting any entry:
// 400 and 429 ThrottlingException, 403 AccessDeniedException,
// 500 InternalException, 503 ServiceUnavailable; any other 4xx is a
// ValidationException and any other 5xx an InternalException.
func (s *Server) FailCalls(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Set(n, status)
}

// Calls is the number of requests the server has received, failed or not.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}
