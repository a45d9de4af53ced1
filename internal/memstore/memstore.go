// Package memstore is the embedded store: the router's state in memory,
// with the same conditional-write and idempotency semantics as the DynamoDB
// store (both pass storetest), and DynamoDB's limits on keys and items
// (see limits.go), optionally saved to a JSON file so that a local replay
// can be audited afterwards. It is what `stakeout replay` runs on: no AWS
// account needed. It also keeps a bounded history of each series' readings
// (history.go) for `stakeout report` to draw.
package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	now        func() time.Time
	series     map[signal.SeriesKey]*state.Series
	history    map[signal.SeriesKey][]series.Observation // see history.go
	alerts     map[string]*state.Alert
	groups     map[string]*state.Group // current group by model/rule
	inhibitors map[string]*state.Inhibitors
	quiets     map[string]*state.Quiets
	events     map[string]time.Time  // applied event ids → expiry
	outbox     []*state.Notification // in the order queued
	queued     map[string]*state.Notification
	deliveries map[string]*state.Delivery
	digest     map[string][]state.DigestEntry // by owner
	// digested says which entries digest holds: a commit checks each
	// entry against it rather than scanning the owner's entries.
	digested map[digestKey]bool
	audit    map[string][]audit.Record
	// sizes are the DynamoDB sizes of groups and update notifications as
	// stored, or bounds above them (see limits), by groupSize and
	// noticeSize: a join is checked against them without encoding its
	// group and update again.
	sizes      map[string]int
	quarantine []state.Quarantined
	watches    map[string]*state.Watch
	schedules  map[string]*state.Schedule
	versions   map[string]map[string]*state.ModelVersion // by model, version
	timelines  map[string]*state.Timeline                // by model

	// What is due (see dueindex.go): unsent notifications, and the groups,
	// watches and schedules the escalator must look at. Every change to
	// those records goes through indexNotice or indexDue.
	outboxDue     dueIndex
	noticeEntries map[*state.Notification]*dueEntry // one per outbox item
	escalatorDue  dueIndex
	dueEntries    map[dueKey]*dueEntry
}

// New returns an empty store. now tells when idempotency records expire
// (replays pass the event clock).
func New(now func() time.Time) *Store {
	return &Store{
		now:        now,
		series:     map[signal.SeriesKey]*state.Series{},
		history:    map[signal.SeriesKey][]series.Observation{},
		alerts:     map[string]*state.Alert{},
		groups:     map[string]*state.Group{},
		inhibitors: map[string]*state.Inhibitors{},
		quiets:     map[string]*state.Quiets{},
		events:     map[string]time.Time{},
		queued:     map[string]*state.Notification{},
		deliveries: map[string]*state.Delivery{},
		digest:     map[string][]state.DigestEntry{},
		digested:   map[digestKey]bool{},
		audit:      map[string][]audit.Record{},
		sizes:      map[string]int{},
		watches:    map[string]*state.Watch{},
		schedules:  map[string]*state.Schedule{},
		versions:   map[string]map[string]*state.ModelVersion{},

		noticeEntries: map[*state.Notification]*dueEntry{},
		dueEntries:    map[dueKey]*dueEntry{},
	}
}

func groupKey(model, rule string) string { return model + "/" + rule }

// digestKey names a digest entry: its owner and notification.
type digestKey struct{ owner, notice string }

// GetSeries returns a copy of the series (Version 0 when never stored).
func (s *Store) GetSeries(_ context.Context, key signal.SeriesKey) (*state.Series, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.series[key]; v != nil {
		return v.Clone(), nil
	}
	return &state.Series{Key: key}, nil
}

// GetAlert returns a copy of the alert, or nil.
func (s *Store) GetAlert(_ context.Context, id string) (*state.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.alerts[id]; a != nil {
		return a.Clone(), nil
	}
	return nil, nil
}

// GetGroup returns a copy of the model's current group for the rule, or nil.
func (s *Store) GetGroup(_ context.Context, model, rule string) (*state.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.group(model, rule), nil
}

// group returns a copy of a group, as read (s.mu held).
func (s *Store) group(model, rule string) *state.Group {
	g := s.groups[groupKey(model, rule)]
	if g == nil {
		return nil
	}
	c := g.Clone()
	c.OpenRead, c.New = c.Open, false
	return c
}

