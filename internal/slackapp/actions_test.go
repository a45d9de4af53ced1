package slackapp_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// TestAuthorisation: only members of the alert's owner or of an owner on its
// escalation chain may act; a retrain or a rollback needs a member of the
// model's `model` owner. Everyone else gets an ephemeral "not allowed" and
// nothing changes.
func TestAuthorisation(t *testing.T) {
	refusals := []struct {
		name, user, action, option, want string
	}{
		{"a user in no owner file acknowledges", outsider, slacknotify.ActionAcknowledge, "", "Not allowed"},
		{"a user in no owner file resolves", outsider, slacknotify.ActionResolve, "", "Not allowed"},
		{"a user in no owner file snoozes", outsider, slacknotify.ActionMore, slacknotify.OptionSnooze24h, "Not allowed"},
		{"a member of the model's data owner (not on the chain) acknowledges", dataEng, slacknotify.ActionAcknowledge, "", "Not allowed"},
		{"a member of the model's product owner (not on the chain) marks a false alarm", lending, slacknotify.ActionMore, slacknotify.OptionFalseAlarm, "Not allowed"},
		{"a chain member who is not the model owner asks for a retrain", platform1, slacknotify.ActionMore, slacknotify.OptionRetrain, "Not allowed"},
		{"a chain member who is not the model owner asks for a rollback", headOfML, slacknotify.ActionMore, slacknotify.OptionRollback, "Not allowed"},
		{"a user in no owner file asks for a retrain", outsider, slacknotify.ActionMore, slacknotify.OptionRetrain, "Not allowed"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			code, resp := e.click(press{user: c.user, action: c.action, option: c.option})
			refused(t, code, resp, c.want)
			e.unchanged(before)
			if c.option == slacknotify.OptionRetrain || c.option == slacknotify.OptionRollback {
				if !strings.Contains(resp[0].Text, "credit-ds") {
					t.Errorf("refusal %q does not name the model owner credit-ds", resp[0].Text)
				}
			}
		})
	}

	t.Run("a member of the alert's owner acknowledges", func(t *testing.T) {
		e := newEnv(t)
		before := e.snapshot()
		e.clickOK(press{user: credit2, name: "bea", action: slacknotify.ActionAcknowledge})
		g := e.getGroup()
		if g.AckedBy != "slack:"+credit2 || g.AckedName != "bea" || !g.AckedAt.Equal(t0) {
			t.Errorf("acknowledged as %q %q at %v, want slack:%s bea at %v", g.AckedBy, g.AckedName, g.AckedAt, credit2, t0)
		}
		if !g.EscalateAt.IsZero() || !g.SnoozedUntil.IsZero() {
			t.Errorf("an acknowledged group still escalates at %v / is snoozed until %v", g.EscalateAt, g.SnoozedUntil)
		}
		if g.Version != before.group.Version+1 || g.Owner != "credit-ds" || g.Over() {
			t.Errorf("group after ack: version %d (was %d), owner %s, over %v", g.Version, before.group.Version, g.Owner, g.Over())
		}
		recs := e.newRecords(before)
		if got := actions(recs); !slices.Equal(got, []string{audit.Acknowledged, audit.Queued}) {
			t.Fatalf("new audit records %v, want [acknowledged queued]", got)
		}
		for _, r := range recs {
			if r.Actor != "slack:"+credit2 {
				t.Errorf("audit %s by %q, want slack:%s", r.Action, r.Actor, credit2)
			}
		}
		if !strings.Contains(recs[0].Detail, "slack:"+credit2) || recs[0].Group != g.ID || recs[0].ConfigDigest != e.cfg.Digest {
			t.Errorf("acknowledged record %+v lacks the user, group or config digest", recs[0])
		}
		n := e.notice(before)
		if n.Kind != state.NoticeAcknowledged || n.Group != g.ID || n.Lifecycle.AckedBy != "slack:"+credit2 {
			t.Errorf("delivered %+v, want an acknowledged notification of %s by slack:%s", n, g.ID, credit2)
		}
		if !strings.Contains(recs[1].Detail, n.ID) {
			t.Errorf("queued record %q does not name notification %s", recs[1].Detail, n.ID)
		}
	})

	for _, who := range []struct{ name, user, owner string }{
		{"the first step of the chain (ml-platform)", platform1, "ml-platform"},
		{"the end of the chain (head-of-ml)", headOfML, "head-of-ml"},
	} {
		t.Run("a member of "+who.name+" acknowledges", func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			e.clickOK(press{user: who.user, action: slacknotify.ActionAcknowledge})
			if g := e.getGroup(); g.AckedBy != "slack:"+who.user {
				t.Errorf("AckedBy %q, want slack:%s", g.AckedBy, who.user)
			}
			if got := actions(e.newRecords(before)); !slices.Contains(got, audit.Acknowledged) {
				t.Errorf("new audit records %v, want an acknowledgement", got)
			}
			if n := e.notice(before); n.Kind != state.NoticeAcknowledged {
				t.Errorf("delivered a %s notification, want acknowledged", n.Kind)
			}
		})
	}

	t.Run("after an escalation the owner it came from may still act", func(t *testing.T) {
		e := newEnv(t)
		e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionEscalate})
		e.clickOK(press{user: credit2, action: slacknotify.ActionAcknowledge})
		if g := e.getGroup(); g.Owner != "ml-platform" || g.AckedBy != "slack:"+credit2 {
			t.Errorf("group with %s acked by %q, want ml-platform acked by slack:%s", g.Owner, g.AckedBy, credit2)
		}
	})

	t.Run("after a reassignment to data, data-platform may act", func(t *testing.T) {
		e := newEnv(t)
		before := e.snapshot()
		code, resp := e.click(press{user: dataEng, action: slacknotify.ActionAcknowledge})
		refused(t, code, resp, "Not allowed")
		e.unchanged(before)
		e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: "reassign:data"})
		e.clickOK(press{user: dataEng, action: slacknotify.ActionAcknowledge})
		if g := e.getGroup(); g.AckedBy != "slack:"+dataEng {
			t.Errorf("AckedBy %q, want slack:%s", g.AckedBy, dataEng)
		}
	})

	t.Run("a member of the model owner asks for a retrain", func(t *testing.T) {
		e := newEnv(t)
		before := e.snapshot()
		e.clickOK(press{user: credit1, name: "ana", action: slacknotify.ActionMore, option: slacknotify.OptionRetrain})
		n := e.notice(before)
		if n.Kind != state.NoticeRequest || n.Request == nil {
			t.Fatalf("delivered %+v, want a request notification", n)
		}
		want := state.Request{Type: state.RequestRetrain, Version: "2026.02.1", Requester: "slack:" + credit1, Name: "ana"}
		if *n.Request != want {
			t.Errorf("request %+v, want %+v", *n.Request, want)
		}
		if got := actions(e.newRecords(before)); !slices.Equal(got, []string{audit.RetrainRequested, audit.Queued}) {
			t.Errorf("new audit records %v, want [retrain-requested queued]", got)
		}
		// A request is not an acknowledgement: the escalation clock runs on.
		if g := e.getGroup(); g.Acked() || !g.EscalateAt.Equal(before.group.EscalateAt) || g.Over() {
			t.Errorf("a retrain request changed the lifecycle: %+v", g.Lifecycle)
		}
	})
}

