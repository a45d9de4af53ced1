package putevents

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// This file is PutEvents' request and answer as EventBridge defines them,
// and the rules it validates a request by: the one statement of them,
// which the endpoint here and internal/bustest (the EventBridge the
// functions' tests publish to) both apply.

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

// Request is PutEvents' request body. Pointers tell a member the client
// left out from one it sent empty.
type Request struct {
	Entries    []*Entry
	EndpointId *string
}

// Entry is one entry of a Request.
type Entry struct {
	Source       *string
	DetailType   *string
	Detail       *string
	EventBusName *string
	Resources    []string
	// Time is a timestamp, which AWS JSON sends as epoch seconds with a
	// fractional part (the SDK sends milliseconds); a json.Number keeps
	// the fraction as sent.
	Time        *json.Number
	TraceHeader *string
}

// ResultEntry is one entry's result: an EventId, or why it failed.
type ResultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// Response is PutEvents' answer: every entry's result, in order.
type Response struct {
	FailedEntryCount int
	Entries          []ResultEntry
}

// Rejection is why EventBridge refuses a call or an entry: the error code
// and the message, both as the service words them.
type Rejection struct{ Code, Message string }

func (r *Rejection) Error() string { return r.Code + ": " + r.Message }

func validation(msg string) *Rejection {
	return &Rejection{"ValidationException", msg}
}

// CheckRequest validates the call as EventBridge does before any entry:
// shape and size of the whole request. A rejection is a
// ValidationException, which fails the call (HTTP 400).
func CheckRequest(req *Request) *Rejection {
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

// CheckEntry validates one entry of a request CheckRequest passed, in the
// order EventBridge reports its failures, and returns the event's time:
// the entry's Time, or now without one. A rejection (InvalidArgument,
// MalformedDetail) fails that entry alone.
func CheckEntry(e *Entry, now time.Time) (time.Time, *Rejection) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"Source", e.Source}, {"DetailType", e.DetailType}, {"Detail", e.Detail}} {
		if f.v == nil || *f.v == "" {
			return now, &Rejection{"InvalidArgument", fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", f.name, f.name)}
		}
	}
	if !isJSONObject(*e.Detail) {
		return now, &Rejection{"MalformedDetail", "Detail is malformed."}
	}
	if e.Time == nil {
		return now, nil
	}
	t, ok := epochSeconds(*e.Time)
	if !ok {
		return now, &Rejection{"InvalidArgument", "Parameter Time is not valid."}
	}
	return t, nil
}

// BusName is the name of the bus an entry goes to: EventBusName may be a
// name or an ARN (arn:aws:events:region:account:event-bus/name), and is
// DefaultBus when left out.
func BusName(v *string) string {
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

func entrySize(e *Entry) int {
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