// Read returns copies of the records keys name.
func (s *Store) Read(_ context.Context, keys state.Keys) (*state.Records, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &state.Records{Alerts: map[string]*state.Alert{}, Groups: map[state.GroupKey]*state.Group{}}
	for _, id := range keys.Alerts {
		out.Alerts[id] = nil
		if a := s.alerts[id]; a != nil {
			out.Alerts[id] = a.Clone()
		}
	}
	for _, k := range keys.Groups {
		out.Groups[k] = s.group(k.Model, k.Rule)
	}
	if m := keys.Quiets; m != "" {
		out.Quiets = &state.Quiets{Model: m}
		if q := s.quiets[m]; q != nil {
			out.Quiets = q.Clone()
		}
	}
	if m := keys.Timeline; m != "" {
		out.Timeline = s.timeline(m)
	}
	if m := keys.Inhibitors; m != "" {
		out.Inhibitors = &state.Inhibitors{Model: m}
		if in := s.inhibitors[m]; in != nil {
			out.Inhibitors = in.Clone()
		}
	}
	return out, nil
}

// GetQuiets returns a copy of the model's windows made from Slack.
func (s *Store) GetQuiets(_ context.Context, model string) (*state.Quiets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.quiets[model]; q != nil {
		return q.Clone(), nil
	}
	return &state.Quiets{Model: model}, nil
}

// GetInhibitors returns a copy of the model's firing inhibitors.
func (s *Store) GetInhibitors(_ context.Context, model string) (*state.Inhibitors, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.inhibitors[model]; in != nil {
		return in.Clone(), nil
	}
	return &state.Inhibitors{Model: model}, nil
}

