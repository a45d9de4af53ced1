package slackapp_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// signed is one request as Slack signed it: a copy of it verifies for as
// long as its timestamp is within signature.MaxSkew of the clock.
type signed struct {
	body       string
	at         time.Time
	responseID string
}

// signedClick is a user's click, signed now, not sent yet.
func (e *env) signedClick(p press) signed {
	body, id := e.payload(p)
	return signed{body: body, at: e.clock(), responseID: id}
}

// send posts the request, byte for byte as signed, and returns the status
// and every ephemeral reply to its response_url so far.
func (e *env) send(s signed) (int, []notifytest.Response) {
	e.t.Helper()
	r := newRequest(s.body)
	sign(r, signingSecret, s.at, s.body)
	return e.serve(r).Code, e.slack.Responses(s.responseID)
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func count(recs []string, action string) int {
	return len(slices.DeleteFunc(recs, func(a string) bool { return a != action }))
}

// alreadyDone expects the answer to a replay: 200 (nothing Slack would
// retry), and an ephemeral "Already done" as the latest reply.
func alreadyDone(t *testing.T, code int, resp []notifytest.Response, replies int) {
	t.Helper()
	if code != http.StatusOK {
		t.Errorf("a replay got status %d, want 200", code)
	}
	if len(resp) != replies {
		t.Fatalf("ephemeral replies %+v, want %d", resp, replies)
	}
	if last := resp[len(resp)-1]; last.ResponseType != "ephemeral" || !strings.Contains(last.Text, "Already done") {
		t.Errorf("a replay was answered %+v, want an ephemeral \"Already done\"", last)
	}
}

// TestReplayedEscalateActsOnce: "Escalate now" sent three times within the
// signature's five minutes — by Slack or by whoever copied the request —
// escalates once; the copies are told it was done.
func TestReplayedEscalateActsOnce(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	click := e.signedClick(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionEscalate})
	if code, resp := e.send(click); code != http.StatusOK || len(resp) != 0 {
		t.Fatalf("the click: status %d, replies %+v", code, resp)
	}
	for i := range 2 {
		e.advance(time.Minute)
		code, resp := e.send(click)
		alreadyDone(t, code, resp, i+1)
	}
	g := e.getGroup()
	if g.Step != 1 || g.Owner != "ml-platform" {
		t.Errorf("after one click sent three times: step %d, with %s; want step 1, with ml-platform", g.Step, g.Owner)
	}
	if n := count(actions(e.newRecords(before)), audit.Escalated); n != 1 {
		t.Errorf("%d escalated records, want 1", n)
	}
	if d := e.deliveries(); len(d) != 1 {
		t.Errorf("delivered %v, want one notification", d)
	}
}

// TestReplayedAcknowledgeAfterEscalation: a copy of an acknowledgement sent
// again after the group escalated does not acknowledge it for its new
// owner.
func TestReplayedAcknowledgeAfterEscalation(t *testing.T) {
	e := newEnv(t)
	ack := e.signedClick(press{user: credit2, action: slacknotify.ActionAcknowledge})
	if code, resp := e.send(ack); code != http.StatusOK || len(resp) != 0 {
		t.Fatalf("the acknowledgement: status %d, replies %+v", code, resp)
	}
	e.advance(time.Minute)
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionEscalate})
	before := e.snapshot()
	if before.group.Acked() || before.group.Owner != "ml-platform" {
		t.Fatalf("the escalation left %+v", before.group.Lifecycle)
	}
	e.advance(2 * time.Minute)
	code, resp := e.send(ack)
	alreadyDone(t, code, resp, 1)
	e.unchanged(before)
}

// TestReplayedCommand: /stakeout retrain sent twice asks the pipeline once.
func TestReplayedCommand(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	body := url.Values{"token": {"legacy"}, "team_id": {"T0NOTIFYTEST"}, "channel_id": {"C0CREDITDS"}, "user_id": {credit1},
		"user_name": {"ana"}, "command": {"/stakeout"}, "text": {"retrain credit-approval labels shifted"},
		"response_url": {e.slack.ResponseURL("command")}, "trigger_id": {e.trigger()}}.Encode()
	at := e.clock()
	var replies []string
	for range 2 {
		r := newRequest(body)
		sign(r, signingSecret, at, body)
		w := e.serve(r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		replies = append(replies, w.Body.String())
		e.advance(time.Minute)
	}
	if !strings.Contains(replies[0], "Retrain requested") || !strings.Contains(replies[1], "Already done") || !strings.Contains(replies[1], "ephemeral") {
		t.Errorf("replies %q, want the request then an ephemeral \"Already done\"", replies)
	}
	if n := count(actions(e.newRecords(before)), audit.RetrainRequested); n != 1 {
		t.Errorf("%d retrain requests recorded, want 1", n)
	}
	if d := e.deliveries(); len(d) != 1 {
		t.Errorf("delivered %v, want one request", d)
	}
}

// TestReplayWithoutTriggerID: a click without a trigger_id is known by its
// action_ts and user: sent twice it acts once, and another click acts.
func TestReplayWithoutTriggerID(t *testing.T) {
	e := newEnv(t)
	click := e.signedClick(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionEscalate, anonymous: true})
	e.send(click)
	code, resp := e.send(click)
	alreadyDone(t, code, resp, 1)
	if g := e.getGroup(); g.Step != 1 {
		t.Fatalf("one click sent twice: step %d, want 1", g.Step)
	}
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionEscalate, anonymous: true})
	if g := e.getGroup(); g.Step != 2 {
		t.Errorf("a second click: step %d, want 2", g.Step)
	}
}
