package pdsync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pdsync"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// logs sends the app's log lines to a buffer.
func (e *env) logs() *bytes.Buffer {
	var buf bytes.Buffer
	e.app.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	return &buf
}

// escalate is a person's "Escalate now" in Slack, now.
func (e *env) escalate() {
	e.t.Helper()
	m := &lifecycle.Manager{Config: e.cfg, Store: e.st, Now: e.clock}
	res, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Escalate, Group: e.group.ID,
		By: lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}})
	if err != nil || !res.Done {
		e.t.Fatalf("escalate: %+v %v", res, err)
	}
}

// occurredAt sets the webhook's event time.
func occurredAt(at time.Time) func(ev map[string]any) {
	return func(ev map[string]any) { ev["occurred_at"] = at.Format(time.RFC3339Nano) }
}

func acknowledgements(recs []audit.Record) int {
	return len(slices.DeleteFunc(actions(recs), func(a string) bool { return a != audit.Acknowledged }))
}

// TestReplayedAcknowledgementAfterEscalation is the finding: a signed
// incident.acknowledged, sent again three days later, re-acknowledged the
// alert that had escalated since. Its event id was applied: it changes
// nothing, and the log says why.
func TestReplayedAcknowledgementAfterEscalation(t *testing.T) {
	e := newEnv(t)
	body := webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)
	if code := e.send(body); code != http.StatusNoContent || !e.getGroup().Acked() {
		t.Fatalf("the acknowledgement: status %d, acked %v", code, e.getGroup().Acked())
	}
	e.advance(time.Hour)
	e.escalate()
	before := e.snapshot()
	logs := e.logs()
	e.advance(3 * 24 * time.Hour)
	if code := e.send(body); code != http.StatusNoContent {
		t.Errorf("the replay: status %d, want 204 (PagerDuty must not retry it)", code)
	}
	e.unchanged(before)
	if !strings.Contains(logs.String(), "applied before") {
		t.Errorf("the replay is not logged as a duplicate:\n%s", logs)
	}
}

// TestAcknowledgementFromBeforeTheEscalation: an acknowledgement made in
// PagerDuty before stakeout escalated, and delivered after (PagerDuty
// retried it, or someone replays it), is about a cycle that is over: the
// new owner's alert stays unacknowledged, and the log says why. One made
// after the escalation still acknowledges.
func TestAcknowledgementFromBeforeTheEscalation(t *testing.T) {
	e := newEnv(t)
	madeAt := e.clock().Add(50 * time.Minute)
	e.advance(time.Hour)
	e.escalate()
	before := e.snapshot()
	logs := e.logs()
	e.advance(5 * time.Minute)
	if code := e.send(webhook(t, "incident_acknowledged.json", e.dedupKey(), occurredAt(madeAt))); code != http.StatusNoContent {
		t.Errorf("status %d, want 204", code)
	}
	e.unchanged(before)
	if !strings.Contains(logs.String(), "before the alert's current cycle began") {
		t.Errorf("the stale acknowledgement is not logged with its reason:\n%s", logs)
	}
	later := webhook(t, "incident_acknowledged.json", e.dedupKey(), func(ev map[string]any) {
		ev["id"] = "4a2d8b63-8e1f-4d4c-8b72-1a3c9f5e0d21"
		occurredAt(e.clock())(ev)
	})
	if code := e.send(later); code != http.StatusNoContent || e.getGroup().AckedBy != "pagerduty:PSTKU01" {
		t.Errorf("an acknowledgement after the escalation: status %d, acked by %q", code, e.getGroup().AckedBy)
	}
}

// TestEventOlderThanRetries: an event older than PagerDuty ever delivers
// one (pdsync.Retention) is a replay, whatever the group's state: ignored,
// with the reason logged.
func TestEventOlderThanRetries(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	logs := e.logs()
	if code := e.send(webhook(t, "incident_acknowledged.json", e.dedupKey(), occurredAt(t0.Add(-pdsync.Retention)))); code != http.StatusNoContent {
		t.Errorf("status %d, want 204", code)
	}
	e.unchanged(before)
	if !strings.Contains(logs.String(), "a replay, not a delivery") {
		t.Errorf("the old event is not logged with its reason:\n%s", logs)
	}
}

