package slackapp_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// TestCommandReplies: /stakeout answers with an ephemeral JSON message.
func TestCommandReplies(t *testing.T) {
	cases := []struct {
		name, user, text string
		want             []string // substrings of the reply
		not              []string // must not appear
	}{
		{"who lists the owners per role", outsider, "who credit-approval", []string{
			"*credit-approval* (stakes critical)",
			"• data: *Data platform engineering* (`data-platform`) in <#C0DATAPLAT>, escalates to head-of-ml",
			"• model: *Credit data science* (`credit-ds`) in <#C0CREDITDS>, escalates to ml-platform → head-of-ml",
			"• platform: *ML platform* (`ml-platform`)",
			"• product: *Lending product* (`lending-product`) in <#C0LENDPROD>, escalates to credit-ds → head-of-ml",
		}, nil},
		{"who with a verb in capitals", outsider, "WHO credit-approval", []string{"*credit-approval* (stakes critical)"}, nil},
		{"who names an unknown model and lists the known ones", credit1, "who nope", []string{
			"stakeout knows no model `nope`", "credit-approval", "fraud-detection", "playlist-recommender",
		}, []string{"*nope*"}},
		{"who escapes what the user typed", credit1, "who <!channel>", []string{"`&lt;!channel&gt;`"}, []string{"<!channel>"}},
		{"who without a model", credit1, "who", []string{"Usage: `/stakeout who <model>`"}, nil},
		{"who with two models", credit1, "who credit-approval fraud-detection", []string{"Usage: `/stakeout who <model>`"}, nil},
		{"open for a member of the owner", credit1, "open", []string{
			"Open alerts for credit-ds:", "• *credit-approval* · accuracy-loss — 1 alert(s), with `credit-ds`, unacknowledged, escalates Mar 9 06:20 UTC, since Mar 9 06:00 UTC",
		}, nil},
		{"open for a user in no owner file", outsider, "open", []string{"You are not a member of any owner"}, []string{"accuracy-loss"}},
		{"open for a member of another owner", lending, "open", []string{"No open alerts for lending-product."}, []string{"accuracy-loss"}},
		{"an unknown verb", credit1, "frobnicate credit-approval", []string{"Unknown command `frobnicate`.", slackapp.Usage}, nil},
		{"an unknown verb is escaped", credit1, "<@U0NOBODY01>", []string{"Unknown command `&lt;@u0nobody01&gt;`."}, []string{"<@"}},
		{"no text", credit1, "", []string{slackapp.Usage}, nil},
		{"only spaces", credit1, "   ", []string{slackapp.Usage}, nil},
		{"retrain without a model", credit1, "retrain", []string{"Usage: `/stakeout retrain <model> …`"}, nil},
		{"rollback of an unknown model", credit1, "rollback nope", []string{"stakeout knows no model `nope`."}, nil},
		{"retrain of a model with no open alert", "U01PDS0001", "retrain playlist-recommender", []string{"playlist-recommender has no open alert"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			code, ctype, rep := e.command(c.user, c.text)
			if code != http.StatusOK || ctype != "application/json" {
				t.Fatalf("status %d, Content-Type %q; want 200 application/json", code, ctype)
			}
			if rep.ResponseType != "ephemeral" {
				t.Errorf("response_type %q, want ephemeral", rep.ResponseType)
			}
			for _, w := range c.want {
				if !strings.Contains(rep.Text, w) {
					t.Errorf("reply does not contain %q:\n%s", w, rep.Text)
				}
			}
			for _, w := range c.not {
				if strings.Contains(rep.Text, w) {
					t.Errorf("reply contains %q:\n%s", w, rep.Text)
				}
			}
			e.unchanged(before)
		})
	}
}

// TestCommandOpenStates: /stakeout open says what people did.
func TestCommandOpenStates(t *testing.T) {
	e := newEnv(t)
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionSnooze4h})
	_, _, rep := e.command(credit2, "open")
	if !strings.Contains(rep.Text, "snoozed until Mar 9 10:05 UTC") {
		t.Errorf("a snoozed group: %q", rep.Text)
	}
	e.clickOK(press{user: credit1, action: slacknotify.ActionAcknowledge})
	_, _, rep = e.command(credit2, "open")
	if !strings.Contains(rep.Text, "`credit-ds`, acknowledged") {
		t.Errorf("an acknowledged group: %q", rep.Text)
	}
	e.clickOK(press{user: credit1, action: slacknotify.ActionResolve})
	_, _, rep = e.command(credit2, "open")
	if !strings.Contains(rep.Text, "No open alerts for credit-ds") {
		t.Errorf("after resolving: %q", rep.Text)
	}
}