// Commit applies c atomically: every record's version must match the
// stored one (0 for a new record), and the event must not have been applied.
func (s *Store) Commit(_ context.Context, c *state.Commit) error {
	// Items over a limit are refused before any condition is looked at,
	// as DynamoDB validates a transaction's items before its conditions.
	if err := own(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.EventID != "" {
		if exp, ok := s.events[c.EventID]; ok && s.now().Before(exp) {
			return state.ErrDuplicate
		}
	}
	// Check everything before changing anything, in the order below: of
	// several failed conditions, the first is the one reported.
	if err := s.checkAlerting(c); err != nil {
		return err
	}
	if n := c.Items(); n > state.MaxCommitItems {
		return fmt.Errorf("commit of event %s has %d items, more than %d", c.EventID, n, state.MaxCommitItems)
	}
	if err := s.checkDelivery(c); err != nil {
		return err
	}
	if err := s.checkTimers(c); err != nil {
		return err
	}
	if err := s.checkAudit(c); err != nil {
		return err
	}
	if err := s.limits(c); err != nil {
		return err
	}
	if c.EventID != "" {
		s.events[c.EventID] = c.EventExpires
	}
	s.applyAlerting(c)
	s.applyDelivery(c)
	for _, r := range c.Audit {
		s.audit[r.Alert] = append(s.audit[r.Alert], r)
	}
	s.applyTimers(c)
	return nil
}

// checkAlerting checks the conditions on the router's records: the
// series, alerts, groups (and joins of them), inhibitors and quiet windows
// c writes must be as c read them (s.mu held).
func (s *Store) checkAlerting(c *state.Commit) error {
	if c.Series != nil && c.Series.Version != s.series[c.Series.Key].StoredVersion() {
		return fmt.Errorf("series %s: %w", c.Series.Key, state.ErrConflict)
	}
	for _, a := range c.Alerts {
		if a.Version != s.alerts[a.ID].StoredVersion() {
			return fmt.Errorf("alert %s: %w", a.ID, state.ErrConflict)
		}
	}
	for _, g := range c.Groups {
		stored := s.groups[groupKey(g.Model, g.Rule)]
		if g.Version != stored.StoredVersion() || stored != nil && !g.New && g.Open != g.OpenRead && stored.Open != g.OpenRead {
			return fmt.Errorf("group %s: %w", g.ID, state.ErrConflict)
		}
	}
	for _, j := range c.Joins {
		if err := s.checkJoin(j); err != nil {
			return err
		}
	}
	for _, in := range []*state.Inhibitors{c.Inhibitors, c.InhibitorsRead} {
		if in != nil && in.Version != s.inhibitors[in.Model].StoredVersion() {
			return fmt.Errorf("inhibitors of %s: %w", in.Model, state.ErrConflict)
		}
	}
	if q := c.Quiets; q != nil && q.Version != s.quiets[q.Model].StoredVersion() {
		return fmt.Errorf("quiet windows of %s: %w", q.Model, state.ErrConflict)
	}
	return nil
}

// checkJoin checks join j's conditions: its group is open at the version
// read, has room for a name if j adds one, and its window's update is not
// yet taken by a sender (s.mu held).
func (s *Store) checkJoin(j *state.Join) error {
	g := s.groups[groupKey(j.Model, j.Rule)]
	if g == nil || g.Version != j.Version || g.Open <= 0 {
		return fmt.Errorf("join of group %s: %w", j.Group, state.ErrConflict)
	}
	if j.Named && len(g.Members) >= state.MaxMembers {
		return fmt.Errorf("join of group %s: its %d names are taken: %w", j.Group, state.MaxMembers, state.ErrConflict)
	}
	if q := s.queued[j.Update.ID]; q != nil && (!q.Sent.IsZero() || q.Version > 1) {
		// Taken by a sender (its claim is the notification's first
		// write after the router's): closed, as DynamoDB's condition.
		return &state.WindowClosed{ID: j.Update.ID}
	}
	return nil
}

// checkDelivery checks the conditions on notifications and deliveries:
// a queued notification is new, a sender's write of one and a delivery
// are at the version read (s.mu held).
func (s *Store) checkDelivery(c *state.Commit) error {
	for _, n := range c.Outbox {
		if s.queued[n.ID] != nil {
			return &state.NoticeExists{ID: n.ID}
		}
	}
	for _, n := range c.Notices {
		if q := s.queued[n.ID]; q == nil || n.Version != q.Version {
			return fmt.Errorf("notification %s: %w", n.ID, state.ErrConflict)
		}
	}
	for _, d := range c.Deliveries {
		if d.Version != s.deliveries[d.Group].StoredVersion() {
			return fmt.Errorf("delivery of %s: %w", d.Group, state.ErrConflict)
		}
	}
	return nil
}

// checkTimers checks that the watches and schedules c writes are at the
// version read (s.mu held).
func (s *Store) checkTimers(c *state.Commit) error {
	for _, w := range c.Watches {
		if w.Version != s.watches[w.ID()].StoredVersion() {
			return fmt.Errorf("watch %s: %w", w.ID(), state.ErrConflict)
		}
	}
	for _, sc := range c.Schedules {
		if sc.Version != s.schedules[sc.Name].StoredVersion() {
			return fmt.Errorf("schedule %s: %w", sc.Name, state.ErrConflict)
		}
	}
	return nil
}

// checkAudit checks that each audit record continues its alert's chain
// from the stored head (s.mu held).
func (s *Store) checkAudit(c *state.Commit) error {
	for _, r := range c.Audit {
		if recs := s.audit[r.Alert]; r.Seq != len(recs)+1+countBefore(c.Audit, r) {
			return fmt.Errorf("audit of %s: %w", r.Alert, state.ErrConflict)
		}
	}
	return nil
}

// applyAlerting writes c's series, alerts, groups, joins, quiet windows
// and inhibitors, each a version on, and indexes the groups' due times; a
// join's window update is queued or grows (s.mu held, c checked).
func (s *Store) applyAlerting(c *state.Commit) {
	if c.Series != nil {
		n := c.Series.Clone()
		n.Version++
		s.series[n.Key] = n
		s.keep(n)
	}
	for _, a := range c.Alerts {
		n := a.Clone()
		n.Version++
		s.alerts[n.ID] = n
	}
	for _, g := range c.Groups {
		n := s.written(g)
		n.Version++
		s.groups[groupKey(n.Model, n.Rule)] = n
		s.indexDue(state.DueGroup, groupKey(n.Model, n.Rule), n.Due())
	}
	for _, j := range c.Joins {
		joinGroup(s.groups[groupKey(j.Model, j.Rule)], j)
		if q := s.queued[j.Update.ID]; q != nil {
			joinNotice(q, j)
			continue
		}
		q := joinNotice(nil, j)
		s.outbox = append(s.outbox, q)
		s.queued[q.ID] = q
		s.indexNotice(q)
	}
	if c.Quiets != nil {
		n := c.Quiets.Clone()
		n.Version++
		s.quiets[n.Model] = n
	}
	if c.Inhibitors != nil {
		n := c.Inhibitors.Clone()
		n.Version++
		s.inhibitors[n.Model] = n
	}
}

// applyDelivery queues c's notifications, writes senders' writes of them
// and deliveries, each a version on and indexed, and adds digest entries
// not yet in their owner's digest (s.mu held, c checked).
func (s *Store) applyDelivery(c *state.Commit) {
	for _, n := range c.Outbox {
		q := n.Clone()
		q.Version++
		s.outbox = append(s.outbox, q)
		s.queued[n.ID] = q
		s.indexNotice(q)
	}
	for _, n := range c.Notices {
		q := s.queued[n.ID]
		*q = *sent(q, n)
		q.Version++
		s.indexNotice(q)
	}
	for _, d := range c.Deliveries {
		n := d.Clone()
		n.Version++
		s.deliveries[n.Group] = n
	}
	for _, e := range c.Digest {
		if k := (digestKey{e.Owner, e.Notice.ID}); !s.digested[k] {
			s.digested[k] = true
			s.digest[e.Owner] = append(s.digest[e.Owner], state.DigestEntry{Owner: e.Owner, At: e.At, Notice: *e.Notice.Clone()})
		}
	}
}

// applyTimers writes c's watches and schedules, a version on, and
// indexes when each is next due (s.mu held, c checked).
func (s *Store) applyTimers(c *state.Commit) {
	for _, w := range c.Watches {
		n := w.Clone()
		n.Version++
		s.watches[n.ID()] = n
		s.indexDue(state.DueWatch, n.ID(), n.Next)
	}
	for _, sc := range c.Schedules {
		n := sc.Clone()
		n.Version++
		s.schedules[n.Name] = n
		s.indexDue(state.DueSchedule, n.Name, n.Next)
	}
}

// written is group g as stored once written: joins move a group's count,
// total and members without its version, so a writer that did not make
// the group keeps what they did (s.mu held).
func (s *Store) written(g *state.Group) *state.Group {
	n := g.Clone()
	if stored := s.groups[groupKey(n.Model, n.Rule)]; stored != nil && !g.New && g.Grew {
		n.Total = g.Size() // the join was written under the open count read
	} else if stored != nil && !g.New {
		n.Members, n.Total = slices.Clone(stored.Members), stored.Total
		if g.Open == g.OpenRead {
			n.Open = stored.Open
		}
	} else {
		n.Total = g.Size()
	}
	n.OpenRead, n.New, n.Legacy, n.Grew = 0, false, false, false
	return n
}

// joinGroup applies join j to group g: one more open, one more in all
// unless it was a member, named if the join names it.
func joinGroup(g *state.Group, j *state.Join) {
	g.Open++
	if !j.Member {
		if g.Total == 0 {
			g.Total = j.Size // stored before it kept a total
		}
		g.Total++
	}
	if j.Named {
		g.Members = append(g.Members, j.Alert)
	}
}

// joinNotice applies join j to its window's update q, or makes the update
// (q nil), and returns it.
func joinNotice(q *state.Notification, j *state.Join) *state.Notification {
	if q == nil {
		q = j.Update.Clone()
		q.Version, q.Joins = 1, 1
		return q
	}
	q.Joined = append(q.Joined, j.Update.Joined...)
	q.Joins++
	return q
}

// sent is what a sender's write n of stored notification q stores: what
// joined the update while the sender worked is kept.
func sent(q, n *state.Notification) *state.Notification {
	c := n.Clone()
	c.Joined, c.Joins, c.Version = slices.Clone(q.Joined), q.Joins, q.Version
	return c
}

// Due returns up to limit groups, watches and schedules due by now, the
// earliest first (then by kind and key).
func (s *Store) Due(_ context.Context, now time.Time, limit int) ([]state.DueItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.DueItem // nil when nothing is due, as a store's query returns
	for e := range s.escalatorDue.ascend(now) {
		if out == nil {
			out = make([]state.DueItem, 0, min(max(limit, 0), len(s.escalatorDue)))
		}
		if len(out) >= limit {
			break
		}
		out = append(out, state.DueItem{Kind: e.kind, Key: e.key, At: e.at})
	}
	return out, nil
}

// NextDue is the earliest time anything is due (zero if nothing is): replay
// runs the escalator at each such time between events.
func (s *Store) NextDue() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, notice := s.escalatorDue.earliest(), s.outboxDue.earliest()
	if next.IsZero() || (!notice.IsZero() && notice.Before(next)) {
		return notice
	}
	return next
}

