// Package bus publishes stakeout's events on an Amazon EventBridge event
// bus, so that other tools — retraining pipelines, deployment rollbacks,
// dashboards — can subscribe to what stakeout does with EventBridge rules
// instead of being called by it.
//
// stakeout publishes the lifecycle of its alerts ("Alert Opened", ...,
// "Alert Resolved") and the requests it makes of other systems ("Retrain
// Requested", "Rollback Requested"), all with Source "stakeout". Delivery
// is at least once: Publish retries entries that EventBridge failed, and a
// caller that retries a failed Publish sends again the entries that had
// succeeded. Subscribers therefore deduplicate by the id carried in each
// event's detail, never by EventBridge's event id.
package bus

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/cenkalti/backoff/v5"

	"github.com/stakeout-ml/stakeout/internal/lifecycle"
)

// Source is the source of every event stakeout publishes; subscribers'
// rules match on it.
const Source = "stakeout"

// Detail types stakeout publishes. They are package lifecycle's, which
// defines them next to the detail they carry without importing the AWS
// SDK; these aliases keep bus's callers compiling.
const (
	AlertOpened       = lifecycle.AlertOpened
	AlertAcknowledged = lifecycle.AlertAcknowledged
	AlertEscalated    = lifecycle.AlertEscalated
	AlertResolved     = lifecycle.AlertResolved
	RetrainRequested  = lifecycle.RetrainRequested
	RollbackRequested = lifecycle.RollbackRequested
)

// Limits of one PutEvents call. EventBridge takes 1 to 10 entries
// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)
// whose total size must stay within 256 KB, counted as "Calculating
// PutEvents event entry size" describes
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
// a Time counts 14 bytes whatever its value, Source, DetailType, Detail and
// each resource their UTF-8 bytes, and EventBusName nothing. Newer SDK
// documentation mentions 1 MB; 256 KB is kept because every region and
// every version of the service accepts it.
const (
	MaxEntries     = 10
	MaxRequestSize = 256 * 1024
	timeSize       = 14
)

// API is the part of the EventBridge client Publish uses;
// *eventbridge.Client implements it.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Entry is one event to publish.
type Entry struct {
	// DetailType says what happened ("Alert Opened"): one of the detail
	// types above.
	DetailType string
	// Detail is marshalled to JSON, which must be an object. HTML is not
	// escaped: subscribers read "<" in a model's name as "<", not "\u003c".
	Detail any
	// Resources are ARNs the event is about (the model's endpoint, say);
	// optional.
	Resources []string
	// Time is when it happened; EventBridge uses the time of the call when
	// it is zero.
	Time time.Time
}

// Retry bounds how Publish retries entries that failed for a transient
// reason: exponential backoff from Initial, doubling up to Max, each wait
// jittered by ±50% so that many Lambdas throttled at once do not retry in
// step. Zero fields take DefaultRetry's.
type Retry struct {
	// Tries caps the PutEvents calls that carry one entry, the first
	// included.
	Tries        uint
	Initial, Max time.Duration
}

// DefaultRetry suits a Lambda with a budget of seconds: about four seconds
// of waiting over five tries, which outlasts EventBridge's per-second
// throttling without eating the budget.
var DefaultRetry = Retry{Tries: 5, Initial: 250 * time.Millisecond, Max: 2 * time.Second}

// orDefault is r with its zero fields taken from DefaultRetry, so that
// Retry{Tries: 3} does not retry in a busy loop.
func (r Retry) orDefault() Retry {
	if r.Tries == 0 {
		r.Tries = DefaultRetry.Tries
	}
	if r.Initial <= 0 {
		r.Initial = DefaultRetry.Initial
	}
	if r.Max < r.Initial {
		r.Max = max(r.Initial, DefaultRetry.Max)
	}
	return r
}

