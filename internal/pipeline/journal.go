package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// GroupReader reads the current alert group of a model's rule.
type GroupReader interface {
	GetGroup(ctx context.Context, model, rule string) (*state.Group, error)
}

// Journal is what one step that opens or resolves alerts of a model
// writes: the alerts with their audit records, their rules' groups and the
// notifications that tell people, gathered for one commit. The router (for
// an event) and silence detection (for a watch) both open and resolve
// alerts through it, so an alert joins its group, and its owner hears of
// it, the same way whatever opened it.
type Journal struct {
	Model string
	// At is when the step happens (the event's observation time for the
	// router): it names and dates the groups that open.
	At time.Time
	// Now is the wall clock: when lifecycles start and notifications are
	// created.
	Now    time.Time
	Groups GroupReader
	// Audit builds the record of an action on an alert, as the step's
	// actor saw it; Record seals it onto the alert's chain.
	Audit func(a *state.Alert, action, detail string) audit.Record
	// Closed are update windows an earlier attempt found taken by a
	// sender (state.WindowClosed): a join goes in the next open one.
	Closed []string
	// Windows are the update windows of the groups it opens (zero: the
	// default, state.UpdateWindow).
	Windows state.Windows
	// Config, when set, raises groups that grow (escalate_when) or that
	// an alert of a higher severity joins (nil: never).
	Config *config.Config

	out    *state.Commit           // alerts, audit records and notifications (nil: none yet)
	groups map[string]*state.Group // groups read or opened, by rule (nil: none)
	dirty  map[string]bool         // rules whose group changed
	joins  []*state.Join           // alerts joining open groups, commutatively
	held   map[string]time.Time    // raises held to their owner's working hours, by group id
	reopen map[string]bool         // groups a flapping alert reopened (Rejoin), by id
}

// Route readies alert a of rule r to open at `at`: routed by the rule's
// plan (owner, severity, channels and deadline the model's stakes give),
// with what an earlier opening left — its resolution, its inhibitor, a
// false alarm's mute — cleared, and open. The caller sets what the alert
// is about (kind, summary, value). Its group is left until it joins one
// (Place): rejoining the group it was in counts it once.
func Route(cfg *config.Config, m *config.Model, r *config.Rule, a *state.Alert, at time.Time) {
	a.OpenedAt, a.ResolvedAt, a.InhibitedBy, a.Muted = at, time.Time{}, "", false
	a.SilencedBy, a.SilencedUntil = "", time.Time{}
	a.Opens++
	Replan(cfg, m, r, a, at)
	a.Status = state.Open
}

// Replan routes alert a of rule r by the rule's plan at `at` (owner,
// severity, channels, deadline, and outside_hours by its owner's working
// hours then), leaving when it opened alone. Route uses it at an opening;
// the end of the window that silenced an alert uses it at that end, so the
// alert is told as if it had just opened.
func Replan(cfg *config.Config, m *config.Model, r *config.Rule, a *state.Alert, at time.Time) {
	plan := Plan(cfg, m, r, at)
	a.Severity, a.Role, a.Owner, a.Notify, a.AckWithin, a.Runbook = plan.Severity, plan.Role, plan.Owner, plan.Notify, plan.AckWithin, plan.Runbook
	a.HeldUntil = plan.HoldUntil
	a.ReackAfter = plan.ReackAfter
	a.Stakes = m.Stakes
}

// Record writes an audit record of an action on a, and a itself, with the
// step's commit.
func (j *Journal) Record(a *state.Alert, action, detail string) {
	j.commit().Record(a, j.Audit(a, action, detail))
}

// Group returns the current group of the model's rule (nil: none yet),
// read once per step.
func (j *Journal) Group(ctx context.Context, rule string) (*state.Group, error) {
	if g, ok := j.groups[rule]; ok {
		return g, nil
	}
	g, err := j.Groups.GetGroup(ctx, j.Model, rule)
	if err != nil {
		return nil, fmt.Errorf("read group of %s/%s: %w", j.Model, rule, err)
	}
	if j.groups == nil {
		j.groups = map[string]*state.Group{}
	}
	j.groups[rule] = g
	return g, nil
}

// Know gives the journal a group read ahead (nil: the rule has none).
func (j *Journal) Know(rule string, g *state.Group) {
	if j.groups == nil {
		j.groups = map[string]*state.Group{}
	}
	j.groups[rule] = g
}

