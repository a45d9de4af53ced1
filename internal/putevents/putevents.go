// Package putevents is a local Amazon EventBridge for the router: an
// http.Handler speaking PutEvents over AWS JSON 1.1 (POST / with
// X-Amz-Target: AWSEvents.PutEvents), so that `aws events put-events
// --endpoint-url …` and the AWS SDKs send events to a local stakeout
// unchanged. Requests need not be signed.
//
// Each entry is validated as EventBridge validates it — 1 to 10 entries
// and 256 KB of entries per call (else a ValidationException fails the
// call), Source, DetailType and Detail required (InvalidArgument), Detail
// a JSON object (MalformedDetail) — and becomes the event EventBridge
// would deliver (the envelope with version, id, detail-type, source,
// account, time, region, resources, detail). The event is matched against
// the router's rules as template.yaml deploys them (the same patterns,
// compared with the template by a test) and, if a rule matches, handed to
// the Router before the call is answered.
//
// What EventBridge does asynchronously is done here in the call, so that
// nothing is lost silently: an entry the Router fails (a transient fault:
// the store unavailable) comes back failed with ErrorCode InternalFailure,
// which EventBridge documents as retryable, instead of an EventId — the
// client's own retry replaces EventBridge's retry policy. An entry no rule
// matches is accepted with an EventId, as EventBridge accepts it, and goes
// nowhere; that is logged ("matched no rule") and counted.
package putevents

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Router receives each event a rule matched, as the router function
// receives it from EventBridge. An error means the event was not applied
// and may be sent again.
type Router interface {
	Route(ctx context.Context, event json.RawMessage) error
}

// Config configures a Handler.
type Config struct {
	Router Router // required
	Scope  Scope  // the template's parameters; the zero value is its defaults
	// Account and Region fill the events' account and region; empty is
	// "000000000000" and "us-east-1", which no real account has.
	Account, Region string
	Log             *slog.Logger     // nil: slog.Default()
	Now             func() time.Time // nil: time.Now
}

// Counts is what the handler has done with the entries it received.
type Counts struct {
	Routed    int64 // accepted and applied by the Router
	Unmatched int64 // accepted, matched no rule: delivered nowhere
	Rejected  int64 // failed as invalid (InvalidArgument, MalformedDetail)
	Failed    int64 // failed by the Router (InternalFailure)
}

// Handler answers PutEvents. It is safe for concurrent use.
type Handler struct {
	router Router
	rules  []rule
	acct   string
	region string
	log    *slog.Logger
	now    func() time.Time

	routed, unmatched, rejected, failed atomic.Int64
}

// New returns a handler routing to c.Router.
func New(c Config) (*Handler, error) {
	if c.Router == nil {
		return nil, errors.New("putevents: Config.Router is nil: matched events would have nowhere to go")
	}
	rules, err := compileRules(c.Scope)
	if err != nil {
		return nil, err
	}
	h := &Handler{router: c.Router, rules: rules, acct: c.Account, region: c.Region, log: c.Log, now: c.Now}
	if h.acct == "" {
		h.acct = "000000000000"
	}
	if h.region == "" {
		h.region = "us-east-1"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Counts returns the counts so far.
func (h *Handler) Counts() Counts {
	return Counts{Routed: h.routed.Load(), Unmatched: h.unmatched.Load(), Rejected: h.rejected.Load(), Failed: h.failed.Load()}
}

// ServeHTTP answers one PutEvents call: a call-level error as an AWS
// JSON error body, else the result of every entry, in order.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e := admit(r); e != nil {
		h.writeError(r.Context(), w, e)
		return
	}
	req, e := decode(w, r)
	if e == nil {
		if bad := CheckRequest(req); bad != nil {
			e = rejected(bad)
		}
	}
	if e != nil {
		h.writeError(r.Context(), w, e)
		return
	}
	now := h.now().UTC()
	resp := &Response{Entries: make([]ResultEntry, len(req.Entries))}
	for i, entry := range req.Entries {
		resp.Entries[i] = h.put(r.Context(), entry, now)
		if resp.Entries[i].ErrorCode != "" {
			resp.FailedEntryCount++
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) writeError(ctx context.Context, w http.ResponseWriter, e *apiError) {
	h.log.WarnContext(ctx, "PutEvents call rejected", "error_code", e.code, "error", e.message)
	writeJSON(w, e.status, map[string]string{"__type": e.code, "message": e.message})
}

// writeJSON answers with v, and a request id as AWS sends one.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only plain strings and numbers: cannot happen
		status = http.StatusInternalServerError
		body = []byte(`{"__type":"InternalException","message":"putevents: encode response"}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("X-Amzn-Requestid", uuid.NewString())
	w.WriteHeader(status)
	w.Write(body)
}