// Publisher publishes entries on one event bus. It is safe for concurrent
// use; set Retry before the first Publish.
type Publisher struct {
	api API
	bus string
	// Retry is DefaultRetry unless changed.
	Retry Retry
	// Source is the entries' source; "" is Source, stakeout's own.
	// `stakeout publish` sends monitors' signals under theirs.
	Source string
}

// New returns a Publisher to the event bus busName (a name or an ARN; ""
// is the account's default bus).
func New(api API, busName string) *Publisher {
	return &Publisher{api: api, bus: busName, Retry: DefaultRetry}
}

// Publish puts entries on the bus, in batches that fit one PutEvents call.
// Entries that EventBridge failed, and whole calls that failed, are retried
// with backoff while the failure is transient (throttling, internal
// errors, the network), within p.Retry.Tries and before ctx's deadline;
// entries that succeeded are never sent again. An entry that cannot be
// sent at all — too large, Detail not a JSON object — fails without holding
// back the others.
//
// The error, an *Error, says how many entries failed and why; Permanent
// tells whether publishing them again could succeed.
func (p *Publisher) Publish(ctx context.Context, entries ...Entry) error {
	pub := &publication{p: p, total: len(entries)}
	for i, e := range entries {
		req, size, err := p.encode(e)
		if err != nil {
			pub.failed = append(pub.failed, Failure{Index: i, DetailType: e.DetailType, Err: err})
			continue
		}
		pub.pending = append(pub.pending, &pending{index: i, detailType: e.DetailType, req: req, size: size})
	}
	if len(pub.pending) > 0 {
		r := p.Retry.orDefault()
		b := backoff.NewExponentialBackOff()
		b.InitialInterval, b.MaxInterval, b.Multiplier = r.Initial, r.Max, 2
		opts := []backoff.RetryOption{backoff.WithBackOff(b), backoff.WithMaxTries(r.Tries)}
		if deadline, ok := ctx.Deadline(); ok {
			// No wait starts that would end past the deadline: the caller
			// gets the failure while it still has time to record it.
			opts = append(opts, backoff.WithMaxElapsedTime(max(time.Until(deadline), time.Nanosecond)))
		}
		// The outcome of every entry is in pub; Retry's own error (the
		// last try's, or the context's) adds nothing.
		_, _ = backoff.Retry(ctx, func() (struct{}, error) {
			if pub.try(ctx) {
				return struct{}{}, nil
			}
			return struct{}{}, errPending
		}, opts...)
	}
	return pub.err(ctx)
}

var errPending = errors.New("entries left to publish")

// encode turns e into a request entry and counts its size as EventBridge
// does.
func (p *Publisher) encode(e Entry) (types.PutEventsRequestEntry, int, error) {
	if e.DetailType == "" {
		return types.PutEventsRequestEntry{}, 0, errors.New("entry has no detail-type")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.Detail); err != nil {
		return types.PutEventsRequestEntry{}, 0, fmt.Errorf("marshal detail of %q: %w", e.DetailType, err)
	}
	detail := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// EventBridge rejects any other JSON value as MalformedDetail; saying
	// so here names the culprit and spares a call.
	if len(detail) == 0 || detail[0] != '{' {
		return types.PutEventsRequestEntry{}, 0, fmt.Errorf("detail of %q is %s, not a JSON object", e.DetailType, kind(detail))
	}
	source := cmp.Or(p.Source, Source)
	size := len(source) + len(e.DetailType) + len(detail)
	for _, r := range e.Resources {
		size += len(r)
	}
	req := types.PutEventsRequestEntry{
		Source:     aws.String(source),
		DetailType: aws.String(e.DetailType),
		Detail:     aws.String(string(detail)),
		Resources:  slices.Clone(e.Resources),
	}
	if p.bus != "" {
		req.EventBusName = aws.String(p.bus)
	}
	if !e.Time.IsZero() {
		req.Time = aws.Time(e.Time)
		size += timeSize
	}
	if size > MaxRequestSize {
		return types.PutEventsRequestEntry{}, 0, fmt.Errorf("event %q is %d bytes, over EventBridge's limit of %d bytes", e.DetailType, size, MaxRequestSize)
	}
	return req, size, nil
}

