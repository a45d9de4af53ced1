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

// limits refuses a commit that writes a record over one of DynamoDB's
// limits (s.mu held; nothing changed yet).
func (s *Store) limits(c *state.Commit) error {
	var first error
	check := func(it layout.Item, err error) {
		if err == nil {
			err = it.Check()
		}
		if first == nil {
			first = err
		}
	}
	if c.EventID != "" {
		check(layout.EventItem(c.EventID, c.EventExpires), nil)
	}
	if c.Series != nil {
		check(layout.SeriesItem(c.Series))
	}
	for _, a := range c.Alerts {
		check(layout.AlertItem(a))
	}
	groups, notices := s.joined(c)
	for _, g := range groups {
		check(layout.GroupItem(g))
	}
	for _, n := range notices {
		check(layout.NoticeItem(n))
	}
	if c.Inhibitors != nil {
		check(layout.InhibitorsItem(c.Inhibitors))
	}
	for _, n := range c.Outbox {
		check(layout.NoticeItem(n))
	}
	for _, n := range c.Notices {
		check(layout.NoticeItem(sent(s.queued[n.ID], n)))
	}
	for _, d := range c.Deliveries {
		check(layout.DeliveryItem(d))
	}
	for i := range c.Digest {
		check(layout.DigestItem(&c.Digest[i]))
	}
	for i := range c.Audit {
		check(layout.AuditItem(&c.Audit[i]))
	}
	for _, w := range c.Watches {
		check(layout.WatchItem(w))
	}
	for _, sc := range c.Schedules {
		check(layout.ScheduleItem(sc))
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