// TestCommandRequests: /stakeout retrain and rollback, attached to the
// model's open alert group, with the same authorisation as the buttons.
func TestCommandRequests(t *testing.T) {
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name, user, text string
		reply            string
		request          *state.Request // nil: refused, nothing changes
	}{
		{"rollback to a picked version with a reason", credit1, "rollback credit-approval 2025.12.1 labels drifted after the Jan retrain",
			"Rollback to 2025.12.1 requested",
			&state.Request{Type: state.RequestRollback, Version: "2026.02.1", Target: "2025.12.1", Requester: "slack:" + credit1, Name: "u012abcde", Reason: "labels drifted after the Jan retrain"}},
		{"rollback without a version picks the last healthy one", credit1, "rollback credit-approval",
			"Rollback to 2026.01.3 requested",
			&state.Request{Type: state.RequestRollback, Version: "2026.02.1", Target: "2026.01.3", Requester: "slack:" + credit1, Name: "u012abcde"}},
		{"retrain with a reason", credit2, "retrain credit-approval cohort W49 shifted",
			"Retrain requested",
			&state.Request{Type: state.RequestRetrain, Version: "2026.02.1", Requester: "slack:" + credit2, Name: "u034fghij", Reason: "cohort W49 shifted"}},
		{"retrain by a chain member who is not the model owner", platform1, "retrain credit-approval", "Not allowed", nil},
		{"rollback by a user in no owner file", outsider, "rollback credit-approval 2025.12.1", "Not allowed", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			for v, at := range map[string]time.Time{"2025.12.1": day(1, 2), "2026.01.3": day(1, 20), "2026.02.1": day(2, 10)} {
				if err := e.st.SawVersion(t.Context(), "credit-approval", v, at); err != nil {
					t.Fatal(err)
				}
			}
			before := e.snapshot()
			code, _, rep := e.command(c.user, c.text)
			if code != http.StatusOK || rep.ResponseType != "ephemeral" {
				t.Fatalf("status %d, response_type %q", code, rep.ResponseType)
			}
			if !strings.Contains(rep.Text, c.reply) {
				t.Errorf("reply %q does not say %q", rep.Text, c.reply)
			}
			if c.request == nil {
				e.unchanged(before)
				return
			}
			n := e.notice(before)
			if n.Kind != state.NoticeRequest || n.Request == nil {
				t.Fatalf("delivered %+v, want a request", n)
			}
			if *n.Request != *c.request {
				t.Errorf("request %+v, want %+v", *n.Request, *c.request)
			}
			want := audit.RetrainRequested
			if c.request.Type == state.RequestRollback {
				want = audit.RollbackRequested
			}
			if got := actions(e.newRecords(before)); !slices.Equal(got, []string{want, audit.Queued}) {
				t.Errorf("new audit records %v, want [%s queued]", got, want)
			}
		})
	}
}

// TestCommandRollbackUnknownVersion: a version the user picks that
// stakeout never saw must not be silently replaced by another one.
func TestCommandRollbackUnknownVersion(t *testing.T) {
	e := newEnv(t)
	for v, at := range map[string]time.Time{"2026.01.3": time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), "2026.02.1": time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)} {
		if err := e.st.SawVersion(t.Context(), "credit-approval", v, at); err != nil {
			t.Fatal(err)
		}
	}
	before := e.snapshot()
	_, _, rep := e.command(credit1, "rollback credit-approval 2025.11.4 the last one we trust")
	ids := e.deliveries()[len(before.delivered):]
	for _, id := range ids {
		n, err := e.st.GetNotice(t.Context(), id)
		if err != nil || n == nil || n.Request == nil {
			continue
		}
		if n.Request.Target != "2025.11.4" {
			t.Errorf("the user asked for a rollback to 2025.11.4 and stakeout requested one to %q (reason %q); reply %q",
				n.Request.Target, n.Request.Reason, rep.Text)
		}
	}
}
