// Package lifecycle changes alert groups after they open: acknowledge,
// snooze, escalate, reassign, resolve, mark as a false alarm, and ask for a
// retrain or a rollback. People do these from Slack and PagerDuty; the
// escalator does the timed ones (escalating what nobody acknowledged within
// ack_within, ending snoozes).
//
// Every change is one conditional write on the group's version, carrying
// the audit records of its alerts and the notification that tells people
// (and EventBridge) about it. Two people pressing a button at once, two
// escalator runs racing, or a retried request therefore change the group
// once: the loser re-reads, finds the change made, and says so. A request
// from outside (a Slack click, a PagerDuty webhook) also carries its own
// id (Change.Once), recorded in the same write: the same request again —
// redelivered, retried, or replayed by whoever copied it — changes nothing,
// even once the group has moved on (an "Escalate now" acts once). And a
// change that another system reports as made before the group's current
// cycle began (Change.At) is stale: it changes nothing either.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is what lifecycle changes need of a store.
type Store interface {
	GetGroup(ctx context.Context, model, rule string) (*state.Group, error)
	GetAlert(ctx context.Context, id string) (*state.Alert, error)
	GetInhibitors(ctx context.Context, model string) (*state.Inhibitors, error)
	Commit(ctx context.Context, c *state.Commit) error
}

// Actions.
const (
	Acknowledge = "acknowledge"
	Resolve     = "resolve"
	Snooze      = "snooze"
	Escalate    = "escalate"
	Reassign    = "reassign"
	FalseAlarm  = "false-alarm"
	Retrain     = "request-retrain"
	Rollback    = "request-rollback"
	// Timeout and EndSnooze are the escalator's: escalate a group nobody
	// acknowledged in time, and end a snooze that ran out. Each applies
	// only if it is still due when the write happens.
	Timeout   = "timeout"
	EndSnooze = "end-snooze"
	// Reack is the escalator's too: a group acknowledged reack_after ago
	// and still open is unacknowledged again, its acknowledger asked again.
	Reack = "reack"
	// Defer is the escalator's too: a group due (timeout, reack, or the
	// end of its snooze) while a maintenance window silences its rule (or,
	// but for a snooze's end, a CloudWatch mute holds back its open
	// alerts) waits, untold, until the window's end (Until); Reason names
	// the window (or the mute rule).
	Defer = "defer"
)

// Events is the outbox channel that publishes lifecycle events on
// EventBridge ("Alert Opened", …).
const Events = "events"

// Actor is who changes a group.
type Actor struct {
	// ID is "slack:<user id>", "pagerduty:<user id>", or "escalator".
	ID   string
	Name string // as the source named them, when it did
}

// Escalator is the actor of timed changes.
var Escalator = Actor{ID: "escalator", Name: "stakeout"}

// Change is one thing done to a group.
type Change struct {
	Action string
	Group  string
	By     Actor
	// Until ends a snooze.
	Until time.Time
	// Role is who a reassignment goes to.
	Role string
	// Target is the version a rollback asks for ("" lets the pipeline
	// choose); Reason says why, in the requester's words.
	Target string
	Reason string
	// TargetNote says why Target is not the version the alert showed (it
	// was revoked since): on the audit record, the request and the reply.
	TargetNote string
	// Echo marks a change reported by another system mirroring
	// stakeout's own (PagerDuty's acknowledgement of the incident a
	// snooze acknowledged): it never undoes a snooze.
	Echo bool
	// Once, when its ID is set, is the request the change comes from: it
	// acts once however often the request arrives (Result.Duplicate).
	Once Once
	// At is when the change was made where it was made (PagerDuty's
	// occurred_at; zero: now). One made before the group's current cycle
	// began (state.Lifecycle.CycleStart) changes nothing (Result.Stale).
	At time.Time
	// Incident is the number of the group's PagerDuty incident the change
	// was made on (1 its first; 0: not made on an incident). One made on
	// an incident a later one superseded (state.Lifecycle.Repages) is
	// about a page that is over — stakeout's own resolution of it, echoed
	// back — and changes nothing (Result.Stale).
	Incident int
}