// Join puts an opening alert in its rule's group (see Place) and queues
// the notification that tells of it.
func (j *Journal) Join(ctx context.Context, a *state.Alert) error {
	g, kind, err := j.Place(ctx, a)
	if err != nil {
		return err
	}
	j.Notice(g, a, kind)
	return nil
}

// Place puts an opening alert in its rule's current group while that
// group has open members (twenty drifting features: one message,
// updated), or starts a new group once the last one is over. It returns
// the group and the kind of notification that tells of it: opened for a
// new group, updated for one joined. A group is never replaced while it
// has open members, so every member's resolution counts down the group it
// belongs to.
func (j *Journal) Place(ctx context.Context, a *state.Alert) (*state.Group, string, error) {
	g, err := j.Group(ctx, a.Rule)
	if err != nil {
		return nil, "", err
	}
	// A member before: named, or its alert says so (a group names only
	// its first state.MaxMembers).
	member := g != nil && (a.Group == g.ID || slices.Contains(g.Members, a.ID))
	named := !member && g != nil && len(g.Members) < state.MaxMembers
	if g != nil && !g.Over() && !g.Legacy {
		if raised, ok := j.raise(g, a, member, named); ok {
			return raised, state.NoticeRaised, nil
		}
		// Commutative: any number of alerts join at once without
		// conflicting (state.Join), and one update per window tells of
		// them all, naming those the group names.
		a.Group = g.ID
		join := &state.Join{Model: g.Model, Rule: g.Rule, Group: g.ID, Version: g.Version, Alert: a.ID,
			Member: member, Named: named, Size: g.Size(), Update: lifecycle.Update(g, a, j.window(g))}
		if !named {
			join.Update.Joined = nil
		}
		j.joins = append(j.joins, join)
		return g, state.NoticeUpdated, nil
	}
	if g != nil && !g.Over() {
		// Stored before joins commuted: rewritten under its version.
		if !member {
			g.Total = g.Size() + 1
		}
		if named {
			g.Members = append(g.Members, a.ID)
		}
		g.Open++
		a.Group = g.ID
		j.touch(g)
		return g, state.NoticeUpdated, nil
	}
	// The new group takes the place of the rule's finished one
	// (conditionally on the version read, like any other record).
	// The id counts the rule's groups (the record's version is bumped by
	// every write, so it never repeats); the time is for people. A retried
	// commit reads the same version and derives the same id.
	var version int64
	if g != nil {
		version = g.Version
	}
	ng := &state.Group{ID: fmt.Sprintf("%s/%s@%s.%d", j.Model, a.Rule, j.At.UTC().Format("20060102T150405Z"), version+1),
		Model: j.Model, Rule: a.Rule, Opened: j.At, Started: j.Now, Windows: j.Windows, Members: []string{a.ID}, Total: 1, Open: 1, Version: version, New: true,
		Lifecycle: lifecycle.Start(a, j.Now)}
	a.Group = ng.ID
	j.touch(ng)
	return ng, state.NoticeOpened, nil
}

// window is when a join to g is told: now, or in the first window after
// those found closed.
func (j *Journal) window(g *state.Group) time.Time {
	at := j.Now
	for {
		id, _ := state.UpdateID(g, at)
		if !slices.Contains(j.Closed, id) {
			return at
		}
		at = g.NextWindow(at)
	}
}