// TestMenuActions: each option of the "More…" menu, pressed by a member of
// credit-ds, as the store then holds it.
func TestMenuActions(t *testing.T) {
	cases := []struct {
		option string
		// record is the audit action expected on the alert; notice the
		// notification kind delivered.
		records []string
		notice  string
		check   func(t *testing.T, e *env, before, g *state.Group)
	}{
		{slacknotify.OptionSnooze1h, []string{audit.Snoozed, audit.Queued}, state.NoticeSnoozed, snoozedFor(time.Hour)},
		{slacknotify.OptionSnooze4h, []string{audit.Snoozed, audit.Queued}, state.NoticeSnoozed, snoozedFor(4 * time.Hour)},
		{slacknotify.OptionSnooze24h, []string{audit.Snoozed, audit.Queued}, state.NoticeSnoozed, snoozedFor(24 * time.Hour)},
		{slacknotify.OptionEscalate, []string{audit.Escalated, audit.Queued}, state.NoticeEscalated, func(t *testing.T, e *env, before, g *state.Group) {
			if g.Step != 1 || g.Owner != "ml-platform" || g.From != "credit-ds" || g.Base != "credit-ds" {
				t.Errorf("escalated to step %d, owner %s from %s (base %s); want step 1, ml-platform from credit-ds (base credit-ds)", g.Step, g.Owner, g.From, g.Base)
			}
			if g.Acked() || !g.EscalateAt.Equal(t0.Add(15*time.Minute)) {
				t.Errorf("after escalating: acked %q, escalates at %v; want unacknowledged, escalating at %v (ack_within 15m)", g.AckedBy, g.EscalateAt, t0.Add(15*time.Minute))
			}
		}},
		{slacknotify.OptionReassignPrefix + "data", []string{audit.Reassigned, audit.Queued}, state.NoticeReassigned, func(t *testing.T, e *env, before, g *state.Group) {
			if g.Owner != "data-platform" || g.Role != "data" || g.Base != "data-platform" || g.Step != 0 || g.From != "credit-ds" {
				t.Errorf("reassigned to %s (%s, base %s, step %d, from %s); want data-platform (data, base data-platform, step 0, from credit-ds)", g.Owner, g.Role, g.Base, g.Step, g.From)
			}
			if g.EscalateAt.IsZero() {
				t.Errorf("a reassigned group must escalate if its new owner does not acknowledge")
			}
		}},
		{slacknotify.OptionReassignPrefix + "platform", []string{audit.Reassigned, audit.Queued}, state.NoticeReassigned, func(t *testing.T, e *env, before, g *state.Group) {
			if g.Owner != "ml-platform" || g.Role != "platform" {
				t.Errorf("reassigned to %s (%s), want ml-platform (platform)", g.Owner, g.Role)
			}
		}},
		{slacknotify.OptionFalseAlarm, []string{audit.FalseAlarm, audit.Resolved, audit.Queued}, state.NoticeResolved, func(t *testing.T, e *env, before, g *state.Group) {
			if g.Resolution != state.FalseAlarm || g.ClosedBy != "slack:"+credit1 || !g.ClosedAt.Equal(t0) || !g.Over() || g.Open != 0 {
				t.Errorf("after a false alarm: resolution %q by %q at %v, open %d; want %q by slack:%s at %v, over", g.Resolution, g.ClosedBy, g.ClosedAt, g.Open, state.FalseAlarm, credit1, t0)
			}
			alertResolved(t, e)
		}},
		{slacknotify.OptionRollback, []string{audit.RollbackRequested, audit.Queued}, state.NoticeRequest, func(t *testing.T, e *env, before, g *state.Group) {
			if g.Acked() || g.Over() {
				t.Errorf("a rollback request changed the lifecycle: %+v", g.Lifecycle)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.option, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			e.clickOK(press{user: credit1, name: "ana", action: slacknotify.ActionMore, option: c.option})
			g := e.getGroup()
			if g.Version != before.group.Version+1 {
				t.Errorf("group version %d, want %d", g.Version, before.group.Version+1)
			}
			recs := e.newRecords(before)
			if got := actions(recs); !slices.Equal(got, c.records) {
				t.Errorf("new audit records %v, want %v", got, c.records)
			}
			for _, r := range recs {
				if r.Actor != "slack:"+credit1 {
					t.Errorf("audit %s by %q, want slack:%s", r.Action, r.Actor, credit1)
				}
			}
			n := e.notice(before)
			if n.Kind != c.notice {
				t.Errorf("delivered a %s notification, want %s", n.Kind, c.notice)
			}
			if n.Kind != state.NoticeReassigned && !slices.Contains(n.Channels, "events") {
				t.Errorf("notification channels %v: a lifecycle change is published on EventBridge", n.Channels)
			}
			c.check(t, e, before.group, g)
		})
	}

	t.Run("resolve button", func(t *testing.T) {
		e := newEnv(t)
		before := e.snapshot()
		e.clickOK(press{user: credit2, action: slacknotify.ActionResolve})
		g := e.getGroup()
		if g.Resolution != state.ResolvedByPerson || g.ClosedBy != "slack:"+credit2 || !g.Over() {
			t.Errorf("after Resolve: resolution %q by %q, over %v", g.Resolution, g.ClosedBy, g.Over())
		}
		if got := actions(e.newRecords(before)); !slices.Equal(got, []string{audit.Resolved, audit.Queued}) {
			t.Errorf("new audit records %v, want [resolved queued]", got)
		}
		alertResolved(t, e)
		if n := e.notice(before); n.Kind != state.NoticeResolved {
			t.Errorf("delivered a %s notification, want resolved", n.Kind)
		}
	})

	refusals := []struct {
		name   string
		first  *press // applied first, successfully
		second press
		want   string
	}{
		{"a second acknowledgement", &press{user: credit1, name: "ana", action: slacknotify.ActionAcknowledge},
			press{user: credit2, name: "bea", action: slacknotify.ActionAcknowledge}, "Already acknowledged by ana (slack:" + credit1 + ")"},
		{"reassign to the role it is with", nil,
			press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionReassignPrefix + "model"}, "It is with Credit data science already"},
		{"reassign to no role", nil,
			press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionReassignPrefix + "legal"}, `"legal" is not a role`},
		{"an unknown menu option", nil,
			press{user: credit1, action: slacknotify.ActionMore, option: "snooze:7d"}, "does not know this action"},
		{"an unknown button", nil,
			press{user: credit1, action: "stakeout.delete"}, "does not know this action"},
		{"acting on a resolved group", &press{user: credit1, action: slacknotify.ActionResolve},
			press{user: credit2, action: slacknotify.ActionAcknowledge}, "resolved"},
		{"a group id that is not one", nil,
			press{user: credit1, action: slacknotify.ActionAcknowledge, group: "not-a-group"}, "does not name an alert group"},
		{"a group that a newer one replaced", nil,
			press{user: credit1, action: slacknotify.ActionAcknowledge, group: "credit-approval/accuracy-loss@20260101T000000Z.1"}, "over"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.first != nil {
				e.clickOK(*c.first)
			}
			before := e.snapshot()
			code, resp := e.click(c.second)
			refused(t, code, resp, c.want)
			e.unchanged(before)
		})
	}
}

