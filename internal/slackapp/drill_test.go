package slackapp_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/drill"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// drillStarted runs a signed /stakeout drill and returns the drill's group.
func (e *env) drillStarted(user, text string) string {
	e.t.Helper()
	before := len(e.deliveries())
	_, _, rep := e.command(user, text)
	if !strings.Contains(rep.Text, "Drill of credit-ds started") || !strings.Contains(rep.Text, "<#C0CREDITDS> and PagerDuty") ||
		!strings.Contains(rep.Text, "within 15m") {
		e.t.Fatalf("/stakeout %s by %s: %q, want the drill of credit-ds started", text, user, rep.Text)
	}
	ids := e.deliveries()[before:]
	if len(ids) != 1 {
		e.t.Fatalf("delivered %v, want the drill's notification", ids)
	}
	n, err := e.st.GetNotice(context.Background(), ids[0])
	if err != nil || n == nil || !state.IsDrill(n.Model) || n.Owner != "credit-ds" || !slices.Equal(n.Channels, []string{"slack", "pagerduty"}) {
		e.t.Fatalf("the notification delivered: %+v %v, want credit-ds's drill via slack and pagerduty", n, err)
	}
	return n.Group
}

func (e *env) drillOutcomes() []drill.Outcome {
	e.t.Helper()
	recs, err := e.st.AlertRecords(context.Background(), drill.AlertID("credit-ds"))
	if err != nil {
		e.t.Fatal(err)
	}
	return drill.Outcomes(recs)
}

// TestDrillCommandThenAnAcknowledgementIsAuditedAsPassed: a signed
// /stakeout drill starts the owner's drill (the caller's only owner); a
// member's Acknowledge on its message passes it, on the audit trail with
// who and how fast.
func TestDrillCommandThenAnAcknowledgementIsAuditedAsPassed(t *testing.T) {
	e := newEnv(t)
	group := e.drillStarted(credit1, "drill")
	e.now = e.now.Add(3*time.Minute + 20*time.Second)
	e.clickOK(press{user: credit2, name: "ben", action: slacknotify.ActionAcknowledge, group: group})
	outs := e.drillOutcomes()
	if len(outs) != 1 || outs[0].Result != drill.Passed || outs[0].By != "slack:"+credit2 || outs[0].After != "3m20s" || outs[0].StartedBy != "slack:"+credit1 {
		t.Fatalf("outcomes %+v, want passed, started by %s, acknowledged by %s after 3m20s", outs, credit1, credit2)
	}
	recs, _ := e.st.AlertRecords(context.Background(), drill.AlertID("credit-ds"))
	if got := actions(recs); !slices.Contains(got, audit.DrillAcknowledged) || slices.Contains(got, audit.Escalated) {
		t.Errorf("trail %v", got)
	}
	// The real alert of credit-ds was not touched.
	if g := e.getGroup(); g.Acked() || g.Version != e.group.Version {
		t.Errorf("the drill moved credit-approval's group: %+v", g.Lifecycle)
	}
}

// TestDrillCommandIsAuthorisedLikeTheActions: an owner's members and its
// escalation chain's may drill it; nobody else, and nothing is sent then.
func TestDrillCommandIsAuthorisedLikeTheActions(t *testing.T) {
	for _, c := range []struct {
		name, user, text, want string
	}{
		{"a user in no owner file, naming the owner", outsider, "drill credit-ds", "🚫 Not allowed: only members of credit-ds, ml-platform, head-of-ml may drill credit-ds"},
		{"another owner's member", dataEng, "drill credit-ds", "🚫 Not allowed"},
		{"a user in no owner file, naming none", outsider, "drill", "You are not a member of any owner"},
		{"an unknown owner", credit1, "drill credit-dss", `no owner &quot;credit-dss&quot;`},
		{"two owners named", credit1, "drill credit-ds ml-platform", "Usage: `/stakeout drill [owner]`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := len(e.deliveries())
			_, _, rep := e.command(c.user, c.text)
			if !strings.Contains(strings.ReplaceAll(rep.Text, `"`, "&quot;"), c.want) {
				t.Errorf("reply %q, want %q", rep.Text, c.want)
			}
			if len(e.deliveries()) != before || len(e.drillOutcomes()) != 0 {
				t.Errorf("a refused drill sent %v or recorded %+v", e.deliveries()[before:], e.drillOutcomes())
			}
		})
	}
	// The end of the chain may drill it: it is who answers when credit-ds does not.
	e := newEnv(t)
	group := e.drillStarted(headOfML, "drill credit-ds")
	// While it waits, another drill of it is refused, and the drill's
	// message offers nothing but an acknowledgement.
	if _, _, rep := e.command(credit1, "drill credit-ds"); !strings.Contains(rep.Text, "under way already") {
		t.Errorf("a second drill: %q", rep.Text)
	}
	_, resp := e.click(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionEscalate, group: group})
	if len(resp) != 1 || resp[0].Text != lifecycle.NotForDrills {
		t.Errorf("Escalate now on a drill answered %+v, want %q", resp, lifecycle.NotForDrills)
	}
	_, resp = e.click(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionRetrain, group: group})
	if len(resp) != 1 || resp[0].Text != lifecycle.NotForDrills {
		t.Errorf("Request retrain on a drill answered %+v, want %q", resp, lifecycle.NotForDrills)
	}
	_, resp = e.click(press{user: dataEng, action: slacknotify.ActionAcknowledge, group: group})
	if len(resp) != 1 || !strings.Contains(resp[0].Text, "Not allowed") {
		t.Errorf("another owner's member acknowledging the drill: %+v", resp)
	}
	if outs := e.drillOutcomes(); len(outs) != 1 || outs[0].Result != drill.Waiting {
		t.Errorf("outcomes %+v, want one drill waiting", outs)
	}
}