// failing is the embedded store with a commit that fails once: before
// writing (the store unreachable), or after writing (the answer lost, the
// Lambda timed out): what a retry after a crash mid-action meets.
type failing struct {
	*memstore.Store
	afterWrite bool
	failed     bool
}

var errLost = errors.New("connection reset")

func (f *failing) Commit(ctx context.Context, c *state.Commit) error {
	if f.failed {
		return f.Store.Commit(ctx, c)
	}
	f.failed = true
	if f.afterWrite {
		if err := f.Store.Commit(ctx, c); err != nil {
			return err
		}
	}
	return errLost
}

// TestRetryAfterACrash: at least once in, exactly once out. PagerDuty
// retries a webhook answered 503; the retry acts if the first attempt
// wrote nothing, and does nothing if it wrote the change but its answer
// was lost — even when the group escalated in between.
func TestRetryAfterACrash(t *testing.T) {
	for _, afterWrite := range []bool{false, true} {
		name := map[bool]string{false: "nothing written: the retry acts", true: "written, answer lost: the retry does nothing"}[afterWrite]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.app.Store = &failing{Store: e.st, afterWrite: afterWrite}
			before := e.snapshot()
			body := webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)
			if code := e.send(body); code != http.StatusServiceUnavailable {
				t.Fatalf("the failed attempt: status %d, want 503 (PagerDuty retries)", code)
			}
			if afterWrite {
				e.advance(time.Hour)
				e.escalate()
			}
			e.advance(2 * time.Minute)
			if code := e.send(body); code != http.StatusNoContent {
				t.Fatalf("the retry: status %d, want 204", code)
			}
			g := e.getGroup()
			if n := acknowledgements(e.newRecords(before)); n != 1 {
				t.Errorf("%d acknowledgements recorded, want exactly 1", n)
			}
			if afterWrite == g.Acked() {
				t.Errorf("after the retry: acked %v by %q, owner %s", g.Acked(), g.AckedBy, g.Owner)
			}
		})
	}
}

// FuzzReplay: whatever a signed webhook says — its id, type, time, incident
// key and agent, sent before or after an escalation — it is answered 204
// or 400 (never a status PagerDuty would retry, the store being up), and
// the same webhook sent again an hour later changes nothing. An
// acknowledgement or resolution made before the escalation changes nothing
// the first time either.
func FuzzReplay(f *testing.F) {
	f.Add("3f1c7a52-7d0e-4c3b-9a61-0f2b8e4d9c10", "incident.acknowledged", int64(-30), true, "", "PSTKU01", false)
	f.Add("3f1c7a52-7d0e-4c3b-9a61-0f2b8e4d9c10", "incident.acknowledged", int64(-30), true, "", "PSTKU01", true)
	f.Add("e2", "incident.resolved", int64(1200), true, "", "", true)
	f.Add("e3", "incident.resolved", int64(-int64(pdsync.Retention/time.Second)+60), true, "", "P1", false)
	f.Add("e4", "incident.acknowledged", int64(0), false, "stakeout/credit-approval/accuracy-loss@20260309T060000Z.2", "P1", false)
	f.Add("", "incident.acknowledged", int64(-30), true, "", "", false)
	f.Fuzz(func(t *testing.T, id, eventType string, offset int64, ours bool, key, agent string, escalateFirst bool) {
		e := newEnv(t)
		if escalateFirst {
			e.advance(10 * time.Minute)
			e.escalate()
		}
		cycle := e.getGroup().CycleStart
		if !ours {
			key = "stakeout/" + key
		} else {
			key = e.dedupKey()
		}
		occurred := t0.Add(time.Duration(max(min(offset, 1e9), -1e9)) * time.Second)
		body := webhook(t, "incident_acknowledged.json", key, func(ev map[string]any) {
			ev["id"], ev["event_type"] = id, eventType
			occurredAt(occurred)(ev)
			if agent != "" {
				ev["agent"].(map[string]any)["id"] = agent
			} else {
				ev["agent"] = nil
			}
		})
		before := e.snapshot()
		code := e.send(body)
		if code != http.StatusNoContent && code != http.StatusBadRequest {
			t.Fatalf("status %d, want 204 or 400", code)
		}
		if occurred.Before(cycle) {
			e.unchanged(before)
		}
		after := e.snapshot()
		e.advance(time.Hour)
		if again := e.send(body); again != code {
			t.Errorf("sent again: status %d, the first time %d", again, code)
		}
		e.unchanged(after)
	})
}
