package putevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// contentType is AWS JSON 1.1's content type, of requests and answers.
const contentType = "application/x-amz-json-1.1"

// target is the one operation served: X-Amz-Target is
// "<service>.<operation>", and EventBridge's service is AWSEvents.
const target = "AWSEvents.PutEvents"

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
	// maxBodySize bounds what is read of a body: JSON escaping can make
	// 256 KB of entries several times larger on the wire (\u0000 is six
	// bytes), but not without bound.
	maxBodySize = 8 * maxRequestSize
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

// apiError is a call-level error, answered as an AWS JSON error body
// whose __type the SDK decodes (into a smithy.GenericAPIError, or the
// modelled type when there is one) and whose message says why.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func validation(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationException", msg}
}

// admit rejects what EventBridge would not route to PutEvents. The
// request is not authenticated: this is a local endpoint, and the AWS
// CLI and SDKs sign with whatever credentials they have, or none.
func admit(r *http.Request) *apiError {
	unknown := func(format string, a ...any) *apiError {
		return &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf(format, a...)}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return unknown("%s %s is not an operation: PutEvents is POST / with X-Amz-Target: %s", r.Method, r.URL.Path, target)
	}
	if t := r.Header.Get("X-Amz-Target"); t != target {
		return unknown("X-Amz-Target %q is not an operation this endpoint serves: it serves only %s", t, target)
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != contentType {
		return unknown("Content-Type %q is not %q (AWS JSON 1.1)", r.Header.Get("Content-Type"), contentType)
	}
	return nil
}

// decode reads the body: a body that is not JSON of PutEvents' shape is
// a SerializationException, as the service answers it.
func decode(w http.ResponseWriter, r *http.Request) (*putEventsRequest, *apiError) {
	// UseNumber: a timestamp keeps its fraction of a second.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodySize))
	dec.UseNumber()
	var req putEventsRequest
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, validation(fmt.Sprintf("Total size of the entries in the request is over the limit (the body is over %d bytes).", maxBodySize))
		}
		return nil, &apiError{http.StatusBadRequest, "SerializationException", "request body is not a PutEvents request in JSON: " + jsonProblem(err)}
	}
	return &req, nil
}

// check validates the call as EventBridge does before any entry: shape
// and size of the whole request, failing the call.
func check(req *putEventsRequest) *apiError {
	switch n := len(req.Entries); {
	case req.Entries == nil:
		return validation("1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null")
	case n < 1:
		return validation("1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case n > maxEntries:
		return validation(fmt.Sprintf("1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to %d", maxEntries))
	}
	size := 0
	for i, e := range req.Entries {
		if e == nil {
			return validation(fmt.Sprintf("1 validation error detected: Value null at 'entries.%d.member' failed to satisfy constraint: Member must not be null", i+1))
		}
		size += entrySize(e)
	}
	if size > maxRequestSize {
		return validation("Total size of the entries in the request is over the limit.")
	}
	return nil
}

// entryError is why one entry failed: its ErrorCode and ErrorMessage.
type entryError struct{ code, message string }

// validEntry checks one entry, in the order EventBridge reports its
// failures (messages as the service words them), and returns its time.
func validEntry(e *requestEntry, now time.Time) (time.Time, *entryError) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"Source", e.Source}, {"DetailType", e.DetailType}, {"Detail", e.Detail}} {
		if f.v == nil || *f.v == "" {
			return now, &entryError{"InvalidArgument", fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", f.name, f.name)}
		}
	}
	if !isJSONObject(*e.Detail) {
		return now, &entryError{"MalformedDetail", "Detail is malformed."}
	}
	if e.Time == nil {
		return now, nil
	}
	t, ok := epochSeconds(*e.Time)
	if !ok {
		return now, &entryError{"InvalidArgument", "Parameter Time is not valid."}
	}
	return t, nil
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

// isJSONObject reports whether s is one JSON object; json.Valid checks it
// without building it (the detail is decoded once, by the matcher).
func isJSONObject(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n")
	return strings.HasPrefix(t, "{") && json.Valid([]byte(s))
}

func epochSeconds(n json.Number) (time.Time, bool) {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC(), true
}

// jsonProblem says what is wrong with a body in the request's terms (the
// member, the JSON type found), not the decoder's Go types.
func jsonProblem(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("%s cannot be a JSON %s (offset %d)", typ.Field, typ.Value, typ.Offset)
	}
	return err.Error()
}