func kind(j []byte) string {
	switch {
	case len(j) == 0:
		return "empty"
	case j[0] == '[':
		return "an array"
	case j[0] == '"':
		return "a string"
	case bytes.Equal(j, []byte("null")):
		return "null"
	case bytes.Equal(j, []byte("true")), bytes.Equal(j, []byte("false")):
		return "a boolean"
	}
	return "a number"
}

// publication is the state of one Publish: the entries still to publish
// and those given up on.
type publication struct {
	p       *Publisher
	total   int
	pending []*pending
	failed  []Failure
}

type pending struct {
	index      int
	detailType string
	req        types.PutEventsRequestEntry
	size       int
	// last is why the entry's last try failed; nil before its first.
	last *Failure
}

// try sends every pending entry once, batched, and reports whether none
// is left to retry.
func (pub *publication) try(ctx context.Context) bool {
	var retry []*pending
	queue := pub.pending
	for len(queue) > 0 {
		batch := queue[:batchLen(queue)]
		queue = queue[len(batch):]
		in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(batch))}
		for i, e := range batch {
			in.Entries[i] = e.req
		}
		out, err := pub.p.api.PutEvents(ctx, in, withoutSDKRetries)
		if err == nil && len(out.Entries) != len(batch) {
			err = fmt.Errorf("PutEvents answered %d entries for the %d sent", len(out.Entries), len(batch))
		}
		if err != nil {
			f := callFailure(err)
			if !f.Transient {
				for _, e := range batch {
					pub.failed = append(pub.failed, f.of(e))
				}
				continue
			}
			// Throttled or unwell: the rest would fail the same way now,
			// so they wait for the next try, failed for the same reason.
			for _, held := range [][]*pending{batch, queue} {
				for _, e := range held {
					e.last = ptr(f.of(e))
					retry = append(retry, e)
				}
			}
			break
		}
		for i, r := range out.Entries {
			code := aws.ToString(r.ErrorCode)
			if code == "" {
				continue
			}
			e := batch[i]
			f := Failure{Index: e.index, DetailType: e.detailType, Code: code, Message: aws.ToString(r.ErrorMessage), Transient: retryableCode(code)}
			if !f.Transient {
				pub.failed = append(pub.failed, f)
				continue
			}
			e.last = &f
			retry = append(retry, e)
		}
	}
	pub.pending = retry
	return len(retry) == 0
}

// withoutSDKRetries turns the SDK's retryer off for Publish's calls:
// Publish retries itself, knowing which entries already succeeded and how
// much of the deadline is left. Both at once would multiply the tries, and
// the SDK's retry quota would turn sustained throttling into errors of its
// own.
func withoutSDKRetries(o *eventbridge.Options) { o.Retryer = aws.NopRetryer{} }

// batchLen is how many of queue's first entries fit one call.
func batchLen(queue []*pending) int {
	n, size := 0, 0
	for n < len(queue) && n < MaxEntries && size+queue[n].size <= MaxRequestSize {
		size += queue[n].size
		n++
	}
	return n
}

func (pub *publication) err(ctx context.Context) error {
	failed := pub.failed
	for _, e := range pub.pending {
		f := Failure{Index: e.index, DetailType: e.detailType, Transient: true, Err: ctx.Err()}
		if e.last != nil {
			f = *e.last
		}
		failed = append(failed, f)
	}
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b Failure) int { return a.Index - b.Index })
	e := &Error{Bus: pub.p.bus, Total: pub.total, Failures: failed}
	if len(pub.pending) > 0 && ctx.Err() != nil {
		e.stopped = context.Cause(ctx)
	}
	return e
}

func ptr[T any](v T) *T { return &v }