func snoozedFor(d time.Duration) func(t *testing.T, e *env, before, g *state.Group) {
	return func(t *testing.T, e *env, before, g *state.Group) {
		if !g.SnoozedUntil.Equal(t0.Add(d)) {
			t.Errorf("SnoozedUntil %v, want %v", g.SnoozedUntil, t0.Add(d))
		}
		if g.AckedBy != "slack:"+credit1 || !g.EscalateAt.IsZero() || g.Due() != t0.Add(d) {
			t.Errorf("snoozed group: acked by %q, escalates %v, due %v; want acked by slack:%s, due when the snooze ends", g.AckedBy, g.EscalateAt, g.Due(), credit1)
		}
	}
}

func alertResolved(t *testing.T, e *env) {
	t.Helper()
	a, err := e.st.GetAlert(context.Background(), e.alert)
	if err != nil || a == nil {
		t.Fatalf("alert %s: %v", e.alert, err)
	}
	if a.Status != state.Resolved || !a.ResolvedAt.Equal(t0) {
		t.Errorf("alert %s is %s (resolved at %v), want resolved at %v", a.ID, a.Status, a.ResolvedAt, t0)
	}
}

// TestSnoozeThenAcknowledge: acknowledging a snoozed group turns the snooze
// into a plain acknowledgement; a snooze may also be extended.
func TestSnoozeThenAcknowledge(t *testing.T) {
	e := newEnv(t)
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionSnooze1h})
	e.clickOK(press{user: credit2, action: slacknotify.ActionAcknowledge})
	g := e.getGroup()
	// Due only when reack_after asks again, not at the snooze's end.
	if g.AckedBy != "slack:"+credit2 || !g.SnoozedUntil.IsZero() || !g.EscalateAt.IsZero() || !g.Due().Equal(g.ReackAt) || g.ReackAt.IsZero() {
		t.Errorf("after snooze then acknowledge: acked by %q, snoozed until %v, due %v", g.AckedBy, g.SnoozedUntil, g.Due())
	}
}