// Notice queues a notification of kind to the group's owner on the
// alert's channels, and records it on the alert. Its id comes from the
// group's counter, so a retried commit reuses it.
func (j *Journal) Notice(g *state.Group, a *state.Alert, kind string) {
	if join := j.joinOf(a.ID); join != nil && kind == state.NoticeUpdated {
		// Told with the others of its update window.
		n := join.Update
		detail := fmt.Sprintf("%s notification %s to %s via %s", kind, n.ID, n.Owner, strings.Join(n.Channels, ", "))
		if !join.Named && !join.Member {
			detail += fmt.Sprintf("; the group names its first %d alerts, and %d more with this one", state.MaxMembers, join.Size+1-state.MaxMembers)
		}
		j.Record(a, audit.Queued, detail)
		reclone(n, a)
		return
	}
	j.touch(g)
	n := lifecycle.Notice(g, a, kind, j.Now)
	if kind == state.NoticeRaised {
		n.Channels = slices.Clone(g.Notify) // its level's
	} else if kind != state.NoticeUpdated {
		// Other tools subscribe to openings and resolutions.
		n.Channels = append(n.Channels, lifecycle.Events)
	}
	detail := fmt.Sprintf("%s notification %s to %s via %s", kind, n.ID, n.Owner, strings.Join(n.Channels, ", "))
	if kind == state.NoticeUpdated && j.reopen[g.ID] {
		// Updated in place, and paged as an opening is (a new incident).
		n.Reopened = true
		detail += "; reopened: it pages"
	}
	if (kind == state.NoticeOpened || n.Reopened) && a.HeldUntil.After(j.Now) {
		// Outside working hours: the messages that follow it on each
		// channel wait for it (deliver sends a group's notices in order).
		n.Hold = a.HeldUntil
		detail += "; held until " + a.HeldUntil.UTC().Format(time.RFC3339) + ", the start of " + n.Owner + "'s working hours (outside_hours: hold)"
	}
	if kind == state.NoticeResolved && a.MutedInGroup() && a.SilencedUntil.After(j.Now) {
		// CloudWatch runs none of a muted alarm's actions: told at the
		// mute's end, whatever the alarm does meanwhile (LeaveMuted).
		n.Hold = a.SilencedUntil
		detail += "; held until " + a.SilencedUntil.UTC().Format(time.RFC3339) + ", the end of the mute (" + MutedDetail(a) + ")"
	}
	if hold := j.held[g.ID]; kind == state.NoticeRaised && !hold.IsZero() {
		// A raise is told when its owner is at work, as an opening is.
		n.Hold = hold
		detail += "; held until " + hold.UTC().Format(time.RFC3339) + ", the start of " + n.Owner + "'s working hours (outside_hours: hold)"
	}
	j.Record(a, audit.Queued, detail)
	reclone(n, a)
	j.commit().Outbox = append(j.commit().Outbox, n)
}

// reclone copies alert a into its notification n again once its record is
// added, told at the severity and ack_within the group decided
// (lifecycle.AsGroup).
func reclone(n *state.Notification, a *state.Alert) {
	sev, ack := n.Alert.Severity, n.Alert.AckWithin
	n.Alert = *a.Clone()
	n.Alert.Severity, n.Alert.AckWithin = sev, ack
}

// Leave counts a resolved alert out of its group; the last open member
// leaving ends the group, by `by` for the reason `note`, and tells its
// owner. A group that is over already (a person closed it, or nothing in
// it was open) has told everyone.
func (j *Journal) Leave(ctx context.Context, a *state.Alert, by, note string) error {
	g, err := j.leave(ctx, a, by, note)
	if g != nil {
		j.Notice(g, a, state.NoticeResolved)
	}
	return err
}

// LeaveMuted is Leave for an alert a CloudWatch mute holds back
// (state.Alert.MutedInGroup): the group's resolution, if a's leaving ends
// the group, is queued at once but held until the mute's end (Notice), so
// that it is told then even if the alert fires again meanwhile and opens
// a new group; a group that goes on has nothing of a left to tell, and the
// mute is lifted from it.
func (j *Journal) LeaveMuted(ctx context.Context, a *state.Alert, by, note string) error {
	g, err := j.leave(ctx, a, by, note)
	if g == nil {
		a.SilencedBy, a.SilencedUntil = "", time.Time{}
		return err
	}
	j.Notice(g, a, state.NoticeResolved)
	return err
}

// leave counts a out of its group, and returns the group if that ended it.
func (j *Journal) leave(ctx context.Context, a *state.Alert, by, note string) (*state.Group, error) {
	g, err := j.Group(ctx, a.Rule)
	if err != nil || g == nil || g.ID != a.Group || g.Over() {
		return nil, err
	}
	g.Open--
	j.touch(g)
	if g.Open > 0 {
		return nil, nil
	}
	g.By, g.ByName, g.Note = by, "", note
	return g, nil
}