// Once names one request from outside — a Slack click, a PagerDuty
// webhook — so that it changes a group at most once: a redelivery, a retry
// after a lost answer, or a signed request replayed by someone who copied
// it, all find it recorded and change nothing.
type Once struct {
	// ID is unique among every source's requests ("slack:<trigger id>",
	// "pagerduty:<event id>"); it is kept as an applied-event record.
	ID string
	// Expires is when the record may go: after the last moment the request
	// could still pass the source's checks (its signature window, or the
	// age past which stakeout refuses it).
	Expires time.Time
}

// What a change keeps of what people and other systems typed: the group,
// its notifications and records hold it, each one DynamoDB item of at
// most 400 KB.
const (
	MaxNameBytes   = 200  // an actor's id and name, a rollback target
	MaxReasonBytes = 1000 // a reason
)

// bounded is c with what it keeps bounded.
func (c Change) bounded() Change {
	c.By.ID, c.By.Name = state.Clip(c.By.ID, MaxNameBytes), state.Clip(c.By.Name, MaxNameBytes)
	c.Target, c.Reason = state.Clip(c.Target, MaxNameBytes), state.Clip(c.Reason, MaxReasonBytes)
	c.TargetNote = state.Clip(c.TargetNote, MaxReasonBytes) // it names versions, which come from events
	return c
}

// Result says what became of a change.
type Result struct {
	// Done: the change was made (false: nothing to do, see Message).
	Done bool
	// Message says what happened, for the person who asked.
	Message string
	// Queued are the ids of the notifications the change queued.
	Queued []string
	// Group is the group after the change (nil if it no longer exists).
	Group *state.Group
	// Duplicate: the request (Change.Once) was acted on before; nothing
	// changed this time.
	Duplicate bool
	// Stale: the change was made before the group's current cycle began
	// (Change.At); nothing changed, Message says why.
	Stale bool
}

// AlreadyDone answers a request that was acted on before.
const AlreadyDone = "Already done: stakeout acts on each request once, and this one was handled before."

// Replaced answers a change to a group a newer one of its rule replaced.
const Replaced = "This alert group is over: a newer one replaced it."

// ErrUnknownAction is returned for an action this package does not know.
var ErrUnknownAction = errors.New("unknown action")

// Manager applies changes.
type Manager struct {
	Config *config.Config
	Store  Store
	// Now is the clock (replay and tests pass theirs).
	Now func() time.Time
	Log *slog.Logger
}

const (
	// tries bounds re-reads after a concurrent change.
	tries = 8
	// chunk is how many alerts one write records the change on (DynamoDB
	// allows 100 items per transaction; an alert costs up to three).
	chunk = 30
)

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Apply makes the change, re-reading on conflicts. The error is for store
// failures; a change that does not apply (the group is over, already
// acknowledged) is a Result with Done false and a Message.
func (m *Manager) Apply(ctx context.Context, c Change) (Result, error) {
	c = c.bounded()
	model, rule, ok := state.GroupRule(c.Group)
	if !ok {
		return Result{Message: fmt.Sprintf("%q is not an alert group", c.Group)}, nil
	}
	var res Result
	err := state.OnConflict(ctx, tries, func(int) error {
		g, err := m.Store.GetGroup(ctx, model, rule)
		if err != nil {
			return fmt.Errorf("read group %s: %w", c.Group, err)
		}
		if g == nil || g.ID != c.Group {
			res = Result{Message: Replaced}
			return m.remember(ctx, c)
		}
		s := &step{m: m, c: c, g: g, now: m.now()}
		r, commits, err := s.plan(ctx)
		if err != nil || commits == nil {
			r.Group = g
			res = r
			if err != nil {
				return err
			}
			return m.remember(ctx, c)
		}
		// The request is recorded in the change's own write, not claimed
		// before it: a claim written first would, after a crash between
		// the two writes, make every retry a duplicate and lose the
		// change; a record written after it would let a retry act twice.
		// In one transaction a retry finds neither (and acts) or both
		// (and is a duplicate), and of two copies racing one conflicts.
		commits[0].EventID, commits[0].EventExpires = c.Once.ID, c.Once.Expires
		if err := m.Store.Commit(ctx, commits[0]); err != nil {
			return err
		}
		// Alerts beyond the first write's share get their records in
		// further writes, each conditional on its alerts and re-read on a
		// conflict (the router updating one meanwhile). Should one still
		// fail, the router re-joins an alert left open in an ended group
		// at its next breach: nobody stays untold.
		if err := s.rest(ctx, commits[1:]); err != nil && m.Log != nil {
			m.Log.WarnContext(ctx, "could not record a change on every alert of the group", "group", c.Group, "action", c.Action, "error", err)
		}
		g.Version++
		r.Done, r.Group = true, g
		for _, n := range commits[0].Outbox {
			r.Queued = append(r.Queued, n.ID)
		}
		res = r
		return nil
	})
	if errors.Is(err, state.ErrDuplicate) {
		return Result{Duplicate: true, Message: AlreadyDone}, nil
	}
	if err != nil {
		return res, fmt.Errorf("%s %s: %w", c.Action, c.Group, err)
	}
	return res, nil
}