// OpenGroups returns copies of the groups not over, by model and rule.
func (s *Store) OpenGroups(context.Context) ([]*state.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*state.Group
	for _, k := range slices.Sorted(maps.Keys(s.groups)) {
		if g := s.groups[k]; !g.Over() {
			out = append(out, g.Clone())
		}
	}
	return out, nil
}

// GetWatch returns a copy of the watch, or nil.
func (s *Store) GetWatch(_ context.Context, id string) (*state.Watch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.watches[id]; w != nil {
		return w.Clone(), nil
	}
	return nil, nil
}

// EnsureWatch stores w unless its watch exists; created says which.
func (s *Store) EnsureWatch(_ context.Context, w *state.Watch) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watches[w.ID()] != nil {
		return false, nil
	}
	if err := check(layout.WatchItem(w)); err != nil {
		return false, fmt.Errorf("create watch %s: %w", w.ID(), err)
	}
	n := w.Clone()
	n.Version = 1
	s.watches[n.ID()] = n
	s.indexDue(state.DueWatch, n.ID(), n.Next)
	return true, nil
}

// SawSignal records that the watch's signal arrived, observed at `at`: if
// that is its latest sighting, Seen moves there and the watch is next due
// at `next` — or at once (`now`) while its silence alert is open, so that
// the escalator resolves it. A watch that does not exist is left alone.
func (s *Store) SawSignal(_ context.Context, id string, at, next, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := s.watches[id]
	if stored == nil || !at.After(stored.Seen) {
		return nil
	}
	w := stored.Clone()
	w.Seen, w.Next = at, next
	if w.Alert != "" {
		w.Next = now
	}
	if err := check(layout.WatchItem(w)); err != nil {
		return fmt.Errorf("record sighting of %s: %w", id, err)
	}
	*stored = *w
	stored.Version++
	s.indexDue(state.DueWatch, id, stored.Next)
	return nil
}