// TellMuted tells, once, what a CloudWatch mute held back of alert a, open
// in its group (state.Alert.MutedInGroup), at the mute's end: one update
// with a's latest state, saying why (note). A group replaced meanwhile,
// over, or closed by a person (who was told) has nothing left to tell;
// nor has a resolved alert, whose group's resolution LeaveMuted queued,
// held until now.
func (j *Journal) TellMuted(ctx context.Context, a *state.Alert, note string) error {
	if a.Status != state.Open {
		return nil
	}
	g, err := j.Group(ctx, a.Rule)
	if err != nil || g == nil || g.ID != a.Group || g.Over() {
		return err
	}
	g.By, g.ByName, g.Note = lifecycle.Escalator.ID, "", note
	j.Notice(g, a, state.NoticeUpdated)
	return nil
}

// joinOf is the join of alert id in this step, if it joins commutatively.
func (j *Journal) joinOf(id string) *state.Join {
	for _, jn := range j.joins {
		if jn.Alert == id {
			return jn
		}
	}
	return nil
}

// touch marks g, the current group of its rule, as changed.
func (j *Journal) touch(g *state.Group) {
	if j.groups == nil {
		j.groups = map[string]*state.Group{}
	}
	if j.dirty == nil {
		j.dirty = map[string]bool{}
	}
	j.groups[g.Rule] = g
	j.dirty[g.Rule] = true
}

// commit is where the step's records go, made when the first is written:
// most events write none.
func (j *Journal) commit() *state.Commit {
	if j.out == nil {
		j.out = &state.Commit{}
	}
	return j.out
}

// Changed reports whether the step changed any alert or group.
func (j *Journal) Changed() bool {
	return (j.out != nil && len(j.out.Alerts) > 0) || len(j.dirty) > 0 || len(j.joins) > 0
}

// Commit returns the commit of what the step changed: alerts (by id),
// their audit records, groups (by rule) and notifications. The caller
// adds its own records (the series, the watch). Call it once, at the end.
func (j *Journal) Commit() *state.Commit {
	c := j.commit()
	slices.SortFunc(c.Alerts, func(a, b *state.Alert) int { return strings.Compare(a.ID, b.ID) })
	c.Groups = c.Groups[:0]
	for _, rule := range slices.Sorted(maps.Keys(j.dirty)) {
		c.Groups = append(c.Groups, j.groups[rule])
	}
	c.Joins = j.joins
	return c
}

// raise joins a to open group g by rewriting it, raised, when the join
// makes it grow past its rule's escalate_when or a is of a higher severity
// (lifecycle.Grown): the group is told at the higher level and its
// escalation restarts, in the join's own write. The write is conditioned
// on the group's version and open count as read, so of joins racing to
// raise it one does; the others re-read it raised, at its new size.
func (j *Journal) raise(g *state.Group, a *state.Alert, member, named bool) (*state.Group, bool) {
	if j.Config == nil {
		return nil, false
	}
	size := g.Size()
	if !member {
		size++
	}
	var rule *config.Rule
	if m := j.Config.Models[j.Model]; m != nil {
		if i := slices.IndexFunc(m.Rules, func(r *config.Rule) bool { return r.Name == a.Rule }); i >= 0 {
			rule = m.Rules[i]
		}
	}
	level, why := lifecycle.Grown(rule, g, a, size)
	if why == "" {
		return nil, false
	}
	if !member {
		g.Total = size
	}
	if named {
		g.Members = append(g.Members, a.ID)
	}
	g.Open++
	g.Grew = true
	a.Group = g.ID
	told := j.raiseRouting(g, a, level)
	if told.Hold.After(j.Now) {
		j.raiseHolds()[g.ID] = told.Hold
	}
	j.Record(a, audit.Raised, lifecycle.Raise(j.Config, g, a, level, why, size, j.Now, told))
	j.touch(g)
	return g, true
}

// raiseRouting is how a raise of g to level is told: as an opening at that
// level would be (Routing.outsideHours), for the owner the raise gives it
// (its base owner) at the time of the raise.
func (j *Journal) raiseRouting(g *state.Group, a *state.Alert, level string) lifecycle.Told {
	pol, _ := j.Config.Stakes.Cell(a.Stakes, level)
	r := Routing{Notify: slices.Clone(pol.Notify)}
	r.outsideHours(j.Config.Owners[g.Base], pol, j.Now)
	return lifecycle.Told{Notify: r.Notify, Hold: r.HoldUntil}
}

func (j *Journal) raiseHolds() map[string]time.Time {
	if j.held == nil {
		j.held = map[string]time.Time{}
	}
	return j.held
}