// remember records a request that had nothing to change (the group was
// acknowledged already, or over): the same request later, when the group
// has moved on, must not act then. ErrDuplicate if it was recorded before.
func (m *Manager) remember(ctx context.Context, c Change) error {
	if c.Once.ID == "" {
		return nil
	}
	return m.Store.Commit(ctx, &state.Commit{EventID: c.Once.ID, EventExpires: c.Once.Expires})
}

// step is one attempt at one change.
type step struct {
	m   *Manager
	c   Change
	g   *state.Group
	now time.Time

	members []*state.Alert // the group's unresolved alerts

	// What the change records on each alert (set by commits).
	action, detail string
	resolve        bool
	// told, when set, routes the notification instead of the group's
	// channels: a reminder outside its owner's working hours (reack).
	told *Told
}

// chunk records the change on these alerts: one write's share.
func (s *step) chunk(alerts []*state.Alert) *state.Commit {
	c := &state.Commit{}
	for _, a := range alerts {
		if s.action == audit.FalseAlarm || drillOutcome(s.action) {
			s.record(c, a, s.action, s.detail)
		}
		switch {
		case s.resolve:
			a.Status, a.ResolvedAt, a.UpdatedAt = state.Resolved, s.now, s.now
			a.Muted = s.action == audit.FalseAlarm
			detail := s.detail
			if s.action == audit.FalseAlarm {
				detail = "resolved as a false alarm"
			}
			if drillOutcome(s.action) {
				detail = "the drill is over"
			}
			s.record(c, a, audit.Resolved, detail)
		default:
			s.record(c, a, s.action, s.detail)
		}
	}
	return c
}

func (s *step) cfg() *config.Config { return s.m.Config }

// plan decides the change on the group as read and returns the writes:
// the first carries the group, its notification and the first alerts' records.
func (s *step) plan(ctx context.Context) (Result, []*state.Commit, error) {
	if r, ok, err := s.applies(ctx); !ok || err != nil {
		return r, nil, err
	}
	if state.IsDrill(s.g.Model) {
		return s.drill()
	}
	act, ok := actions[s.c.Action]
	if !ok {
		return Result{}, nil, fmt.Errorf("%w %q", ErrUnknownAction, s.c.Action)
	}
	o, refused := act(s)
	if refused != "" {
		return Result{Message: refused}, nil, nil
	}
	commits, err := s.write(ctx, o)
	if err != nil {
		return Result{}, nil, err
	}
	return Result{Message: o.msg}, commits, nil
}

// applies checks what every action needs of the group, drills' too: it is
// open, the change is not stale, and it has alerts left to change (their
// reading, s.members). ok false: nothing to change, r says why.
func (s *step) applies(ctx context.Context) (r Result, ok bool, err error) {
	if s.g.Over() {
		return Result{Message: "This alert is " + closedAs(s.g) + " already."}, false, nil
	}
	if r, stale := s.stale(); stale {
		return r, false, nil
	}
	if err := s.readMembers(ctx); err != nil {
		return Result{}, false, err
	}
	if len(s.members) == 0 {
		return Result{Message: "Every alert of this group is resolved already."}, false, nil
	}
	return Result{}, true, nil
}

// outcome is what an action decided, beyond the group's fields it set:
// what is recorded on the alerts, told (kind; "": nobody), answered (msg),
// and asked of the pipeline (req).
type outcome struct {
	action, detail, kind, msg string
	resolve                   bool
	req                       *state.Request
}