// GetSchedule returns a copy of the schedule, or nil.
func (s *Store) GetSchedule(_ context.Context, name string) (*state.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc := s.schedules[name]; sc != nil {
		return sc.Clone(), nil
	}
	return nil, nil
}

// EnsureSchedule stores sc unless its schedule exists; created says which.
func (s *Store) EnsureSchedule(_ context.Context, sc *state.Schedule) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schedules[sc.Name] != nil {
		return false, nil
	}
	if err := check(layout.ScheduleItem(sc)); err != nil {
		return false, fmt.Errorf("create schedule %s: %w", sc.Name, err)
	}
	n := sc.Clone()
	n.Version = 1
	s.schedules[n.Name] = n
	s.indexDue(state.DueSchedule, n.Name, n.Next)
	return true, nil
}

// SawVersion records that the model's version was live at `at`.
func (s *Store) SawVersion(_ context.Context, model, version string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.versions[model]
	if vs == nil {
		vs = map[string]*state.ModelVersion{}
		s.versions[model] = vs
	}
	v := vs[version]
	if v == nil {
		v = &state.ModelVersion{Model: model, Version: version, FirstSeen: at, LastSeen: at}
		if err := check(layout.VersionItem(v), nil); err != nil {
			return fmt.Errorf("record version %s of %s: %w", version, model, err)
		}
		vs[version] = v
		return nil
	}
	if at.Before(v.FirstSeen) {
		v.FirstSeen = at
	}
	if at.After(v.LastSeen) {
		v.LastSeen = at
	}
	return nil
}

// Versions returns the model's versions seen, the first seen first.
func (s *Store) Versions(_ context.Context, model string) ([]state.ModelVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.ModelVersion
	for _, v := range s.versions[model] {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b state.ModelVersion) int {
		return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// countBefore counts the records of r's alert that precede r in the commit.
func countBefore(recs []audit.Record, r audit.Record) int {
	n := 0
	for _, o := range recs {
		if o.Alert == r.Alert && o.Seq < r.Seq {
			n++
		}
	}
	return n
}

// Alerts returns copies of all alerts, by id.
func (s *Store) Alerts(context.Context) ([]*state.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*state.Alert, 0, len(s.alerts))
	for _, id := range slices.Sorted(maps.Keys(s.alerts)) {
		out = append(out, s.alerts[id].Clone())
	}
	return out, nil
}

// Quarantine keeps an event that can never be processed.
func (s *Store) Quarantine(_ context.Context, q state.Quarantined) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := check(layout.QuarantineItem(&q)); err != nil {
		return fmt.Errorf("quarantine %s: %w", q.ID, err)
	}
	s.quarantine = append(s.quarantine, q)
	return nil
}

