package state

import (
	"context"

	"github.com/stakeout-ml/stakeout/internal/audit"
)

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

// Sign keys the commit's audit records with k just before they are written
// (audit.Sign: one MAC per alert the commit records on, concurrently) and
// moves each alert's head to its resealed last record. A nil k leaves the
// chain unkeyed. Stores call it through a wrapper of their Commit (see
// internal/setup and `stakeout replay`); on an error nothing is written
// and the commit fails as a transient fault, to be retried whole.
func (c *Commit) Sign(ctx context.Context, k audit.Signer) error {
	heads, err := audit.Sign(ctx, k, c.Audit)
	if err != nil {
		return err
	}
	for _, a := range c.Alerts {
		if h, ok := heads[a.ID]; ok {
			a.AuditHash = h
		}
	}
	return nil
}
