// Package pipeline is the router's one processing path, shared by the
// Lambda, `stakeout replay` and the tests: decode → series state → rule
// evaluation → alert lifecycle → grouping → inhibition → notification outbox
// → audit. Each event is applied as one atomic commit conditioned on the
// versions it read, so EventBridge's at-least-once delivery and concurrent
// invocations can neither lose an observation nor notify twice. A quality
// event with a window then judges the drift and prediction alerts whose
// opening it covers (reconcile.go), each verdict its own commit.
package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is what the pipeline needs of a store.
type Store interface {
	GetSeries(ctx context.Context, key signal.SeriesKey) (*state.Series, error)
	GetAlert(ctx context.Context, id string) (*state.Alert, error)
	GetGroup(ctx context.Context, model, rule string) (*state.Group, error)
	GetInhibitors(ctx context.Context, model string) (*state.Inhibitors, error)
	// Read reads several records in one round trip.
	Read(ctx context.Context, keys state.Keys) (*state.Records, error)
	// GetQuiets reads the model's windows made from Slack (an alert about
	// to open is silenced by them as by the configured ones).
	GetQuiets(ctx context.Context, model string) (*state.Quiets, error)
	// GetSchedule reads the schedule that ends an alert's silence.
	GetSchedule(ctx context.Context, name string) (*state.Schedule, error)
	Commit(ctx context.Context, c *state.Commit) error
	// LatestModelRecords reads the latest (at most limit) audit records
	// of a model's alerts with At in [since, until), oldest first; more
	// says older ones in the range were left. Late labels find the
	// openings their window covers (reconcile).
	LatestModelRecords(ctx context.Context, model string, since, until time.Time, limit int) (recs []audit.Record, more bool, err error)
	Quarantine(ctx context.Context, q state.Quarantined) error
}

// Limits on what an event may carry: beyond them it is quarantined with
// the reason, not processed.
const (
	MaxEventBytes  = signal.MaxEventBytes // checked by signal.Parse
	MaxLabels      = 64
	MaxLabelLength = 1024
	// MaxNameLength bounds model, kind, metric, feature, segment and
	// version: they become parts of ids, storage keys and records (as the
	// configuration's names do), so every record has a bounded size.
	MaxNameLength   = config.MaxNameLength
	MaxFutureSkew   = time.Hour // a clock ahead by more than this is a broken monitor
	DefaultEventTTL = 7 * 24 * time.Hour
	maxAttempts     = 8
)

// Processor applies events.
type Processor struct {
	Config *config.Config
	Store  Store
	// Now is the wall clock, for the future-skew check and when records
	// were written. Nil means "take the time from the events" (replay).
	Now func() time.Time
	// Wall bounds event times from above when Now is nil: replay takes its
	// time from the events, but no monitor measured anything after the
	// replay runs, so replay sets it to time.Now. With neither (rule
	// tests, whose events keep their own timeline) there is no bound.
	Wall     func() time.Time
	Log      *slog.Logger
	EventTTL time.Duration
	// Sightings, when set, records expected signals and model versions
	// as they arrive (silence detection, rollback targets).
	Sightings Sightings
	// Timelines, when set, keeps the models' version timelines and
	// tells alerts which version was live (see versions.go).
	Timelines Timelines
	// Before, when set, is called with each event's observation time
	// before the event is applied: replay runs the escalator up to it, so
	// that what fell due before the event happens before it.
	Before func(ctx context.Context, ev *signal.Event) error
	// Explain asks for every rule's verdict on each event, in words
	// (Outcome.Verdicts): `stakeout route` shows them. The router does not
	// pay for it: explaining evaluates each condition's clauses again.
	Explain bool
	// LabelsRecords bounds the audit records one quality event's labels
	// read (0: MaxLabelsRecords).
	LabelsRecords int
	// Windows are the update windows of the groups it opens (zero: the
	// default, state.UpdateWindow): `stakeout serve --update-window`.
	Windows state.Windows

	engines   sync.Pool
	sightings sightingCache
}

