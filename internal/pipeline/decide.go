package pipeline

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// AlertID identifies an alert: model, rule, feature and segment. Model and
// rule ids are kebab-case by validation; feature and segment come from
// events and are escaped, so that no two alerts share an id, and bounded
// (MaxIDPart), so that every key and record made of the id stays within
// DynamoDB's limits whatever the names (a feature of 200 "/" escapes to
// 600 bytes).
func AlertID(model, rule, feature, segment string) string {
	id := model + "/" + rule
	if feature != "" {
		id += "/feature=" + state.KeyPart(url.QueryEscape(feature), MaxIDPart)
	}
	if segment != "" {
		id += "/segment=" + state.KeyPart(url.QueryEscape(segment), MaxIDPart)
	}
	return id
}

// MaxIDPart bounds the escaped feature and segment in an alert id: with
// model and rule names of at most MaxNameLength, an id is at most 899
// bytes, and its audit index key (time, id, seq) within DynamoDB's 1,024.
// A longer part keeps its first bytes and a hash of the whole.
const MaxIDPart = 240

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
	// closed: see Journal.Closed.
	closed []string

	eng         *engine.Engine
	seriesDirty bool
	read        map[string]*state.Alert // alerts read, by id (nil: absent)
	inhib       *state.Inhibitors
	inhibDirty  bool
	// j gathers the alerts, groups, records and notifications changed.
	j       Journal
	changes []Change
	results []engine.Result

	lineageKept map[string]any
	// release is the version timeline's word on the event's version,
	// read with the alerts (prefetch).
	release     *state.Release
	lineageDone bool
	// windows are the schedules that end the silence of alerts silenced
	// by this event (see silence).
	windows []*state.Schedule
	// quiets are the model's windows made from Slack, read at the first
	// alert about to open (nil: not read yet).
	quiets *state.Quiets
}

