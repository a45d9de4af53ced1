package state

import "github.com/stakeout-ml/stakeout/internal/audit"

// Record is the one way to write an alert's audit: it seals r onto a's
// hash chain (r takes the next sequence number and links to a's head, and
// a's head moves to r), adds r to the commit, and makes a one of the
// alerts the commit writes, once however many records it gets. The records
// and the alert's new head must go in the same write: a head stored
// without its records, or records without their head, breaks the chain at
// the next record.
//
// a is found among the commit's alerts by id: the copy recorded on last is
// the one written, since it carries the chain's head.
func (c *Commit) Record(a *Alert, r audit.Record) {
	a.AuditSeq, a.AuditHash = r.Seal(a.AuditSeq, a.AuditHash)
	c.Audit = append(c.Audit, r)
	for i, have := range c.Alerts {
		if have.ID == a.ID {
			c.Alerts[i] = a
			return
		}
	}
	c.Alerts = append(c.Alerts, a)
}
