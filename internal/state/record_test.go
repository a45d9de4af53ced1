package state

import (
	"context"
	"strings"
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

func TestCommitSign(t *testing.T) {
	k, err := audit.NewLocalKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	a, b := &Alert{ID: "m/a", AuditSeq: 2, AuditHash: "h2"}, &Alert{ID: "m/b"}
	c := &Commit{}
	c.Record(a, audit.Record{Alert: a.ID, Action: audit.Updated})
	c.Record(b, audit.Record{Alert: b.ID, Action: audit.Opened})
	c.Record(a, audit.Record{Alert: a.ID, Action: audit.Queued})
	if err := c.Sign(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	// The alerts' heads are their resealed last records, so the next
	// commit chains onto what was written.
	if r := c.Audit[2]; a.AuditSeq != 4 || a.AuditHash != r.Hash || r.MAC == "" || r.Chain != audit.ChainKeyed {
		t.Errorf("alert m/a head = %d %s, last record %+v; want head on the keyed, MACed record 4", a.AuditSeq, a.AuditHash, r)
	}
	if r := c.Audit[0]; r.PrevHash != "h2" || r.MAC != "" {
		t.Errorf("record 3 of m/a = %+v, want it after the stored head h2, without a MAC of its own", r)
	}
	rep, err := audit.Check(context.Background(), []audit.Record{c.Audit[1]}, audit.Keys{k.KeyID(): k})
	if err != nil || rep.Vouched != 1 || b.AuditHash != c.Audit[1].Hash {
		t.Errorf("m/b: Check = %+v, %v; head %s", rep, err, b.AuditHash)
	}
	// Unkeyed, nothing changes.
	u := &Commit{}
	u.Record(&Alert{ID: "m/c"}, audit.Record{Alert: "m/c"})
	before := u.Audit[0]
	if err := u.Sign(context.Background(), nil); err != nil || u.Audit[0].Hash != before.Hash || u.Audit[0].Chain != 0 {
		t.Errorf("Sign(nil) changed the record: %+v, %v", u.Audit[0], err)
	}
}
