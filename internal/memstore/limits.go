package memstore

import (
	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// DynamoDB's limits hold here too: every record a commit writes is
// checked as the DynamoDB store would store it once the commit applied
// (package layout: its keys, index keys and size), and refused with
// DynamoDB's words as a state.ErrRejected. So a replay, or a test, fails
// where production would, not only in production.

// own refuses a commit that writes, of the records whose stored form is
// the commit's alone, one over a DynamoDB limit. It runs before the
// store's lock is taken: encoding them is most of the check's work, and
// concurrent commits need not wait for each other's.
func own(c *state.Commit) error {
	var first error
	note := func(it layout.Item, err error) {
		if first == nil {
			first = check(it, err)
		}
	}
	if c.EventID != "" {
		note(layout.EventItem(c.EventID, c.EventExpires), nil)
	}
	if c.Series != nil {
		note(layout.SeriesItem(c.Series))
	}
	for _, a := range c.Alerts {
		note(layout.AlertItem(a))
	}
	if c.Inhibitors != nil {
		note(layout.InhibitorsItem(c.Inhibitors))
	}
	for _, n := range c.Outbox {
		note(layout.NoticeItem(n))
	}
	for _, d := range c.Deliveries {
		note(layout.DeliveryItem(d))
	}
	for i := range c.Digest {
		note(layout.DigestItem(&c.Digest[i]))
	}
	for i := range c.Audit {
		note(layout.AuditItem(&c.Audit[i]))
	}
	for _, w := range c.Watches {
		note(layout.WatchItem(w))
	}
	for _, sc := range c.Schedules {
		note(layout.ScheduleItem(sc))
	}
	return first
}

// limits refuses a commit that writes, of the records whose stored form
// depends on what is stored (the groups it writes or joins, the updates
// it joins, the notifications it marks), one over a DynamoDB limit (s.mu
// held; nothing changed yet). own checked the others.
func (s *Store) limits(c *state.Commit) error {
	var first error
	note := func(it layout.Item, err error) {
		if first == nil {
			first = check(it, err)
		}
	}
	groups, notices := s.joined(c)
	for _, g := range groups {
		note(layout.GroupItem(g))
	}
	for _, n := range notices {
		note(layout.NoticeItem(n))
	}
	for _, n := range c.Notices {
		note(layout.NoticeItem(sent(s.queued[n.ID], n)))
	}
	return first
}

// joined are the groups the commit writes or joins, and the update
// notifications it joins, as they will be stored (s.mu held).
func (s *Store) joined(c *state.Commit) (map[string]*state.Group, map[string]*state.Notification) {
	groups := map[string]*state.Group{}
	for _, g := range c.Groups {
		groups[groupKey(g.Model, g.Rule)] = s.written(g)
	}
	notices := map[string]*state.Notification{}
	for _, j := range c.Joins {
		k := groupKey(j.Model, j.Rule)
		g := groups[k]
		if g == nil {
			g = s.groups[k].Clone()
			groups[k] = g
		}
		joinGroup(g, j)
		q := notices[j.Update.ID]
		if q == nil && s.queued[j.Update.ID] != nil {
			q = s.queued[j.Update.ID].Clone()
		}
		notices[j.Update.ID] = joinNotice(q, j)
	}
	return groups, notices
}

// check refuses, as DynamoDB would, a record written outside a commit.
func check(it layout.Item, err error) error {
	if err != nil {
		return err
	}
	return it.Check()
}
