package burst

import (
	"context"
	"testing"
	"time"
)

// DynamoDB calls one event costs on the router's path: processing it and
// delivering what it queued (reads: GetItem and Query; writes:
// TransactWriteItems, PutItem, UpdateItem). The cases are one container's
// next three events, in order: it has just swept the outbox, and its first
// event also records the model's signal as seen (cached for five minutes
// after): here two conditional UpdateItems that find no watch, which the
// escalator would have created.
//
// Targets (issue 13): a firing event joining an open group ≤ 2 reads and
// ≤ 2 writes; a quiet event with no history 0 writes. Each commit that
// writes audit records MACs them with one KMS GenerateMac per alert
// (issue 14): an event costs as many calls as its writes that record.
func TestCallsPerEvent(t *testing.T) {
	w := newWorld(t, "testdata")
	r := w.newRouter(t)
	r.lastSweep = time.Now()
	ctx := context.Background()
	at := time.Now()
	event := func(t *testing.T, id, feature string, value float64, queued int) invocation {
		t.Helper()
		macs := w.kms.Calls("GenerateMac")
		defer func() { t.Logf("KMS GenerateMac calls: %d", w.kms.Calls("GenerateMac")-macs) }()
		inv := r.invoke(ctx, driftEvent(id, "burst", feature, value, at))
		if inv.err != nil || inv.deliverErr != nil {
			t.Fatalf("invoke(%s) = %v, delivery %v", id, inv.err, inv.deliverErr)
		}
		if len(inv.out.Queued) != queued {
			t.Fatalf("invoke(%s) queued %d notifications, want %d", id, len(inv.out.Queued), queued)
		}
		total := newCalls()
		total.add(inv.process)
		total.add(inv.delivery)
		t.Logf("%d reads, %d writes; processing: %s; delivery: %s", total.reads(), total.writes(), inv.process, inv.delivery)
		return inv
	}
	reads := func(inv invocation) int { return inv.process.reads() + inv.delivery.reads() }
	writes := func(inv invocation) int { return inv.process.writes() + inv.delivery.writes() }

	t.Run("a firing event opens a group", func(t *testing.T) {
		event(t, "open-1", "f0001", 0.4, 1)
		if got := w.slackCalls(); got != 1 {
			t.Errorf("Slack calls after the opening = %d, want 1 (the post)", got)
		}
		if got := w.pd.Calls(); got != 1 {
			t.Errorf("PagerDuty calls after the opening = %d, want 1 (the trigger)", got)
		}
	})
	t.Run("a firing event joins the open group", func(t *testing.T) {
		// Nothing to send now: the join is told with the others of its
		// update window, by a later drain.
		macs := w.kms.Calls("GenerateMac")
		inv := event(t, "join-1", "f0002", 0.4, 0)
		if got := w.kms.Calls("GenerateMac") - macs; got != 1 {
			t.Errorf("a join costs %d KMS GenerateMac calls, want 1 (its one commit, one alert)", got)
		}
		if len(inv.out.Coalesced) != 1 {
			t.Errorf("the join coalesced into %d updates, want 1", len(inv.out.Coalesced))
		}
		if r, w := reads(inv), writes(inv); r > 2 || w > 2 {
			t.Errorf("a join costs %d reads and %d writes (%s, %s), want ≤ 2 and ≤ 2", r, w, inv.process, inv.delivery)
		}
	})
	t.Run("a quiet event with no history", func(t *testing.T) {
		inv := event(t, "quiet-1", "f0003", 0.1, 0)
		if got := writes(inv); got != 0 {
			t.Errorf("writes = %d (%s, %s), want 0", got, inv.process, inv.delivery)
		}
	})
	if got := w.stray.String(); got != "none" {
		t.Errorf("DynamoDB calls outside an invocation: %s, want none", got)
	}
}
