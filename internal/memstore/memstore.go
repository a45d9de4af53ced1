// Package memstore is the embedded store: the router's state in memory,
// with the same conditional-write and idempotency semantics as the DynamoDB
// store (both pass storetest), optionally saved to a JSON file so that a
// local replay can be audited afterwards. It is what `stakeout replay` runs
// on: no AWS account needed.
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
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	now        func() time.Time
	series     map[signal.SeriesKey]*state.Series
	alerts     map[string]*state.Alert
	groups     map[string]*state.Group // current group by model/rule
	inhibitors map[string]*state.Inhibitors
	events     map[string]time.Time  // applied event ids → expiry
	outbox     []*state.Notification // in the order queued
	queued     map[string]*state.Notification
	deliveries map[string]*state.Delivery
	digest     map[string][]state.DigestEntry // by owner
	audit      map[string][]audit.Record
	quarantine []state.Quarantined
}

// New returns an empty store. now tells when idempotency records expire
// (replays pass the event clock).
func New(now func() time.Time) *Store {
	return &Store{
		now:        now,
		series:     map[signal.SeriesKey]*state.Series{},
		alerts:     map[string]*state.Alert{},
		groups:     map[string]*state.Group{},
		inhibitors: map[string]*state.Inhibitors{},
		events:     map[string]time.Time{},
		queued:     map[string]*state.Notification{},
		deliveries: map[string]*state.Delivery{},
		digest:     map[string][]state.DigestEntry{},
		audit:      map[string][]audit.Record{},
	}
}

func groupKey(model, rule string) string { return model + "/" + rule }

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
	if g := s.groups[groupKey(model, rule)]; g != nil {
		return g.Clone(), nil
	}
	return nil, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.EventID != "" {
		if exp, ok := s.events[c.EventID]; ok && s.now().Before(exp) {
			return state.ErrDuplicate
		}
	}
	// Check everything before changing anything.
	if c.Series != nil && c.Series.Version != s.series[c.Series.Key].StoredVersion() {
		return fmt.Errorf("series %s: %w", c.Series.Key, state.ErrConflict)
	}
	for _, a := range c.Alerts {
		if a.Version != s.alerts[a.ID].StoredVersion() {
			return fmt.Errorf("alert %s: %w", a.ID, state.ErrConflict)
		}
	}
	for _, g := range c.Groups {
		if g.Version != s.groups[groupKey(g.Model, g.Rule)].StoredVersion() {
			return fmt.Errorf("group %s: %w", g.ID, state.ErrConflict)
		}
	}
	for _, in := range []*state.Inhibitors{c.Inhibitors, c.InhibitorsRead} {
		if in != nil && in.Version != s.inhibitors[in.Model].StoredVersion() {
			return fmt.Errorf("inhibitors of %s: %w", in.Model, state.ErrConflict)
		}
	}
	if n := c.Items(); n > state.MaxCommitItems {
		return fmt.Errorf("commit of event %s has %d items, more than %d", c.EventID, n, state.MaxCommitItems)
	}
	for _, n := range c.Outbox {
		if s.queued[n.ID] != nil {
			return fmt.Errorf("notification %s: %w", n.ID, state.ErrConflict)
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
	for _, r := range c.Audit {
		// The chain must continue from the stored head.
		if recs := s.audit[r.Alert]; r.Seq != len(recs)+1+countBefore(c.Audit, r) {
			return fmt.Errorf("audit of %s: %w", r.Alert, state.ErrConflict)
		}
	}
	if c.EventID != "" {
		s.events[c.EventID] = c.EventExpires
	}
	if c.Series != nil {
		n := c.Series.Clone()
		n.Version++
		s.series[n.Key] = n
	}
	for _, a := range c.Alerts {
		n := a.Clone()
		n.Version++
		s.alerts[n.ID] = n
	}
	for _, g := range c.Groups {
		n := g.Clone()
		n.Version++
		s.groups[groupKey(n.Model, n.Rule)] = n
	}
	if c.Inhibitors != nil {
		n := c.Inhibitors.Clone()
		n.Version++
		s.inhibitors[n.Model] = n
	}
	for _, n := range c.Outbox {
		q := n.Clone()
		q.Version++
		s.outbox = append(s.outbox, q)
		s.queued[n.ID] = q
	}
	for _, n := range c.Notices {
		*s.queued[n.ID] = *n.Clone()
		s.queued[n.ID].Version++
	}
	for _, d := range c.Deliveries {
		n := d.Clone()
		n.Version++
		s.deliveries[n.Group] = n
	}
	for _, e := range c.Digest {
		entries := s.digest[e.Owner]
		if !slices.ContainsFunc(entries, func(o state.DigestEntry) bool { return o.Notice.ID == e.Notice.ID }) {
			s.digest[e.Owner] = append(entries, state.DigestEntry{Owner: e.Owner, Notice: *e.Notice.Clone()})
		}
	}
	for _, r := range c.Audit {
		s.audit[r.Alert] = append(s.audit[r.Alert], r)
	}
	return nil
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
// longest-waiting first.
func (s *Store) Pending(_ context.Context, due time.Time, limit int) ([]*state.Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*state.Notification
	for _, n := range s.outbox {
		if n.Sent.IsZero() && !n.Due().After(due) {
			out = append(out, n.Clone())
		}
	}
	slices.SortStableFunc(out, func(a, b *state.Notification) int {
		return cmp.Or(a.Due().Compare(b.Due()), cmp.Compare(a.ID, b.ID))
	})
	return out[:min(len(out), limit)], nil
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

// Digest returns an owner's digest entries created in [since, until),
// oldest first.
func (s *Store) Digest(_ context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.DigestEntry
	for _, e := range s.digest[owner] {
		if !e.Notice.Created.Before(since) && e.Notice.Created.Before(until) {
			out = append(out, state.DigestEntry{Owner: e.Owner, Notice: *e.Notice.Clone()})
		}
	}
	slices.SortStableFunc(out, func(a, b state.DigestEntry) int { return a.Notice.Created.Compare(b.Notice.Created) })
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

// snapshot is the file format of a saved store.
type snapshot struct {
	Series     []*state.Series                `json:"series"`
	Alerts     []*state.Alert                 `json:"alerts"`
	Groups     []*state.Group                 `json:"groups"`
	Inhibitors []*state.Inhibitors            `json:"inhibitors"`
	Events     map[string]time.Time           `json:"events"`
	Outbox     []*state.Notification          `json:"outbox"`
	Deliveries []*state.Delivery              `json:"deliveries,omitempty"`
	Digest     map[string][]state.DigestEntry `json:"digest,omitempty"`
	Audit      map[string][]audit.Record      `json:"audit"`
	Quarantine []state.Quarantined            `json:"quarantine"`
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
	for _, v := range s.alerts {
		snap.Alerts = append(snap.Alerts, v)
	}
	for _, v := range s.groups {
		snap.Groups = append(snap.Groups, v)
	}
	for _, v := range s.inhibitors {
		snap.Inhibitors = append(snap.Inhibitors, v)
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
	for _, v := range snap.Alerts {
		s.alerts[v.ID] = v
	}
	for _, v := range snap.Groups {
		s.groups[groupKey(v.Model, v.Rule)] = v
	}
	for _, v := range snap.Inhibitors {
		s.inhibitors[v.Model] = v
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
	return s, nil
}