// actions plans each action on a group that is not a drill's (drill.go
// has those). Each checks the action is due and sets the group's fields;
// refused, when set, says why it does not apply, and nothing was changed.
var actions = map[string]func(*step) (o outcome, refused string){
	Acknowledge: (*step).acknowledge,
	Snooze:      (*step).snooze,
	EndSnooze:   (*step).endSnooze,
	Reack:       (*step).reackDue,
	Defer:       (*step).deferral,
	Timeout:     (*step).escalate,
	Escalate:    (*step).escalate,
	Reassign:    (*step).reassign,
	Resolve:     (*step).closeGroup,
	FalseAlarm:  (*step).closeGroup,
	Retrain:     (*step).request,
	Rollback:    (*step).request,
}

// write records the action's outcome: who changed the group last and how,
// the writes (s.commits), and — for a resolution — the inhibitors it
// lifts, in the same first write.
func (s *step) write(ctx context.Context, o outcome) ([]*state.Commit, error) {
	g := s.g
	g.By, g.ByName, g.Note = s.c.By.ID, s.c.By.Name, o.detail
	commits := s.commits(o.action, o.detail, o.kind, o.resolve, o.req)
	if !o.resolve {
		return commits, nil
	}
	// A resolved freshness (schema, data-quality) alert must stop
	// suppressing the model's drift and quality alerts: in the same
	// write, conditional on the inhibitors' version.
	in, err := s.m.Store.GetInhibitors(ctx, g.Model)
	if err != nil {
		return nil, fmt.Errorf("read inhibitors of %s: %w", g.Model, err)
	}
	changed := false
	for _, a := range s.members {
		if _, ok := in.Active[a.ID]; ok {
			delete(in.Active, a.ID)
			changed = true
		}
	}
	if changed {
		commits[0].Inhibitors = in
	}
	return commits, nil
}

// deferDue moves a due group's timeout, reack or snooze's end to c.Until,
// the end of the window that silences its rule (ok false: not due, or no
// later end): a snooze lasts until then.
func (s *step) deferDue() (detail string, ok bool) {
	g, c := s.g, s.c
	due := g.Due()
	if due.IsZero() || due.After(s.now) || !c.Until.After(s.now) {
		return "", false
	}
	what := "escalation"
	switch {
	case !g.SnoozedUntil.IsZero():
		g.SnoozedUntil, what = c.Until.UTC(), "snooze's end"
	case g.Acked():
		g.ReackAt, what = c.Until.UTC(), "reminder"
	default:
		g.EscalateAt = c.Until.UTC()
	}
	return fmt.Sprintf("%s silences it until %s: its %s, due %s, waits for then", c.Reason, c.Until.UTC().Format(time.RFC3339),
		what, due.UTC().Format(time.RFC3339)), true
}

// stale reports a change made before the group's current cycle began
// (Change.At), or on an incident a later one superseded (Change.Incident):
// about an owner's turn or a page that is over, it must change nothing.
func (s *step) stale() (Result, bool) {
	at, cycle := s.c.At, s.g.CycleStart
	if !at.IsZero() && at.Before(cycle) {
		msg := fmt.Sprintf("Not applied: it was made at %s, before the alert's current cycle began at %s",
			at.UTC().Format(time.RFC3339), cycle.UTC().Format(time.RFC3339))
		if s.g.Note != "" {
			msg += " (" + s.g.Note + ")"
		}
		return Result{Stale: true, Message: msg + "."}, true
	}
	// Made since, on an incident stakeout superseded (and resolved: this
	// is PagerDuty telling of it), or acknowledged in the moment between.
	if inc, cur := s.c.Incident, s.g.Repages+1; inc > 0 && inc < cur {
		return Result{Stale: true, Message: fmt.Sprintf("Not applied: it was made on the alert's PagerDuty incident %d, which its incident %d superseded.", inc, cur)}, true
	}
	return Result{}, false
}

// readMembers reads the group's alerts that are not resolved.
func (s *step) readMembers(ctx context.Context) error {
	for _, id := range s.g.Members {
		a, err := s.m.Store.GetAlert(ctx, id)
		if err != nil {
			return fmt.Errorf("read alert %s: %w", id, err)
		}
		if a != nil && a.Status != state.Resolved && a.Group == s.g.ID {
			s.members = append(s.members, a)
		}
	}
	return nil
}