// QuarantinedOn returns the events quarantined on the (UTC) day of day.
func (s *Store) QuarantinedOn(_ context.Context, day time.Time) ([]state.Quarantined, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Quarantined
	for _, q := range s.quarantine {
		if q.Received.UTC().Format(time.DateOnly) == day.UTC().Format(time.DateOnly) {
			out = append(out, q)
		}
	}
	return out, nil
}

// Quarantined returns the quarantined events, oldest first.
func (s *Store) Quarantined(context.Context) ([]state.Quarantined, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.quarantine), nil
}

// Pending returns up to limit unsent notifications due by `due`, the
// longest-waiting first (then by id).
func (s *Store) Pending(_ context.Context, due time.Time, limit int) ([]*state.Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*state.Notification // nil when nothing is pending
	for e := range s.outboxDue.ascend(due) {
		if out == nil {
			out = make([]*state.Notification, 0, min(max(limit, 0), len(s.outboxDue)))
		}
		if len(out) >= limit {
			break
		}
		out = append(out, e.notice.Clone())
	}
	return out, nil
}

// GetNotice returns a copy of an outbox notification, or nil.
func (s *Store) GetNotice(_ context.Context, id string) (*state.Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.queued[id]; n != nil {
		return n.Clone(), nil
	}
	return nil, nil
}

// GetDelivery returns a copy of what was sent for a group (Version 0 when
// nothing was).
func (s *Store) GetDelivery(_ context.Context, group string) (*state.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.deliveries[group]; d != nil {
		return d.Clone(), nil
	}
	return &state.Delivery{Group: group}, nil
}

// Digest returns an owner's digest entries kept in [since, until),
// oldest first.
func (s *Store) Digest(_ context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.DigestEntry
	for _, e := range s.digest[owner] {
		if w := e.When(); !w.Before(since) && w.Before(until) {
			out = append(out, state.DigestEntry{Owner: e.Owner, At: e.At, Notice: *e.Notice.Clone()})
		}
	}
	slices.SortStableFunc(out, func(a, b state.DigestEntry) int { return a.When().Compare(b.When()) })
	return out, nil
}

// AlertRecords returns an alert's audit trail in order.
func (s *Store) AlertRecords(_ context.Context, id string) ([]audit.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit[id]), nil
}