// Change is one alert state change, as replay prints it.
type Change struct {
	At          time.Time `json:"at"`
	Alert       string    `json:"alert"`
	Model       string    `json:"model"`
	Rule        string    `json:"rule"`
	State       string    `json:"state"`
	Severity    string    `json:"severity"`
	Owner       string    `json:"owner"`
	Notify      []string  `json:"notify"`
	Value       float64   `json:"value"`
	InhibitedBy string    `json:"inhibited_by,omitempty"`
	// SilencedBy: the maintenance window or alarm mute rule that keeps
	// the alert quiet (State "silenced"), until SilencedUntil.
	SilencedBy    string    `json:"silenced_by,omitempty"`
	SilencedUntil time.Time `json:"silenced_until,omitzero"`
	Group         string    `json:"group,omitempty"`
	Summary       string    `json:"summary,omitempty"`
	// Impact is the alert's impact, rounded to the cent, in ImpactUnit
	// (none on a resolution: it is the cost of the breach).
	Impact     *float64 `json:"impact,omitempty"`
	ImpactUnit string   `json:"impact_unit,omitempty"`
}

// RuleError is a rule that could not be evaluated on an event.
type RuleError struct {
	Rule   string
	Owner  string
	Reason string
}

// Outcome says what became of one event.
type Outcome struct {
	EventID string
	Model   string
	// Duplicate: the event had been applied already; nothing changed.
	Duplicate bool
	// Late says why the event is late for its series ("" if it is not):
	// it opens, resolves and counts toward for: nothing, and the router
	// logs and counts it so that it is never dropped silently.
	Late string
	// Quarantined is the reason the event was set aside ("" if it was not).
	Quarantined string
	// Ignored is why an event that was read has nothing to evaluate (a
	// job still running): not kept, not an error ("" if it was not).
	Ignored string
	// Recorded is the entry a version event added to its model's
	// timeline (nil for a signal).
	Recorded *signal.VersionChange
	// Wrote is false when the event changed nothing worth storing.
	Wrote   bool
	Changes []Change
	// Queued are the notifications the event queued, to deliver now.
	Queued []*state.Notification
	// Coalesced are the update windows the event's alerts joined: each
	// goes out once its window ends, with every alert that joined in it
	// (the outbox's drain sends it).
	Coalesced []*state.Notification
	// Evaluated counts the rules evaluated on the event.
	Evaluated int
	// RuleErrors are the rules that could not be evaluated on the event
	// for a fault of their own (over their evaluation budget). Each also
	// opens or updates an alert to its owner (config.Rule.ErrorRule).
	RuleErrors []RuleError
	// Series and At name the event's series and observation time, and
	// Verdicts say what each of the model's rules made of the event and
	// why, in the model's order: with Processor.Explain only.
	Series   string
	At       time.Time
	Verdicts []Verdict
	// Judged are the verdicts a quality event's labels gave the drift and
	// prediction alerts whose opening its window covers (see reconcile),
	// each also a Change and, where told, a Queued notification.
	Judged []Judgement
	// Attempts counts the reads and decisions the event took: 1, and one
	// more each time a concurrent change to what it read made its commit
	// conflict (0: it never got that far, quarantined before).
	Attempts int
}

// Process applies one raw EventBridge event (or bare detail). It returns an
// error only for transient faults — the caller retries the whole event —
// and quarantines, with the reason, an event that can never succeed.
func (p *Processor) Process(ctx context.Context, raw []byte) (Outcome, error) {
	in, err := signal.Parse(raw)
	id := EventID(cmp.Or(in.Key, in.ID))
	if id == "" {
		id = eventIDFromBody(raw)
	}
	if err != nil {
		return p.quarantine(ctx, id, raw, err.Error())
	}
	modelsFor := func(kind signal.MatchKind, name string) []string { return ModelsFor(p.Config, kind, name) }
	if c, ok, err := in.VersionChange(modelsFor); ok {
		if out, ok := p.ignored(ctx, id, err); ok {
			return out, nil
		}
		return p.recordVersion(ctx, id, raw, c, err)
	}
	ev, err := in.Resolve(modelsFor)
	if out, ok := p.ignored(ctx, id, err); ok {
		return out, nil
	}
	if err != nil {
		return p.quarantine(ctx, id, raw, err.Error())
	}
	return p.processEvent(ctx, id, raw, &ev)
}