func (d *decision) decide(eng *engine.Engine) error {
	d.j = Journal{Model: d.m.ID, At: d.at, Now: d.p.wallClock(d.at), Groups: d.p.Store, Audit: d.audit, Closed: d.closed,
		Windows: d.p.Windows, Config: d.p.Config}
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
		if err == nil {
			err = d.ruleError(res)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ruleError opens, updates or resolves the alert about a rule itself. A
// rule over its evaluation budget cannot say whether its condition holds:
// its owner hears of it as of any alert of the rule, and the rule's next
// evaluation on the series resolves it.
func (d *decision) ruleError(res *engine.Result) error {
	er := res.Rule.ErrorRule()
	ref, has := d.series.Alerts[er.Name]
	e := *res
	e.Rule = er
	switch {
	case res.Status == engine.RuleError && has:
		return d.breach(&e, ref)
	case res.Status == engine.RuleError:
		return d.open(&e)
	case has && res.Status != engine.Skipped:
		// The rule was evaluated: its alert is over, whatever the rule's
		// own resolve_when says of the model's reading.
		e.Status, e.Held, e.HeldWhy, e.Unresolvable = engine.Clear, false, "", ""
		return d.clean(&e, ref)
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
			d.j.Record(a, audit.Updated, "breach on "+d.ev.Series().String())
		}
		return nil
	}
	if a == nil {
		a = &state.Alert{ID: id, Model: d.m.ID, Rule: r.Name, Feature: d.ev.Feature, Segment: d.ev.Segment}
	}
	d.refresh(a, res)
	a.Kind, a.Metric = d.ev.Kind, d.ev.Metric
	Route(d.p.Config, d.m, r, a, d.at)
	// An alert about a rule is about the configuration, not the model's
	// data: no inhibition applies to it, either way.
	inhibits := !r.IsErrorRule()
	if inhibits && slices.Contains(d.m.Inhibit.Targets, d.ev.Kind) {
		by, err := d.inhibitor()
		if err != nil {
			return err
		}
		if by != "" {
			// Not in a group: the one it was in before is not its own.
			a.Status, a.InhibitedBy, a.Group = state.Suppressed, by, ""
		}
	}
	if inhibits && a.Status == state.Open {
		if err := d.silence(a, r); err != nil {
			return err
		}
	}
	d.series.Alerts[r.Name] = state.AlertRef{ID: id, Status: a.Status}
	d.seriesDirty = true
	action, change := audit.Opened, "opened"
	if a.Opens > 1 {
		change = "reopened"
	}
	if a.SilencedBy != "" {
		d.j.Record(a, audit.Silenced, d.silencedDetail(a))
		d.change(a, "silenced")
		return nil
	}
	if a.Status == state.Suppressed {
		action, change = audit.Suppressed, "suppressed"
		d.j.Record(a, action, "inhibited by "+a.InhibitedBy)
		d.change(a, change)
		return nil
	}
	d.j.Record(a, action, a.Summary)
	flapping := d.opening(a, r.Flapping)
	d.change(a, change)
	if inhibits && slices.Contains(d.m.Inhibit.Sources, d.ev.Kind) {
		if err := d.loadInhibitors(); err != nil {
			return err
		}
		if d.inhib.Active == nil {
			d.inhib.Active = map[string]string{}
		}
		if len(d.inhib.Active) < state.MaxInhibitors {
			d.inhib.Active[id] = d.ev.Kind
			d.inhibDirty = true
		}
	}
	return d.join(a, flapping, r.Flapping)
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
	reopened := ref.Holding // a held resolution: this breach is an opening
	if ref.Clean != 0 || ref.Holding {
		ref.Clean, ref.Holding = 0, false
		d.series.Alerts[res.Rule.Name] = ref
		d.seriesDirty = true
	}
	if a.Status == state.Suppressed && a.SilencedBy != "" {
		return d.silencedBreach(a, res, ref)
	}
	if a.Status == state.Suppressed {
		by, err := d.inhibitor()
		if err != nil {
			return err
		}
		if by != "" {
			return nil // still suppressed; nothing new to record
		}
		return d.freed(a, res, ref)
	}
	g, err := d.j.Group(d.ctx, res.Rule.Name)
	if err != nil {
		return err
	}
	if g == nil || g.ID != a.Group || g.Over() {
		// Left open in a group that ended (a person's resolution of a
		// large group not recorded on every alert): it joins a live
		// group, so that its owner hears of it again.
		d.refresh(a, res)
		d.j.Record(a, audit.Updated, "still breaching after its group "+a.Group+" ended: "+a.Summary)
		d.change(a, "opened")
		return d.j.Join(d.ctx, a)
	}
	d.refresh(a, res)
	if _, err := d.mute(a, res.Rule); err != nil {
		return err
	}
	detail := a.Summary
	if reopened && a.Flapping {
		f := res.Rule.Flapping
		a.Openings = countOpening(a.Openings, d.at, f.Within)
		detail = "flapping: " + f.Describe(len(a.Openings)) + " (resolution held): " + a.Summary
	}
	d.j.Record(a, audit.Updated, detail)
	d.change(a, "updated")
	return nil
}

// freed handles a breach of an alert whose inhibitor resolved while it
// kept breaching: it is a problem of its own now, and its owner must hear
// of it — unless a window silences its rule now, as it would have
// silenced it at its opening: then it is silenced until the window's end.
func (d *decision) freed(a *state.Alert, res *engine.Result, ref state.AlertRef) error {
	d.refresh(a, res)
	a.Status, a.InhibitedBy = state.Open, ""
	if err := d.silence(a, res.Rule); err != nil {
		return err
	}
	ref.Status = a.Status
	d.series.Alerts[res.Rule.Name] = ref
	d.seriesDirty = true
	if a.SilencedBy != "" {
		d.j.Record(a, audit.Silenced, "no longer inhibited, "+d.silencedDetail(a))
		d.change(a, "silenced")
		return nil
	}
	d.j.Record(a, audit.Opened, "no longer inhibited: "+a.Summary)
	d.change(a, "opened")
	return d.j.Join(d.ctx, a)
}

// clean counts a clean reading of an alert's series and resolves the alert
// after the rule's resolve_after of them.
func (d *decision) clean(res *engine.Result, ref state.AlertRef) error {
	d.seriesDirty = true
	if res.Held {
		// Between the threshold to fire and resolve_when's: not clean.
		ref.Clean = 0
		d.series.Alerts[res.Rule.Name] = ref
		return nil
	}
	if res.Unresolvable != "" && d.p.Log != nil {
		d.p.Log.WarnContext(d.ctx, "resolve_when not evaluable: counted as clean", "alert", ref.ID, "event_id", d.id, "reason", res.Unresolvable)
	}
	ref.Clean++
	if ref.Clean < res.Rule.ResolveAfter {
		d.series.Alerts[res.Rule.Name] = ref
		return nil
	}
	a, err := d.alert(ref.ID)
	if err != nil {
		return err
	}
	if a != nil && d.held(a, &ref, res.Rule.Flapping) {
		d.series.Alerts[res.Rule.Name] = ref
		return nil
	}
	delete(d.series.Alerts, res.Rule.Name)
	if a == nil {
		return nil
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
	wasOpen, muted := a.Status == state.Open, false
	detail := fmt.Sprintf("%d clean reading(s) of %s", ref.Clean, d.ev.Series())
	if wasOpen && a.Group != "" {
		if muted, err = d.mute(a, res.Rule); err != nil {
			return err
		}
	}
	a.Status, a.ResolvedAt, a.UpdatedAt, a.Value = state.Resolved, d.at, d.at, d.ev.Value
	if res.Unresolvable != "" {
		detail += "; " + res.Unresolvable
	}
	if muted {
		detail += "; " + MutedDetail(a) + " (its group's resolution is told then)"
	}
	d.j.Record(a, audit.Resolved, detail)
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
	if !muted {
		return d.j.Leave(d.ctx, a, "router", CleanAgain)
	}
	return d.j.LeaveMuted(d.ctx, a, "router", CleanAgain)
}

// CleanAgain is why the router ends a group.
const CleanAgain = "every alert of the group is clean again"

// refresh copies the event's facts onto the alert.
func (d *decision) refresh(a *state.Alert, res *engine.Result) {
	a.Value, a.Baseline, a.ModelVersion, a.UpdatedAt = d.ev.Value, d.ev.Baseline, d.ev.Version, d.at
	a.Impact = nil
	if res.HasImpact {
		impact := res.Impact
		a.Impact = &impact
	}
	a.Summary = state.Clip(engine.Summary(d.m, res.Rule, d.ev, res), MaxTextBytes)
	// Only when something opens or breaches again: explaining evaluates
	// the condition's clauses once more, which quiet events never pay for.
	if res.Status == engine.RuleError {
		a.Why = state.Clip(res.Verdict.Reason(), MaxTextBytes)
	} else {
		a.Why = state.Clip(d.eng.Why(res.Rule, true), MaxTextBytes)
	}
	a.Lineage = d.lineage()
	a.Release = d.release
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

// audit is the router's record of an action on an alert: the event's
// facts with the alert's routing.
func (d *decision) audit(a *state.Alert, action, detail string) audit.Record {
	v := d.ev.Value
	return audit.Record{Alert: a.ID, At: d.at, Recorded: d.p.wallClock(d.at), Action: action, Actor: "router",
		EventID: d.id, Model: a.Model, Version: d.ev.Version, Lineage: d.lineage(), Rule: a.Rule,
		Kind: d.ev.Kind, Metric: d.ev.Metric, Feature: a.Feature, Segment: a.Segment, Value: &v,
		Severity: a.Severity, Role: a.Role, Owner: a.Owner, Notify: slices.Clone(a.Notify), Group: a.Group,
		InhibitedBy: a.InhibitedBy, SilencedBy: a.SilencedBy, Detail: detail, ConfigDigest: d.p.Config.Digest}
}

// MaxTextBytes bounds an alert's summary and why: a summary template can
// quote labels and lineage, and an alert, its records and notifications
// must stay far within DynamoDB's 400 KB item.
const MaxTextBytes = 4 << 10

// lineage is the event's lineage as alerts and records keep it (bounded:
// state.BoundLineage), worked out once per event.
func (d *decision) lineage() map[string]any {
	if !d.lineageDone {
		d.lineageKept, d.lineageDone = state.BoundLineage(d.ev.Lineage), true
	}
	return d.lineageKept
}

func (d *decision) change(a *state.Alert, st string) {
	notify := a.Notify
	if a.Status == state.Suppressed || a.SilencedBy != "" {
		notify = []string{} // nobody is told of a suppressed or silenced alert
	}
	ch := Change{At: d.at, Alert: a.ID, Model: a.Model, Rule: a.Rule, State: st,
		Severity: a.Severity, Owner: a.Owner, Notify: notify, Value: a.Value, InhibitedBy: a.InhibitedBy,
		SilencedBy: a.SilencedBy, SilencedUntil: a.SilencedUntil, Group: a.Group, Summary: a.Summary}
	if a.Impact != nil && st != "resolved" {
		impact := expression.RoundImpact(*a.Impact)
		ch.Impact, ch.ImpactUnit = &impact, expression.ImpactUnit
	}
	d.changes = append(d.changes, ch)
}

// prefetch reads, in one round trip, what deciding the results may need:
// the alerts they open, update or resolve, their groups, and the model's
// inhibitors when the event's kind inhibits or is inhibited, and its
// windows made from Slack when an alert may open. A quiet event reads
// nothing more.
func (d *decision) prefetch() error {
	var keys state.Keys
	for i := range d.results {
		res := &d.results[i]
		if id, ok := d.ruleErrorAlert(res); ok {
			keys.Alerts = append(keys.Alerts, id)
			keys.Groups = append(keys.Groups, state.GroupKey{Model: d.m.ID, Rule: res.Rule.ErrorRule().Name})
		}
		ref, has := d.series.Alerts[res.Rule.Name]
		switch {
		case res.Late || res.Status != engine.Firing && !has:
			continue
		case has:
			keys.Alerts = append(keys.Alerts, ref.ID)
		default:
			keys.Alerts = append(keys.Alerts, AlertID(d.m.ID, res.Rule.Name, d.ev.Feature, d.ev.Segment))
			keys.Quiets = d.m.ID // an alert may open: a window made from Slack may silence it
		}
		keys.Groups = append(keys.Groups, state.GroupKey{Model: d.m.ID, Rule: res.Rule.Name})
	}
	if len(keys.Alerts) == 0 {
		return nil
	}
	if slices.Contains(d.m.Inhibit.Targets, d.ev.Kind) || slices.Contains(d.m.Inhibit.Sources, d.ev.Kind) {
		keys.Inhibitors = d.m.ID
	}
	if d.p.Timelines != nil {
		keys.Timeline = d.m.ID // an alert is about the version live (see release)
	}
	recs, err := d.p.Store.Read(d.ctx, keys)
	if err != nil {
		return fmt.Errorf("read the records of %s: %w", d.ev.Series(), err)
	}
	maps.Copy(d.read, recs.Alerts)
	for k, g := range recs.Groups {
		d.j.Know(k.Rule, g)
	}
	if recs.Inhibitors != nil {
		d.inhib = recs.Inhibitors
	}
	if recs.Quiets != nil {
		d.quiets = recs.Quiets
	}
	d.release = release(recs.Timeline, d.ev)
	return nil
}

// ruleErrorAlert returns the id of the alert about the result's rule that
// ruleError will read, if it will read one.
func (d *decision) ruleErrorAlert(res *engine.Result) (string, bool) {
	if res.Late {
		return "", false
	}
	er := res.Rule.ErrorRule()
	ref, has := d.series.Alerts[er.Name]
	switch {
	case has && res.Status != engine.Skipped:
		return ref.ID, true
	case res.Status == engine.RuleError:
		return AlertID(d.m.ID, er.Name, d.ev.Feature, d.ev.Segment), true
	}
	return "", false
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
	if !d.seriesDirty && !d.j.Changed() && !d.inhibDirty {
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
	c := d.j.Commit()
	c.EventID, c.EventExpires, c.Series = d.id, d.p.wallClock(d.at).Add(ttl), d.series
	switch {
	case d.inhibDirty:
		c.Inhibitors = d.inhib
	case d.inhib != nil:
		c.InhibitorsRead = d.inhib
	}
	c.Schedules = append(c.Schedules, d.windows...)
	return c
}
