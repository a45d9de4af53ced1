package state

import (
	"testing"

	"github.com/stakeout-ml/stakeout/internal/audit"
)

func TestCommitRecord(t *testing.T) {
	t.Run("records chain onto the alert's head", func(t *testing.T) {
		a := &Alert{ID: "m/r"}
		c := &Commit{}
		c.Record(a, audit.Record{Alert: a.ID, Action: audit.Opened})
		c.Record(a, audit.Record{Alert: a.ID, Action: audit.Queued})
		if len(c.Audit) != 2 {
			t.Fatalf("Record twice left %d records in the commit, want 2", len(c.Audit))
		}
		if err := audit.Verify(c.Audit); err != nil {
			t.Errorf("audit.Verify(records) = %v, want nil", err)
		}
		if last := c.Audit[1]; a.AuditSeq != last.Seq || a.AuditHash != last.Hash {
			t.Errorf("alert head = %d %s, want the last record's %d %s", a.AuditSeq, a.AuditHash, last.Seq, last.Hash)
		}
	})

	t.Run("records continue the chain the alert was read with", func(t *testing.T) {
		a := &Alert{ID: "m/r", AuditSeq: 5, AuditHash: "h5"}
		c := &Commit{}
		c.Record(a, audit.Record{Alert: a.ID, Action: audit.Resolved})
		if r := c.Audit[0]; r.Seq != 6 || r.PrevHash != "h5" {
			t.Errorf("record = #%d after %q, want #6 after %q", r.Seq, r.PrevHash, "h5")
		}
	})

	t.Run("an alert recorded on twice is written once", func(t *testing.T) {
		a, b := &Alert{ID: "m/a"}, &Alert{ID: "m/b"}
		c := &Commit{}
		c.Record(a, audit.Record{Alert: a.ID, Action: audit.Opened})
		c.Record(b, audit.Record{Alert: b.ID, Action: audit.Opened})
		c.Record(a, audit.Record{Alert: a.ID, Action: audit.Queued})
		if len(c.Alerts) != 2 || c.Alerts[0] != a || c.Alerts[1] != b {
			t.Errorf("Commit.Alerts = %v, want [m/a m/b] once each", ids(c.Alerts))
		}
	})

	t.Run("the copy recorded on last is the one written", func(t *testing.T) {
		old, fresh := &Alert{ID: "m/a"}, &Alert{ID: "m/a", AuditSeq: 1, AuditHash: "h1"}
		c := &Commit{}
		c.Record(old, audit.Record{Alert: old.ID, Action: audit.Opened})
		c.Record(fresh, audit.Record{Alert: fresh.ID, Action: audit.Updated})
		if len(c.Alerts) != 1 || c.Alerts[0] != fresh {
			t.Errorf("Commit.Alerts = %v, want only the copy recorded on last", c.Alerts)
		}
	})
}

func ids(alerts []*Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.ID)
	}
	return out
}