// ignored is the outcome of an event an adapter read but ignored (err an
// *signal.Ignored: a run still going, an AWS service event no model's
// match accepts): logged with the reason here, counted by the router
// (EventsIgnored), never kept nor quarantined.
func (p *Processor) ignored(ctx context.Context, id string, err error) (Outcome, bool) {
	ignored := (*signal.Ignored)(nil)
	if !errors.As(err, &ignored) {
		return Outcome{}, false
	}
	if p.Log != nil {
		p.Log.InfoContext(ctx, "event ignored", "event_id", id, "reason", ignored.Reason)
	}
	return Outcome{EventID: id, Ignored: ignored.Reason}, true
}

// ProcessEvent applies an event that is already decoded (a test case's,
// say); id names it for idempotency.
func (p *Processor) ProcessEvent(ctx context.Context, id string, ev signal.Event) (Outcome, error) {
	id = EventID(id)
	if err := ev.Check(); err != nil {
		return p.quarantine(ctx, id, nil, err.Error())
	}
	return p.processEvent(ctx, id, nil, &ev)
}

func (p *Processor) processEvent(ctx context.Context, id string, raw []byte, ev *signal.Event) (Outcome, error) {
	m, out, err := p.model(ctx, id, raw, ev.Model)
	if m == nil {
		return out, err
	}
	if reason := p.implausible(ev); reason != "" {
		return p.quarantine(ctx, id, raw, reason)
	}
	if p.Before != nil {
		if err := p.Before(ctx, ev); err != nil {
			return Outcome{EventID: id, Model: m.ID}, err
		}
	}
	// Arrival counts before evaluation: the signal came, whatever the
	// rules make of it.
	p.sight(ctx, m, ev)
	out, err = p.apply(ctx, id, m, ev)
	if errors.Is(err, state.ErrRejected) {
		// The store will refuse it however often it is retried: kept
		// with the reason, rather than retried into the dead-letter queue.
		q, qerr := p.quarantine(ctx, id, raw, "the store refused the event's changes: "+err.Error())
		q.Attempts = out.Attempts
		return q, qerr
	}
	return out, err
}

// model is the event's model, found by find; when there is none, it is
// nil and the event's outcome: quarantined with the reason, or, when the
// model's file could not be read at its first use (a transient fault,
// retried as a store's is, not the model's), the error to return.
func (p *Processor) model(ctx context.Context, id string, raw []byte, name string) (*config.Model, Outcome, error) {
	m, err := p.find(ctx, name)
	if unread := (*config.ReadError)(nil); errors.As(err, &unread) {
		return nil, Outcome{EventID: id, Model: name}, err
	}
	if err != nil {
		out, qerr := p.quarantine(ctx, id, raw, err.Error())
		return nil, out, qerr
	}
	return m, Outcome{}, nil
}

// find is Find, saying at error level when a model known to the
// configuration cannot be compiled (its file changed after the build):
// the model routes nothing, which its owners must hear of at once, not
// from a quarantine count. A file that could not be read is not said
// here: its event is retried, and the caller logs why.
func (p *Processor) find(ctx context.Context, model string) (*config.Model, error) {
	m, err := Find(p.Config, model)
	unknown, unread := (*UnknownModelError)(nil), (*config.ReadError)(nil)
	if err != nil && !errors.As(err, &unknown) && !errors.As(err, &unread) && p.Log != nil {
		p.Log.ErrorContext(ctx, "model not served", "model", model, "reason", err.Error())
	}
	return m, err
}

// MaxEventIDLength bounds an event's id as stakeout keeps it (its
// idempotency record's key, the series' recent ids, audit records): a
// longer one (EventBridge accepts any) keeps its first bytes and a hash
// of the whole.
const MaxEventIDLength = 256

// EventID is the id stakeout keeps for an event id.
func EventID(id string) string { return state.KeyPart(id, MaxEventIDLength) }

