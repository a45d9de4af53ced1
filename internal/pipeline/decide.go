package pipeline

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/route"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// AlertID identifies an alert: model, rule, feature and segment. Model and
// rule ids are kebab-case by validation; feature and segment come from
// events and are escaped, so that no two alerts share an id.
func AlertID(model, rule, feature, segment string) string {
	id := model + "/" + rule
	if feature != "" {
		id += "/feature=" + url.QueryEscape(feature)
	}
	if segment != "" {
		id += "/segment=" + url.QueryEscape(segment)
	}
	return id
}

// decision is the working set of one attempt at one event: what was read,
// what changed, and the commit that follows.
type decision struct {
	p      *Processor
	ctx    context.Context
	m      *config.Model
	ev     *signal.Event
	id     string
	at     time.Time
	series *state.Series

	eng         *engine.Engine
	seriesDirty bool
	read        map[string]*state.Alert // alerts read, by id (nil: absent)
	groups      map[string]*state.Group // groups read, by rule
	groupDirty  map[string]bool
	inhib       *state.Inhibitors
	inhibDirty  bool
	outbox      []*state.Notification
	joins       []*state.Join
	// recorded holds the alerts changed with their audit records.
	recorded state.Commit
	changes  []Change
	results  []engine.Result
}

func (d *decision) decide(eng *engine.Engine) error {
	if d.series.Alerts == nil {
		d.series.Alerts = map[string]state.AlertRef{}
	}
	d.eng = eng
	d.results = eng.Observe(d.m, d.ev, &d.series.State, d.results[:0])
	d.seriesDirty = d.series.State.Dirty()
	if err := d.prefetch(); err != nil {
		return err
	}
	for i := range d.results {
		res := &d.results[i]
		if res.Late {
			continue
		}
		ref, has := d.series.Alerts[res.Rule.Name]
		var err error
		switch {
		case res.Status == engine.Firing && !has:
			err = d.open(res)
		case res.Status == engine.Firing:
			err = d.breach(res, ref)
		case res.Status == engine.Clear && has:
			err = d.clean(res, ref)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// open opens (or reopens) the alert of a firing rule.
func (d *decision) open(res *engine.Result) error {
	r := res.Rule
	id := AlertID(d.m.ID, r.Name, d.ev.Feature, d.ev.Segment)
	a, err := d.alert(id)
	if err != nil {
		return err
	}
	if a != nil && a.Status != state.Resolved {
		// Open already, from another series of the rule (a rule without a
		// metric filter sees psi and ks alike): update it, but only the
		// series that opened it may resolve it.
		d.refresh(a, res)
		if a.Status == state.Open {
			d.record(a, audit.Updated, "breach on "+d.ev.Series().String())
		}
		return nil
	}
	if a == nil {
		a = &state.Alert{ID: id, Model: d.m.ID, Rule: r.Name, Feature: d.ev.Feature, Segment: d.ev.Segment}
	}
	d.refresh(a, res)
	a.Kind, a.Metric = d.ev.Kind, d.ev.Metric
	a.OpenedAt, a.ResolvedAt, a.InhibitedBy, a.Group, a.Muted = d.at, time.Time{}, "", "", false
	a.Opens++
	plan := route.Plan(d.p.Config, d.m, r, d.at)
	a.Severity, a.Role, a.Owner, a.Notify, a.AckWithin, a.Runbook = plan.Severity, plan.Role, plan.Owner, plan.Notify, plan.AckWithin, plan.Runbook
	a.Stakes = d.m.Stakes

	a.Status = state.Open
	if slices.Contains(d.m.Inhibit.Targets, d.ev.Kind) {
		by, err := d.inhibitor()
		if err != nil {
			return err
		}
		if by != "" {
			a.Status, a.InhibitedBy = state.Suppressed, by
		}
	}
	d.series.Alerts[r.Name] = state.AlertRef{ID: id, Status: a.Status}
	d.seriesDirty = true
	action, change := audit.Opened, "opened"
	if a.Opens > 1 {
		change = "reopened"
	}
	if a.Status == state.Suppressed {
		action, change = audit.Suppressed, "suppressed"
		d.record(a, action, "inhibited by "+a.InhibitedBy)
		d.change(a, change)
		return nil
	}
	d.record(a, action, a.Summary)
	d.change(a, change)
	if slices.Contains(d.m.Inhibit.Sources, d.ev.Kind) {
		if err := d.loadInhibitors(); err != nil {
			return err
		}
		if d.inhib.Active == nil {
			d.inhib.Active = map[string]string{}
		}
		d.inhib.Active[id] = d.ev.Kind
		d.inhibDirty = true
	}
	return d.join(a, r)
}

// breach handles a further breach of an alert this series opened.
func (d *decision) breach(res *engine.Result, ref state.AlertRef) error {
	a, err := d.alert(ref.ID)
	if err != nil {
		return err
	}
	if a != nil && a.Status == state.Resolved && a.Muted {
		// A person called it a false alarm and it still breaches: quiet
		// until its series has been clean (then it may open again).
		return nil
	}
	if a == nil || a.Status == state.Resolved {
		// Resolved elsewhere (by a person, later): this breach opens anew.
		delete(d.series.Alerts, res.Rule.Name)
		return d.open(res)
	}
	if ref.Clean != 0 {
		ref.Clean = 0
		d.series.Alerts[res.Rule.Name] = ref
		d.seriesDirty = true
	}
	if a.Status == state.Suppressed {
		by, err := d.inhibitor()
		if err != nil {
			return err
		}
		if by != "" {
			return nil // still suppressed; nothing new to record
		}
		// The inhibiting alert resolved while this one kept breaching: it
		// is a problem of its own now, and its owner must hear of it.
		d.refresh(a, res)
		a.Status, a.InhibitedBy = state.Open, ""
		ref.Status = state.Open
		d.series.Alerts[res.Rule.Name] = ref
		d.seriesDirty = true
		d.record(a, audit.Opened, "no longer inhibited: "+a.Summary)
		d.change(a, "opened")
		return d.join(a, res.Rule)
	}
	g, err := d.group(res.Rule.Name)
	if err != nil {
		return err
	}
	if g == nil || g.ID != a.Group || g.Over() {
		// Left open in a group that ended (a person's resolution of a
		// large group not recorded on every alert): it joins a live
		// group, so that its owner hears of it again.
		d.refresh(a, res)
		d.record(a, audit.Updated, "still breaching after its group "+a.Group+" ended: "+a.Summary)
		d.change(a, "opened")
		return d.join(a, res.Rule)
	}
	d.refresh(a, res)
	d.record(a, audit.Updated, a.Summary)
	d.change(a, "updated")
	return nil
}

// clean counts a clean reading of an alert's series and resolves the alert
// after the rule's resolve_after of them.
func (d *decision) clean(res *engine.Result, ref state.AlertRef) error {
	d.seriesDirty = true
	ref.Clean++
	if ref.Clean < res.Rule.ResolveAfter {
		d.series.Alerts[res.Rule.Name] = ref
		return nil
	}
	delete(d.series.Alerts, res.Rule.Name)
	a, err := d.alert(ref.ID)
	if err != nil || a == nil {
		return err
	}
	if a.Status == state.Resolved {
		// A person resolved it; an inhibitor entry left by an older
		// version of stakeout goes now.
		if slices.Contains(d.m.Inhibit.Sources, a.Kind) {
			if err := d.loadInhibitors(); err != nil {
				return err
			}
			if _, ok := d.inhib.Active[a.ID]; ok {
				delete(d.inhib.Active, a.ID)
				d.inhibDirty = true
			}
		}
		return nil
	}
	wasOpen := a.Status == state.Open
	a.Status, a.ResolvedAt, a.UpdatedAt, a.Value = state.Resolved, d.at, d.at, d.ev.Value
	d.record(a, audit.Resolved, fmt.Sprintf("%d clean reading(s) of %s", ref.Clean, d.ev.Series()))
	d.change(a, "resolved")
	if d.inhibDirty || slices.Contains(d.m.Inhibit.Sources, a.Kind) {
		if err := d.loadInhibitors(); err != nil {
			return err
		}
		if _, ok := d.inhib.Active[a.ID]; ok {
			delete(d.inhib.Active, a.ID)
			d.inhibDirty = true
		}
	}
	if !wasOpen {
		return nil
	}
	g, err := d.group(a.Rule)
	if err != nil || g == nil || g.ID != a.Group || g.Closed() {
		// A group a person closed has told everyone already.
		return err
	}
	g.Open--
	d.groupDirty[a.Rule] = true
	if g.Open <= 0 {
		g.By, g.ByName, g.Note = "router", "", "every alert of the group is clean again"
		d.notice(g, a, state.NoticeResolved)
	}
	return nil
}

// join puts an opening alert in its rule's current group while that group
// has open members (twenty drifting features: one message, updated), or
// starts a new group once the last one is over, and queues the
// notification. A group is never replaced while it has open members, so
// every member's resolution counts down the group it belongs to.
func (d *decision) join(a *state.Alert, r *config.Rule) error {
	g, err := d.group(r.Name)
	if err != nil {
		return err
	}
	if g != nil && !g.Over() && !g.Legacy {
		// Commutative: any number of alerts join at once without
		// conflicting, and one update per window tells of them all.
		a.Group = g.ID
		n := lifecycle.Update(g, a, d.p.wallClock(d.at))
		d.record(a, audit.Queued, fmt.Sprintf("%s notification %s to %s via %s", n.Kind, n.ID, n.Owner, strings.Join(n.Channels, ", ")))
		n.Alert = *a.Clone()
		d.joins = append(d.joins, &state.Join{Model: g.Model, Rule: g.Rule, Group: g.ID, Version: g.Version, Alert: a.ID,
			Member: slices.Contains(g.Members, a.ID), Update: n})
		return nil
	}
	if g != nil && !g.Over() {
		// Stored before joins commuted: rewritten under its version.
		if !slices.Contains(g.Members, a.ID) {
			g.Members = append(g.Members, a.ID)
		}
		g.Open++
		a.Group = g.ID
		d.groupDirty[r.Name] = true
		d.notice(g, a, state.NoticeUpdated)
		return nil
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
	ng := &state.Group{ID: fmt.Sprintf("%s/%s@%s.%d", d.m.ID, r.Name, d.at.UTC().Format("20060102T150405Z"), version+1),
		Model: d.m.ID, Rule: r.Name, Opened: d.at, Started: d.p.wallClock(d.at), Members: []string{a.ID}, Open: 1, Version: version, New: true,
		Lifecycle: lifecycle.Start(a, d.p.wallClock(d.at))}
	d.groups[r.Name] = ng
	d.groupDirty[r.Name] = true
	a.Group = ng.ID
	d.notice(ng, a, state.NoticeOpened)
	return nil
}

// notice queues a notification to the group's owner on the alert's
// channels. Its id comes from the group's counter, so a retried commit
// reuses it.
func (d *decision) notice(g *state.Group, a *state.Alert, kind string) {
	d.groupDirty[g.Rule] = true
	n := lifecycle.Notice(g, a, kind, d.p.wallClock(d.at))
	if kind != state.NoticeUpdated {
		// Other tools subscribe to openings and resolutions.
		n.Channels = append(n.Channels, lifecycle.Events)
	}
	d.record(a, audit.Queued, fmt.Sprintf("%s notification %s to %s via %s", kind, n.ID, n.Owner, strings.Join(n.Channels, ", ")))
	n.Alert = *a.Clone()
	d.outbox = append(d.outbox, n)
}

// refresh copies the event's facts onto the alert.
func (d *decision) refresh(a *state.Alert, res *engine.Result) {
	a.Value, a.Baseline, a.ModelVersion, a.UpdatedAt = d.ev.Value, d.ev.Baseline, d.ev.Version, d.at
	a.Impact = nil
	if res.HasImpact {
		impact := res.Impact
		a.Impact = &impact
	}
	a.Summary = engine.Summary(d.m, res.Rule, d.ev, res)
	// Only when something opens or breaches again: explaining evaluates
	// the condition's clauses once more, which quiet events never pay for.
	a.Why = d.eng.Why(res.Rule, true)
	a.Lineage = d.ev.Lineage
	// The trend a person sees: the history the series keeps for its rules,
	// or, for a model that keeps none, the values this alert has seen.
	if d.series.State.Len() > 1 {
		a.Recent = d.series.State.AppendLast(a.Recent[:0], state.MaxRecentValues)
	} else {
		a.Recent = append(a.Recent, d.ev.Value)
		if n := len(a.Recent); n > state.MaxRecentValues {
			a.Recent = append(a.Recent[:0], a.Recent[n-state.MaxRecentValues:]...)
		}
	}
}

// record appends an audit record to the alert's chain.
func (d *decision) record(a *state.Alert, action, detail string) {
	v := d.ev.Value
	r := audit.Record{Alert: a.ID, At: d.at, Recorded: d.p.wallClock(d.at), Action: action, Actor: "router",
		EventID: d.id, Model: a.Model, Version: d.ev.Version, Lineage: d.ev.Lineage, Rule: a.Rule,
		Kind: d.ev.Kind, Metric: d.ev.Metric, Feature: a.Feature, Segment: a.Segment, Value: &v,
		Severity: a.Severity, Role: a.Role, Owner: a.Owner, Notify: slices.Clone(a.Notify), Group: a.Group,
		InhibitedBy: a.InhibitedBy, Detail: detail, ConfigDigest: d.p.Config.Digest}
	d.recorded.Record(a, r)
}

func (d *decision) change(a *state.Alert, st string) {
	notify := a.Notify
	if a.Status == state.Suppressed {
		notify = []string{} // nobody is told of a suppressed alert
	}
	d.changes = append(d.changes, Change{At: d.at, Alert: a.ID, Model: a.Model, Rule: a.Rule, State: st,
		Severity: a.Severity, Owner: a.Owner, Notify: notify, Value: a.Value, InhibitedBy: a.InhibitedBy,
		Group: a.Group, Summary: a.Summary})
}

// prefetch reads, in one round trip, what deciding the results may need:
// the alerts they open, update or resolve, their groups, and the model's
// inhibitors when the event's kind inhibits or is inhibited. A quiet
// event reads nothing more.
func (d *decision) prefetch() error {
	var keys state.Keys
	for i := range d.results {
		res := &d.results[i]
		ref, has := d.series.Alerts[res.Rule.Name]
		switch {
		case res.Late || res.Status != engine.Firing && !has:
			continue
		case has:
			keys.Alerts = append(keys.Alerts, ref.ID)
		default:
			keys.Alerts = append(keys.Alerts, AlertID(d.m.ID, res.Rule.Name, d.ev.Feature, d.ev.Segment))
		}
		keys.Groups = append(keys.Groups, state.GroupKey{Model: d.m.ID, Rule: res.Rule.Name})
	}
	if len(keys.Alerts) == 0 {
		return nil
	}
	if slices.Contains(d.m.Inhibit.Targets, d.ev.Kind) || slices.Contains(d.m.Inhibit.Sources, d.ev.Kind) {
		keys.Inhibitors = d.m.ID
	}
	recs, err := d.p.Store.Read(d.ctx, keys)
	if err != nil {
		return fmt.Errorf("read the records of %s: %w", d.ev.Series(), err)
	}
	maps.Copy(d.read, recs.Alerts)
	for k, g := range recs.Groups {
		d.groups[k.Rule] = g
	}
	if recs.Inhibitors != nil {
		d.inhib = recs.Inhibitors
	}
	return nil
}

func (d *decision) alert(id string) (*state.Alert, error) {
	if a, ok := d.read[id]; ok {
		return a, nil
	}
	a, err := d.p.Store.GetAlert(d.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read alert %s: %w", id, err)
	}
	d.read[id] = a
	return a, nil
}

func (d *decision) group(rule string) (*state.Group, error) {
	if g, ok := d.groups[rule]; ok {
		return g, nil
	}
	g, err := d.p.Store.GetGroup(d.ctx, d.m.ID, rule)
	if err != nil {
		return nil, fmt.Errorf("read group of %s/%s: %w", d.m.ID, rule, err)
	}
	d.groups[rule] = g
	return g, nil
}

func (d *decision) loadInhibitors() error {
	if d.inhib != nil {
		return nil
	}
	in, err := d.p.Store.GetInhibitors(d.ctx, d.m.ID)
	if err != nil {
		return fmt.Errorf("read inhibitors of %s: %w", d.m.ID, err)
	}
	d.inhib = in
	return nil
}

// inhibitor returns the firing alert that inhibits new target alerts of
// the model ("" if none). Deterministic: the smallest id.
func (d *decision) inhibitor() (string, error) {
	if err := d.loadInhibitors(); err != nil {
		return "", err
	}
	ids := slices.Sorted(maps.Keys(d.inhib.Active))
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// commit gathers the changes, or returns nil when there is nothing worth
// a write (no history kept, no streak moved, no alert changed).
func (d *decision) commit() *state.Commit {
	if !d.seriesDirty && len(d.recorded.Alerts) == 0 && !d.inhibDirty && len(d.groupDirty) == 0 && len(d.joins) == 0 {
		return nil
	}
	d.series.Recent = append(d.series.Recent, d.id)
	if n := len(d.series.Recent); n > state.MaxRecent {
		d.series.Recent = d.series.Recent[n-state.MaxRecent:]
	}
	ttl := d.p.EventTTL
	if ttl == 0 {
		ttl = DefaultEventTTL
	}
	c := &state.Commit{EventID: d.id, EventExpires: d.p.wallClock(d.at).Add(ttl), Series: d.series, Outbox: d.outbox,
		Alerts: d.recorded.Alerts, Audit: d.recorded.Audit, Joins: d.joins}
	slices.SortFunc(c.Alerts, func(a, b *state.Alert) int { return strings.Compare(a.ID, b.ID) })
	for _, rule := range slices.Sorted(maps.Keys(d.groupDirty)) {
		c.Groups = append(c.Groups, d.groups[rule])
	}
	switch {
	case d.inhibDirty:
		c.Inhibitors = d.inhib
	case d.inhib != nil:
		c.InhibitorsRead = d.inhib
	}
	return c
}
