// Package awsjsontest is the wire format shared by the in-process AWS test
// servers that speak AWS JSON 1.1 (bustest for EventBridge, kmstest for
// KMS), written once. The protocol is documented by Smithy
// (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html): every
// operation is a POST to "/" named by the X-Amz-Target header
// ("<service>.<operation>"), bodies are JSON of Content-Type
// application/x-amz-json-1.1, and an error is a JSON object whose __type
// names the error (which the SDK decodes into the modelled error type) and
// whose message says why.
//
// It holds what is the same for every such service: checking that a
// request is routed and SigV4-scoped as the service would accept it, the
// queue of injected call faults, decoding the body, and writing a response
// or an error with a request id. What a service decides — its operations,
// its validation, its error codes — stays in its server, described here by
// a Service.
package awsjsontest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// ContentType is AWS JSON 1.1's content type, of requests and answers.
const ContentType = "application/x-amz-json-1.1"

// Error is a call-level error, sent as an AWS JSON error body.
type Error struct {
	Status  int
	Code    string // the body's __type
	Message string
}

// NewError is an error answered with HTTP status, __type code and message.
func NewError(status int, code, message string) *Error {
	return &Error{status, code, message}
}

// Service is what the wire needs to know of one service.
type Service struct {
	Target      string   // X-Amz-Target's service part: "AWSEvents", "TrentService"
	Operations  []string // the operations the server serves
	SigningName string   // SigV4's service name: "events", "kms"
	Region      string
	Server      string // the test server's name, for messages: "bustest"
	// InternalError is the service's code for its own failure
	// ("InternalException", "KMSInternalException").
	InternalError string
	// FaultCode is the error code the service answers a failed call with
	// HTTP status (throttling is a 400 in AWS JSON services, not a 429).
	FaultCode func(status int) string
}

// Start runs h as an httptest server that t.Cleanup closes.
func Start(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Operation is the operation a request names: X-Amz-Target without the
// service's prefix, whether or not the server serves it.
func (s *Service) Operation(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("X-Amz-Target"), s.Target+".")
}

// Receive admits a request as the service would (Check), answers it with
// the next queued fault if there is one, and decodes its body into v.
func (s *Service) Receive(r *http.Request, f *Faults, v any) *Error {
	if e := s.Check(r); e != nil {
		return e
	}
	if status, ok := f.next(); ok {
		code := s.FaultCode(status)
		return &Error{status, code, code + " (injected by " + s.Server + ")"}
	}
	// UseNumber: a number decoded into an interface keeps its digits, as a
	// timestamp's fraction of a second (AWS JSON sends epoch seconds).
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return &Error{http.StatusBadRequest, "SerializationException", "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// Check rejects what the service would not route to an operation the
// server serves, or would not authenticate. The signature itself is not
// verified — test credentials are placeholders — but its scope is, which
// catches a client signing for the wrong service or region.
func (s *Service) Check(r *http.Request) *Error {
	unknown := func(format string, a ...any) *Error {
		return &Error{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf(format, a...)}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return unknown("%s %s is not an operation", r.Method, r.URL.Path)
	}
	t := r.Header.Get("X-Amz-Target")
	if op, ok := strings.CutPrefix(t, s.Target+"."); !ok || !slices.Contains(s.Operations, op) {
		return unknown("X-Amz-Target %q is not an operation %s serves (%s.%s)", t, s.Server, s.Target, strings.Join(s.Operations, ", "))
	}
	if ct := r.Header.Get("Content-Type"); ct != ContentType {
		return unknown("Content-Type %q is not %q", ct, ContentType)
	}
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return &Error{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/") // access-key-id/date/region/service/aws4_request
	switch {
	case len(scope) != 5 || scope[4] != "aws4_request":
		return &Error{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires a valid Credential"}
	case scope[3] != s.SigningName:
		return &Error{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to correct service: '%s'.", s.SigningName)}
	case scope[2] != s.Region:
		return &Error{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not %q.", scope[2])}
	}
	return nil
}

// WriteError answers with e as an AWS JSON error body.
func (s *Service) WriteError(w http.ResponseWriter, e *Error) {
	s.WriteJSON(w, e.Status, map[string]string{"__type": e.Code, "message": e.Message})
}

// WriteJSON answers with v as the body, and a request id as AWS sends one.
func (s *Service) WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"__type": s.InternalError, "message": s.Server + ": encode response"})
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Amzn-Requestid", NewID())
	w.WriteHeader(status)
	w.Write(body)
}

// NewID returns a random version-4 UUID, the form of AWS request ids (and
// of EventBridge's event ids and KMS's key ids).
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Faults queues injected call failures: the next n calls fail with one
// HTTP status. Its user serialises access (the servers hold their lock).
type Faults struct {
	n, status int
}

// Set makes the next n calls fail with status.
func (f *Faults) Set(n, status int) { f.n, f.status = n, status }

func (f *Faults) next() (status int, ok bool) {
	if f.n <= 0 {
		return 0, false
	}
	f.n--
	return f.status, true
}