// ModelRecords returns the audit records of a model's alerts with At in
// [since, until), ordered by time.
func (s *Store) ModelRecords(_ context.Context, model string, since, until time.Time) ([]audit.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Record
	for _, recs := range s.audit {
		for _, r := range recs {
			if r.Model == model && !r.At.Before(since) && r.At.Before(until) {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b audit.Record) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Alert, b.Alert), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// LatestModelRecords returns the latest limit records of ModelRecords'
// range, oldest first; more when older ones were left.
func (s *Store) LatestModelRecords(ctx context.Context, model string, since, until time.Time, limit int) ([]audit.Record, bool, error) {
	recs, err := s.ModelRecords(ctx, model, since, until)
	if err != nil || len(recs) <= limit {
		return recs, false, err
	}
	return recs[len(recs)-limit:], true, nil
}

// snapshot is the file format of a saved store.
type snapshot struct {
	Series     []*state.Series                `json:"series"`
	Alerts     []*state.Alert                 `json:"alerts"`
	Groups     []*state.Group                 `json:"groups"`
	Inhibitors []*state.Inhibitors            `json:"inhibitors"`
	Quiets     []*state.Quiets                `json:"quiets,omitempty"`
	Events     map[string]time.Time           `json:"events"`
	Outbox     []*state.Notification          `json:"outbox"`
	Deliveries []*state.Delivery              `json:"deliveries,omitempty"`
	Digest     map[string][]state.DigestEntry `json:"digest,omitempty"`
	Audit      map[string][]audit.Record      `json:"audit"`
	Quarantine []state.Quarantined            `json:"quarantine"`
	Watches    []*state.Watch                 `json:"watches,omitempty"`
	Schedules  []*state.Schedule              `json:"schedules,omitempty"`
	Versions   []state.ModelVersion           `json:"versions,omitempty"`
	Timelines  []*state.Timeline              `json:"timelines,omitempty"`
	History    []History                      `json:"history,omitempty"`
}

// Save writes the store to path (atomically: a crash leaves the old file).
// Expired event records are dropped, as DynamoDB's TTL would.
func (s *Store) Save(path string) error {
	s.mu.Lock()
	now := s.now()
	for id, exp := range s.events {
		if !now.Before(exp) {
			delete(s.events, id)
		}
	}
	snap := snapshot{Events: s.events, Outbox: s.outbox, Digest: s.digest, Audit: s.audit, Quarantine: s.quarantine}
	for _, id := range slices.Sorted(maps.Keys(s.deliveries)) {
		snap.Deliveries = append(snap.Deliveries, s.deliveries[id])
	}
	for _, v := range s.series {
		snap.Series = append(snap.Series, v)
	}
	for k, h := range s.history {
		snap.History = append(snap.History, History{Key: k, Readings: h})
	}
	for _, v := range s.alerts {
		snap.Alerts = append(snap.Alerts, v)
	}
	for _, v := range s.groups {
		snap.Groups = append(snap.Groups, v)
	}
	for _, v := range s.inhibitors {
		snap.Inhibitors = append(snap.Inhibitors, v)
	}
	for _, m := range slices.Sorted(maps.Keys(s.quiets)) {
		snap.Quiets = append(snap.Quiets, s.quiets[m])
	}
	for _, id := range slices.Sorted(maps.Keys(s.watches)) {
		snap.Watches = append(snap.Watches, s.watches[id])
	}
	for _, id := range slices.Sorted(maps.Keys(s.schedules)) {
		snap.Schedules = append(snap.Schedules, s.schedules[id])
	}
	for _, m := range slices.Sorted(maps.Keys(s.versions)) {
		for _, v := range slices.Sorted(maps.Keys(s.versions[m])) {
			snap.Versions = append(snap.Versions, *s.versions[m][v])
		}
	}
	for _, m := range slices.Sorted(maps.Keys(s.timelines)) {
		snap.Timelines = append(snap.Timelines, s.timelines[m])
	}
	data, err := json.Marshal(snap)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// Open returns a store loaded from path, or an empty one if path does not
// exist yet.
func Open(path string, now func() time.Time) (*Store, error) {
	s := New(now)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("open state %s: not a stakeout state file: %w", path, err)
	}
	for _, v := range snap.Series {
		s.series[v.Key] = v
	}
	for _, h := range snap.History {
		s.history[h.Key] = h.Readings
	}
	for _, v := range snap.Alerts {
		s.alerts[v.ID] = v
	}
	for _, v := range snap.Groups {
		s.groups[groupKey(v.Model, v.Rule)] = v
	}
	for _, v := range snap.Inhibitors {
		s.inhibitors[v.Model] = v
	}
	for _, v := range snap.Quiets {
		s.quiets[v.Model] = v
	}
	if snap.Events != nil {
		s.events = snap.Events
	}
	if snap.Audit != nil {
		s.audit = snap.Audit
	}
	s.outbox, s.quarantine = snap.Outbox, snap.Quarantine
	for _, n := range s.outbox {
		s.queued[n.ID] = n
	}
	for _, d := range snap.Deliveries {
		s.deliveries[d.Group] = d
	}
	if snap.Digest != nil {
		s.digest = snap.Digest
	}
	for owner, entries := range s.digest {
		for _, e := range entries {
			s.digested[digestKey{owner, e.Notice.ID}] = true
		}
	}
	for _, w := range snap.Watches {
		s.watches[w.ID()] = w
	}
	for _, sc := range snap.Schedules {
		s.schedules[sc.Name] = sc
	}
	for _, v := range snap.Versions {
		if s.versions[v.Model] == nil {
			s.versions[v.Model] = map[string]*state.ModelVersion{}
		}
		s.versions[v.Model][v.Version] = &v
	}
	for _, t := range snap.Timelines {
		s.putTimeline(t)
	}
	s.reindex()
	return s, nil
}