func ruleErrors(m *config.Model, results []engine.Result) []RuleError {
	var out []RuleError
	for i := range results {
		if res := &results[i]; res.Status == engine.RuleError {
			out = append(out, RuleError{Rule: res.Rule.Name, Owner: m.Owners[res.Rule.Role], Reason: res.Verdict.Reason()})
		}
	}
	return out
}

// eventIDFromBody names an event without an EventBridge id (a bare detail
// in a replay): identical bodies are the same event.
func eventIDFromBody(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:12])
}

// implausible checks what decoding cannot: sizes and the clock (Now, or
// in a replay the wall clock).
func (p *Processor) implausible(ev *signal.Event) string {
	var now time.Time
	switch {
	case p.Now != nil:
		now = p.Now()
	case p.Wall != nil:
		now = p.Wall()
	}
	return Implausible(ev, now)
}

// Implausible says why the router quarantines a decoded event before
// applying it ("" if it does not): names and labels over their limits, a
// time more than MaxFutureSkew ahead of now (a zero now sets no bound), a
// value that is not finite. `stakeout route` asks it too, so that a dry
// run refuses what the router would.
func Implausible(ev *signal.Event, now time.Time) string {
	for _, f := range [...]struct{ name, v string }{{"model", ev.Model}, {"kind", ev.Kind}, {"metric", ev.Metric},
		{"feature", ev.Feature}, {"segment", ev.Segment}, {"version", ev.Version}} {
		if len(f.v) > MaxNameLength {
			return fmt.Sprintf("%s is %d bytes long, more than %d", f.name, len(f.v), MaxNameLength)
		}
	}
	if len(ev.Labels) > MaxLabels {
		return fmt.Sprintf("event has %d labels, more than %d", len(ev.Labels), MaxLabels)
	}
	for k, v := range ev.Labels {
		if len(k) > MaxLabelLength || len(v) > MaxLabelLength {
			return fmt.Sprintf("label %.40q is longer than %d characters", k, MaxLabelLength)
		}
	}
	if !now.IsZero() {
		if err := ev.CheckClock(now, MaxFutureSkew); err != nil {
			return err.Error()
		}
	}
	if math.IsNaN(ev.Value) || math.IsInf(ev.Value, 0) {
		return "value is not a finite number"
	}
	return ""
}

// maxQuarantinedBody and maxReason bound what a quarantine record keeps
// of an event and of the reason: enough to see what was wrong, and far
// from DynamoDB's 400 KB item limit.
const (
	maxQuarantinedBody = 32 << 10
	maxReason          = 4 << 10
)

func (p *Processor) quarantine(ctx context.Context, id string, raw []byte, reason string) (Outcome, error) {
	q := state.Quarantined{ID: id, Received: p.wallClock(time.Time{}), Reason: state.Clip(reason, maxReason),
		Body: state.Clip(string(raw), maxQuarantinedBody)}
	if err := p.Store.Quarantine(ctx, q); err != nil {
		// Not stored means not kept: retry rather than lose the event.
		return Outcome{}, fmt.Errorf("quarantine event %s: %w", id, err)
	}
	if p.Log != nil {
		p.Log.WarnContext(ctx, "event quarantined", "event_id", id, "reason", reason)
	}
	return Outcome{EventID: id, Quarantined: reason}, nil
}

func (p *Processor) wallClock(eventTime time.Time) time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return eventTime
}

