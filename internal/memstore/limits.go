package memstore

import (
	"maps"

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
	if c.Quiets != nil {
		note(layout.QuietsItem(c.Quiets))
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
//
// A record the commit only joins is not encoded again when the size the
// store keeps for it (s.sizes), grown by what the joins can add, is
// within MaxItem: joining a group of a hundred names ten thousand times
// would otherwise encode it ten thousand times, under the lock. Its keys
// do not change (a join leaves a group open and an update unsent).
func (s *Store) limits(c *state.Commit) error {
	var first error
	sizes := s.grown(c)
	note := func(key string) func(layout.Item, error) {
		return func(it layout.Item, err error) {
			if err == nil {
				err = it.Check()
			}
			if err == nil && key != "" {
				sizes[key] = it.Size()
			}
			if first == nil {
				first = err
			}
		}
	}
	groups, notices := s.joined(c)
	for k, g := range groups {
		if _, ok := sizes[groupSize(k)]; !ok {
			note(groupSize(k))(layout.GroupItem(g))
		}
	}
	for id, n := range notices {
		if _, ok := sizes[noticeSize(id)]; !ok {
			note(noticeSize(id))(layout.NoticeItem(n))
		}
	}
	for _, n := range c.Notices {
		note("")(layout.NoticeItem(sent(s.queued[n.ID], n)))
	}
	if first != nil {
		return first
	}
	// Applied next: the sizes are those of the records as stored. A
	// notification a sender writes is measured again at its next join.
	maps.Copy(s.sizes, sizes)
	for _, n := range c.Notices {
		delete(s.sizes, noticeSize(n.ID))
	}
	return nil
}

// joinGrowth bounds what one join adds to the size of a group or an
// update, for each name it adds (the alert's, its subject): the name in
// the item's JSON (quoted, each byte escaped to at most six) and in its
// list attribute; and the counters it moves, their digits, and a total
// first written (joinSlack).
func joinGrowth(names ...string) int {
	n := joinSlack
	for _, name := range names {
		n += 7*len(name) + 4
	}
	return n
}

const joinSlack = 64

// grown are the sizes, once joined, of the records the commit changes by
// joins alone — a group it does not write, an update already queued that
// no sender writes in it — whose size the store keeps, when that is
// within MaxItem: an upper bound, kept as the record's size once applied
// (s.mu held).
func (s *Store) grown(c *state.Commit) map[string]int {
	grow := map[string]int{}
	for _, j := range c.Joins {
		if j.Named {
			grow[groupSize(groupKey(j.Model, j.Rule))] += joinGrowth(j.Alert)
		} else {
			grow[groupSize(groupKey(j.Model, j.Rule))] += joinGrowth()
		}
		if s.queued[j.Update.ID] != nil {
			grow[noticeSize(j.Update.ID)] += joinGrowth(j.Update.Joined...)
		}
	}
	for _, g := range c.Groups {
		delete(grow, groupSize(groupKey(g.Model, g.Rule)))
	}
	for _, n := range c.Notices {
		delete(grow, noticeSize(n.ID))
	}
	for k, n := range grow {
		if base, ok := s.sizes[k]; ok && base+n <= layout.MaxItem {
			grow[k] = base + n
		} else {
			delete(grow, k)
		}
	}
	return grow
}

// groupSize and noticeSize name a group's and a notification's entries
// in s.sizes.
func groupSize(key string) string { return "group " + key }
func noticeSize(id string) string { return "notice " + id }

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