// commits builds the writes: records on every unresolved alert (a request
// is the model's, recorded on the group's first alert only), the group, and
// the notification.
func (s *step) commits(action, detail, kind string, resolve bool, req *state.Request) []*state.Commit {
	g := s.g
	members := s.members
	if req != nil {
		members = members[:1]
	}
	s.action, s.detail, s.resolve = action, detail, resolve
	first := s.chunk(members[:min(len(members), chunk)])
	first.Groups = []*state.Group{g}
	out := []*state.Commit{first}
	for i := chunk; i < len(members); i += chunk {
		out = append(out, s.chunk(members[i:min(len(members), i+chunk)]))
	}
	lead := members[0]
	if kind == "" {
		return out // nobody is told (Defer)
	}
	n := Notice(g, lead, kind, s.now)
	n.Channels = s.channels(lead, kind)
	if s.told != nil && s.told.Hold.After(s.now) {
		n.Hold = s.told.Hold
	}
	n.Request = req
	first.Outbox = []*state.Notification{n}
	// The queued record goes on the lead alert's chain, after the change.
	s.record(first, lead, audit.Queued, fmt.Sprintf("%s notification %s to %s via %s", kind, n.ID, n.Owner, strings.Join(n.Channels, ", ")))
	return out
}

// rest writes the later chunks of a group-wide change, re-reading the
// chunk's alerts and rebuilding their records after a conflict.
func (s *step) rest(ctx context.Context, more []*state.Commit) error {
	for _, c := range more {
		err := state.OnConflict(ctx, tries, func(attempt int) error {
			if attempt > 1 {
				fresh, err := s.reread(ctx, c.Alerts)
				if err != nil {
					return err
				}
				c = s.chunk(fresh)
			}
			return s.m.Store.Commit(ctx, c)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// reread reads these alerts again, keeping those still open in the group.
func (s *step) reread(ctx context.Context, alerts []*state.Alert) ([]*state.Alert, error) {
	var fresh []*state.Alert
	for _, a := range alerts {
		cur, err := s.m.Store.GetAlert(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("read alert %s: %w", a.ID, err)
		}
		if cur != nil && cur.Status != state.Resolved && cur.Group == s.g.ID {
			fresh = append(fresh, cur)
		}
	}
	return fresh, nil
}

// channels a lifecycle notification goes to: Slack and PagerDuty where
// the alert's stakes send it (a digest-only alert has no message to
// update), and EventBridge for the changes other tools subscribe to.
func (s *step) channels(a *state.Alert, kind string) []string {
	var out []string
	notify := Notify(s.g, a)
	if s.told != nil {
		notify = s.told.Notify
	}
	for _, ch := range notify {
		if ch == "slack" || (ch == "pagerduty" && kind != state.NoticeRequest) {
			out = append(out, ch)
		}
	}
	if state.IsDrill(a.Model) {
		return out // a drill is no event for other tools
	}
	switch kind {
	case state.NoticeAcknowledged, state.NoticeSnoozed, state.NoticeEscalated, state.NoticeResolved, state.NoticeRequest:
		out = append(out, Events)
	}
	return out
}

// record writes a record of the change on a's chain in c.
func (s *step) record(c *state.Commit, a *state.Alert, action, detail string) {
	g := s.g
	v := a.Value
	r := audit.Record{Alert: a.ID, At: s.now, Recorded: s.now, Action: action, Actor: s.c.By.ID, Model: a.Model,
		Version: a.ModelVersion, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric, Feature: a.Feature, Segment: a.Segment,
		Value: &v, Severity: a.Severity, Role: g.Role, Owner: g.Owner, Notify: slices.Clone(a.Notify), Group: g.ID,
		Detail: detail, ConfigDigest: s.cfg().Digest}
	c.Record(a, r)
}

// ackWithin is the group's acknowledgement deadline (0: none).
func (s *step) ackWithin() time.Duration {
	d, err := duration.Parse(s.g.AckWithin)
	if err != nil {
		return 0
	}
	return d
}

func (s *step) after(ack time.Duration) time.Time {
	if ack <= 0 {
		return time.Time{}
	}
	return s.now.Add(ack)
}

// maxRenotify caps the wait between re-notifications past the chain's end.
const maxRenotify = 24 * time.Hour

func (s *step) chainLen() int {
	if o := s.cfg().Owners[s.g.Base]; o != nil {
		return len(o.Escalation)
	}
	return 0
}

// Next is who a group escalates to next: the next owner on its base
// owner's chain, or — at the end of the chain, or with no chain — the last
// one again, re-notified rather than left alone.
func Next(cfg *config.Config, l *state.Lifecycle) string {
	base := cfg.Owners[l.Base]
	if base == nil || len(base.Escalation) == 0 {
		return l.Owner
	}
	return base.Escalation[min(l.Step, len(base.Escalation)-1)]
}

func (s *step) ownerName(id string) string {
	if o := s.cfg().Owners[id]; o != nil && o.Name != "" {
		return o.Name
	}
	return id
}

// Notice builds the notification of a change of group g caused by (or
// about) alert a; its id comes from the group's counter, so a retried
// write derives the same one.
func Notice(g *state.Group, a *state.Alert, kind string, created time.Time) *state.Notification {
	g.Notices++
	n := &state.Notification{ID: fmt.Sprintf("%s#%d", g.ID, g.Notices), Kind: kind, Group: g.ID, Model: a.Model,
		Rule: a.Rule, Owner: a.Owner, Role: a.Role, Channels: slices.Clone(Notify(g, a)), Created: created, Alert: *a.Clone()}
	AsGroup(n, g)
	return n
}

// AsGroup brings notification n to group g as it is: who has it, what
// people did (its lifecycle), its size and the alerts it names first, and
// the severity and ack_within it is told at (its level's once raised).
// Notifications take these from the group when they are queued, and an
// update window's again when its sender takes it (deliver), so that no
// message shows an older group than the one it is about.
func AsGroup(n *state.Notification, g *state.Group) {
	if g.Owner != "" {
		n.Owner, n.Role = g.Owner, g.Role
	}
	n.Lifecycle, n.Members, n.Subjects = g.Lifecycle, g.Size(), n.Subjects[:0]
	for _, id := range g.Members[:min(len(g.Members), state.MaxSubjects)] {
		n.Subjects = append(n.Subjects, state.Subject(id))
	}
	n.Alert.Severity = Severity(g, &n.Alert)
	if g.Base != "" {
		// A raise sets the level's ack_within on the group.
		n.Alert.AckWithin = g.AckWithin
	}
}

// Notify are the channels group g is told on: its level's once raised (a
// resolution must reach the incident the raise opened), else alert a's.
func Notify(g *state.Group, a *state.Alert) []string {
	if g.Notify != nil {
		return g.Notify
	}
	return a.Notify
}

// Severity is what group g is told at: its level once raised above alert
// a's severity, else a's.
func Severity(g *state.Group, a *state.Alert) string {
	if config.SeverityAbove(g.Level, a.Severity) {
		return g.Level
	}
	return a.Severity
}

// who names an actor for a record or a message.
func who(id, name string) string {
	if name != "" && name != id {
		return name + " (" + id + ")"
	}
	return id
}

// closedAs says how a group ended.
func closedAs(g *state.Group) string {
	switch g.Resolution {
	case state.FalseAlarm:
		return "marked as a false alarm"
	case "":
		return "resolved"
	}
	return "resolved by " + who(g.ClosedBy, g.ClosedName)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Start is the lifecycle of a group that alert a opens at `now`: with its
// owner, and escalating after ack_within if the stakes give one and tell
// someone directly (a digest-only alert has nobody to wait for).
func Start(a *state.Alert, now time.Time) state.Lifecycle {
	l := state.Lifecycle{Owner: a.Owner, Role: a.Role, Base: a.Owner, AckWithin: a.AckWithin, ReackAfter: a.ReackAfter,
		Level: a.Severity, GrowBase: 1}
	ack, err := duration.Parse(a.AckWithin)
	if err == nil && ack > 0 && (slices.Contains(a.Notify, "slack") || slices.Contains(a.Notify, "pagerduty")) {
		// A held alert's clock starts when it is delivered: nobody can
		// acknowledge what they have not been told.
		l.EscalateAt = maxTime(now, a.HeldUntil).Add(ack)
	}
	return l
}