// apply reads the series, decides, and commits, re-reading on conflict,
// then has late labels judge what the event's window covers.
func (p *Processor) apply(ctx context.Context, id string, m *config.Model, ev *signal.Event) (Outcome, error) {
	eng, _ := p.engines.Get().(*engine.Engine)
	if eng == nil {
		eng = engine.New()
	}
	defer p.engines.Put(eng)
	a := &applying{p: p, ctx: ctx, id: id, m: m, ev: ev, eng: eng, base: Outcome{EventID: id, Model: m.ID}}
	if p.Explain {
		a.base.Series, a.base.At = ev.Series().String(), ev.ObservedAt.UTC()
	}
	a.out = a.base
	if err := state.OnConflict(ctx, maxAttempts, a.attempt); err != nil {
		return a.out, fmt.Errorf("commit event %s: %w", id, err)
	}
	if a.tooMany > 0 {
		q, err := p.quarantine(ctx, id, nil, fmt.Sprintf("the event changes %d records at once, more than the %d one commit can hold: "+
			"too many rules of %s fire on one reading (split them by kind or metric)", a.tooMany, state.MaxCommitItems, m.ID))
		q.Attempts = a.out.Attempts
		return q, err
	}
	if err := p.reconcile(ctx, m, ev, a.labels, &a.out); err != nil {
		// The event is retried whole: its own commit is then a duplicate,
		// and the verdicts already recorded are not repeated.
		return a.out, err
	}
	return a.out, nil
}

// applying is one event being applied: what its attempts share (the
// update windows found closed carry over, so a retry joins none of
// them), and what the latest attempt found. Each attempt starts afresh:
// the outcome and the labels reading reconcile judges from are those of
// the attempt that counted, never of one whose commit conflicted.
type applying struct {
	p      *Processor
	ctx    context.Context
	id     string
	m      *config.Model
	ev     *signal.Event
	eng    *engine.Engine
	closed []string // update windows earlier attempts found closed

	base    Outcome              // what every attempt's outcome starts from
	out     Outcome              // the latest attempt's
	labels  *state.LabelsReading // the quality rules' verdict, for reconcile
	tooMany int                  // records it would change, when more than one commit holds
}

// attempt reads the series, decides and commits once; a conflict is
// returned for OnConflict to try again.
func (a *applying) attempt(n int) error {
	a.out, a.labels, a.tooMany = a.base, nil, 0
	a.out.Attempts = n
	s, err := a.p.Store.GetSeries(a.ctx, a.ev.Series())
	if err != nil {
		return fmt.Errorf("read series %s: %w", a.ev.Series(), err)
	}
	if slices.Contains(s.Recent, a.id) {
		a.out.Duplicate = true
		if r, ok := s.LabelsOf(a.id); ok {
			a.labels = &r
		}
		return nil
	}
	var stale bool
	if a.out.Late, stale = lateness(a.m, a.ev, &s.State); stale {
		return nil // nothing it could change, nothing to write
	}
	d := &decision{p: a.p, ctx: a.ctx, m: a.m, ev: a.ev, id: a.id, series: s, at: a.ev.ObservedAt, read: map[string]*state.Alert{}, closed: a.closed}
	if err := d.decide(a.eng); err != nil {
		return err
	}
	a.out.Evaluated = len(d.results)
	if a.p.Explain {
		a.out.Verdicts = d.explain()
	}
	a.out.RuleErrors = ruleErrors(a.m, d.results)
	labels := labelsReading(a.id, a.ev, d.results)
	if labels != nil {
		s.AddLabels(*labels) // written with the event, if it writes
	}
	c := d.commit()
	if c == nil {
		a.out.Changes, a.labels = d.changes, labels
		return nil
	}
	if n := c.Items(); n > state.MaxCommitItems {
		a.tooMany = n // it would never commit, however often it is retried
		return nil
	}
	return a.commit(c, d.changes, labels)
}

// commit writes one attempt's decision. Someone else changing what was
// read is a conflict: the event is read and decided again.
func (a *applying) commit(c *state.Commit, changes []Change, labels *state.LabelsReading) error {
	var wc *state.WindowClosed
	switch err := a.p.Store.Commit(a.ctx, c); {
	case errors.As(err, &wc):
		a.closed = append(a.closed, wc.ID)
		return err
	case errors.Is(err, state.ErrDuplicate):
		// Applied long ago: this evaluation was on a state that has
		// moved on since, so it judges nothing.
		a.out.Duplicate = true
		return nil
	case err != nil:
		return err
	}
	a.out.Wrote, a.out.Changes, a.out.Queued, a.labels = true, changes, c.Outbox, labels
	for _, j := range c.Joins {
		a.out.Coalesced = append(a.out.Coalesced, j.Update)
	}
	return nil
}