// TestRollbackTarget: the Rollback button asks for the latest version
// before the live one that no open alert names.
func TestRollbackTarget(t *testing.T) {
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	seen := func(e *env, versions map[string]time.Time) {
		for v, at := range versions {
			if err := e.st.SawVersion(context.Background(), "credit-approval", v, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name     string
		versions map[string]time.Time
		// badVersion, when set, gets an open alert of another rule.
		badVersion string
		want       string
		message    string
	}{
		{"the version before the live one", map[string]time.Time{"2025.12.1": day(1, 2), "2026.01.3": day(1, 20), "2026.02.1": day(2, 10)}, "",
			"2026.01.3", "Rollback to 2026.01.3 requested"},
		{"a version with an open alert is skipped", map[string]time.Time{"2025.12.1": day(1, 2), "2026.01.3": day(1, 20), "2026.02.1": day(2, 10)}, "2026.01.3",
			"2025.12.1", "Rollback to 2025.12.1 requested"},
		{"a version newer than the live one is not a rollback", map[string]time.Time{"2026.01.3": day(1, 20), "2026.02.1": day(2, 10), "2026.03.0-rc1": day(3, 5)}, "",
			"2026.01.3", "Rollback to 2026.01.3 requested"},
		{"only the live version is known", map[string]time.Time{"2026.02.1": day(2, 10)}, "",
			"", "the pipeline chooses"},
		{"no version is known", nil, "", "", "the pipeline chooses"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			seen(e, c.versions)
			if c.badVersion != "" {
				openOtherAlert(t, e, c.badVersion)
			}
			before := e.snapshot()
			e.clickOK(press{user: credit1, name: "ana", action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
			n := e.notice(before)
			if n.Kind != state.NoticeRequest || n.Request == nil || n.Request.Type != state.RequestRollback {
				t.Fatalf("delivered %+v, want a rollback request", n)
			}
			if n.Request.Target != c.want || n.Request.Version != "2026.02.1" || n.Request.Requester != "slack:"+credit1 {
				t.Errorf("rollback from %q to %q by %q, want from 2026.02.1 to %q by slack:%s", n.Request.Version, n.Request.Target, n.Request.Requester, c.want, credit1)
			}
			recs := e.newRecords(before)
			if len(recs) == 0 || recs[0].Action != audit.RollbackRequested {
				t.Fatalf("new audit records %v, want rollback-requested first", actions(recs))
			}
			if c.want != "" && !strings.Contains(recs[0].Detail, "to version "+c.want) {
				t.Errorf("audit detail %q does not name the target %s", recs[0].Detail, c.want)
			}
		})
	}
}

// openOtherAlert opens disparate-impact (a critical fairness rule, not an
// inhibitor of quality alerts) on credit-approval, measured on version v.
func openOtherAlert(t *testing.T, e *env, v string) {
	t.Helper()
	raw := `{"version":"0","id":"credit-approval-fairness-1","detail-type":"ML Model Signal","source":"com.example.monitoring",` +
		`"time":"2026-03-09T06:01:00Z","detail":{"model":"credit-approval","kind":"fairness","metric":"disparate_impact",` +
		`"segment":"age_band=18-24","value":0.71,"observed_at":"2026-03-09T06:01:00Z","version":"` + v + `","environment":"prod"}}`
	p := &pipeline.Processor{Config: e.cfg, Store: e.st, Now: e.clock}
	out, err := p.Process(context.Background(), []byte(raw))
	if err != nil || out.Quarantined != "" {
		t.Fatalf("fairness event: %v %s", err, out.Quarantined)
	}
	g, err := e.st.GetGroup(context.Background(), "credit-approval", "disparate-impact")
	if err != nil || g == nil || g.Over() {
		t.Fatalf("disparate-impact did not open: %+v %v", g, err)
	}
	if e.getGroup().Over() {
		t.Fatal("opening disparate-impact closed accuracy-loss")
	}
}

// TestConcurrentAcknowledgements: two people press Acknowledge at once;
// one acknowledgement is recorded, the other is told who was first.
func TestConcurrentAcknowledgements(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	users := []string{credit1, credit2, "U056KLMNO", platform1, headOfML}
	replies := make([][]notifytest.Response, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			code, resp := e.click(press{user: u, action: slacknotify.ActionAcknowledge})
			if code != http.StatusOK {
				t.Errorf("%s: status %d", u, code)
			}
			replies[i] = resp
		})
	}
	wg.Wait()
	g := e.getGroup()
	if g.Version != before.group.Version+1 {
		t.Errorf("group version %d, want exactly one change (%d)", g.Version, before.group.Version+1)
	}
	if got := actions(e.newRecords(before)); !slices.Equal(got, []string{audit.Acknowledged, audit.Queued}) {
		t.Errorf("new audit records %v, want one acknowledgement", got)
	}
	if d := e.deliveries(); len(d) != 1 {
		t.Errorf("delivered %v, want one notification", d)
	}
	told := 0
	for i, r := range replies {
		switch {
		case "slack:"+users[i] == g.AckedBy:
			if len(r) != 0 {
				t.Errorf("the winner %s was told %+v", users[i], r)
			}
		case len(r) == 1 && strings.Contains(r[0].Text, "Already acknowledged by") && strings.Contains(r[0].Text, g.AckedBy):
			told++
		default:
			t.Errorf("%s was told %+v", users[i], r)
		}
	}
	if told != len(users)-1 {
		t.Errorf("%d of %d late presses were told who acknowledged", told, len(users)-1)
	}
}

// TestRollbackTargetWithoutAlertVersion: an alert whose signal named no
// model version (a CloudWatch alarm, say) still must not ask to "roll
// back" to the version that is live now — the newest one seen.
func TestRollbackTargetWithoutAlertVersion(t *testing.T) {
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, now: t0}
	e.st = memstore.New(e.clock)
	e.slack = notifytest.NewSlack(t)
	e.app = &slackapp.App{Config: cfg, Store: e.st, Now: e.clock,
		SigningSecret: func(context.Context) ([]byte, error) { return signingSecret, nil },
		Deliver: func(_ context.Context, ids []string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.delivered = append(e.delivered, ids...)
			return nil
		}}
	p := &pipeline.Processor{Config: cfg, Store: e.st, Now: e.clock}
	raw := strings.Replace(string(scenario(t, "credit-accuracy-collapse.jsonl")[2]), `"version":"2026.02.1",`, "", 1)
	if strings.Contains(raw, `"version":"2026`) {
		t.Fatal("could not take the version out of the event")
	}
	if _, err := p.Process(context.Background(), []byte(raw)); err != nil {
		t.Fatal(err)
	}
	e.group = e.getGroup()
	if e.group == nil || e.group.Over() {
		t.Fatal("accuracy-loss did not open")
	}
	e.alert = e.group.Members[0]
	// The versions the router saw on other signals: 2026.02.1 is live.
	for v, at := range map[string]time.Time{"2026.01.3": time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), "2026.02.1": time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)} {
		if err := e.st.SawVersion(context.Background(), "credit-approval", v, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.SawVersion(context.Background(), "credit-approval", "2026.02.1", t0); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
	n := e.notice(before)
	if n.Request == nil || n.Request.Target == "2026.02.1" {
		t.Errorf("rollback request %+v targets the live version 2026.02.1 (want 2026.01.3, or none)", n.Request)
	}
}

// With a registry timeline the rollback goes to the version approved
// before the live one, not to a canary the router merely saw in between,
// nor to a version approved after it and since rejected.
func TestRollbackTargetIsThePreviousApprovedVersion(t *testing.T) {
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, now: t0}
	e.st = memstore.New(e.clock)
	e.slack = notifytest.NewSlack(t)
	e.app = &slackapp.App{Config: cfg, Store: e.st, Now: e.clock,
		SigningSecret: func(context.Context) ([]byte, error) { return signingSecret, nil },
		Deliver: func(_ context.Context, ids []string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.delivered = append(e.delivered, ids...)
			return nil
		}}
	ctx := context.Background()
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []signal.VersionChange{
		{Model: "credit-approval", Version: "2026.01.3", At: day(1, 19), Change: signal.ChangeRegistry, Approval: signal.Approved},
		{Model: "credit-approval", Version: "2026.01.3", At: day(1, 20), Change: signal.ChangeDeployed, Environment: "prod"},
		// Approved after it, then revoked: no rollback target.
		{Model: "credit-approval", Version: "2026.01.9", At: day(1, 25), Change: signal.ChangeRegistry, Approval: signal.Approved},
		{Model: "credit-approval", Version: "2026.01.9", At: day(2, 5), Change: signal.ChangeRegistry, Approval: "Rejected"},
		{Model: "credit-approval", Version: "2026.02.1", At: day(2, 10), Change: signal.ChangeDeployed, Environment: "prod"},
	} {
		if _, err := e.st.RecordVersionChange(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// A canary the router saw between them, never approved.
	for v, at := range map[string]time.Time{"2026.01.3": day(1, 20), "2026.02.0-canary": day(2, 1), "2026.02.1": day(2, 10)} {
		if err := e.st.SawVersion(ctx, "credit-approval", v, at); err != nil {
			t.Fatal(err)
		}
	}
	p := &pipeline.Processor{Config: cfg, Store: e.st, Now: e.clock, Timelines: e.st}
	raw := strings.Replace(string(scenario(t, "credit-accuracy-collapse.jsonl")[2]), `"version":"2026.02.1",`, "", 1)
	if _, err := p.Process(ctx, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	e.group = e.getGroup()
	if e.group == nil || e.group.Over() {
		t.Fatal("accuracy-loss did not open")
	}
	e.alert = e.group.Members[0]
	before := e.snapshot()
	e.clickOK(press{user: credit1, action: slacknotify.ActionMore, option: slacknotify.OptionRollback})
	n := e.notice(before)
	if n.Request == nil || n.Request.Target != "2026.01.3" || n.Request.Version != "2026.02.1" {
		t.Errorf("rollback request %+v: want from 2026.02.1 (live, from the timeline) to 2026.01.3 (approved before it; 2026.01.9 was rejected)", n.Request)
	}
}
