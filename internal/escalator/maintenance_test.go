package escalator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Two fraud-detection alarms muted by a CloudWatch alarm mute rule, through
// the router, the escalator's runs and the real senders at Slack and
// PagerDuty fakes, minute by minute: nothing pages while they are muted;
// the one muted until 18:00 and still in ALARM pages once at 18:00 and
// escalates 30 minutes after (ack_within counts from the mute's end); the
// one muted until 20:00 recovers at 19:04 and never pages. Both trails
// name the mute rule.
func TestMutedAlarmsPageOnlyWhatIsStillOpenAtTheEnd(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 17, 5, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	raw, err := os.ReadFile("../../testdata/scenarios/fraud-muted-alarm.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	p := &pipeline.Processor{Config: cfg, Store: st, Now: clock}
	for _, l := range lines[:2] {
		if out, err := p.Process(ctx, []byte(l)); err != nil || len(out.Changes) != 1 || out.Changes[0].State != "silenced" {
			t.Fatalf("muted alarm: %+v %v, want silenced", out, err)
		}
	}
	sender, slack, pd := fakeChannels(t, cfg, st, clock)
	var emitted bytes.Buffer
	r := escalator.NewRunner(cfg, st, sender, metrics.New(&emitted, metrics.Namespace, clock), slog.New(slog.DiscardHandler), clock)
	r.Escalator.Signals = []string{} // the test sends no other signal: watch none for silence
	pages := func() (cardCountry, merchant int) {
		for _, e := range pd.Events() {
			if e.Payload == nil {
				continue
			}
			switch {
			case strings.Contains(e.Payload.Summary, "card_country"):
				cardCountry++
			case strings.Contains(e.Payload.Summary, "merchant_category"):
				merchant++
			}
		}
		return
	}
	runTo := func(until time.Time) {
		t.Helper()
		for ; !now.After(until); now = now.Add(time.Minute) {
			if err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
		}
		now = until
	}
	runTo(time.Date(2026, 3, 2, 17, 59, 0, 0, time.UTC))
	if n := len(pd.Events()) + len(slack.Messages("C0FRAUDDSX")); n != 0 {
		t.Fatalf("while muted: %d page(s) and message(s), want none", n)
	}
	runTo(time.Date(2026, 3, 2, 18, 29, 0, 0, time.UTC))
	if c, m := pages(); c != 1 || m != 0 || len(slack.Messages("C0FRAUDDSX")) != 1 {
		t.Fatalf("after the 18:00 mute ended: %d card_country page(s), %d merchant_category, %d Slack message(s); want 1, 0, 1",
			c, m, len(slack.Messages("C0FRAUDDSX")))
	}
	g, _ := st.GetGroup(ctx, "fraud-detection", "monitor-feature-drift")
	if g == nil || g.Step != 0 || !g.EscalateAt.Equal(time.Date(2026, 3, 2, 18, 30, 0, 0, time.UTC)) {
		t.Fatalf("group at 18:29: %+v, want not escalated, due at 18:30 (30m after the mute's end)", g)
	}
	runTo(time.Date(2026, 3, 2, 18, 31, 0, 0, time.UTC))
	if g, _ = st.GetGroup(ctx, "fraud-detection", "monitor-feature-drift"); g.Step != 1 {
		t.Errorf("group at 18:31: step %d, want escalated once, at 18:30", g.Step)
	}
	runTo(time.Date(2026, 3, 2, 19, 4, 0, 0, time.UTC))
	if out, err := p.Process(ctx, []byte(lines[2])); err != nil || len(out.Changes) != 1 || out.Changes[0].State != "resolved" {
		t.Fatalf("recovery: %+v %v, want merchant_category resolved", out, err)
	}
	runTo(time.Date(2026, 3, 2, 20, 30, 0, 0, time.UTC))
	if _, m := pages(); m != 0 {
		t.Errorf("merchant_category paged %d time(s): muted, then recovered, it must never page", m)
	}
	for _, tc := range []struct{ alert, trail string }{
		{"fraud-detection/monitor-feature-drift/feature=merchant_category", "silenced resolved"},
		{"fraud-detection/monitor-feature-drift/feature=card_country", "silenced window-ended queued"},
	} {
		recs, _ := st.AlertRecords(ctx, tc.alert)
		var actions []string
		for _, rec := range recs {
			if rec.Action == audit.Silenced || rec.Action == audit.WindowEnded || rec.Action == audit.Resolved {
				actions = append(actions, rec.Action)
				if !strings.HasSuffix(rec.SilencedBy, ":alarm-mute-rule:fraud-endpoint-redeploy") {
					t.Errorf("%s %s: silenced_by %q, want the mute rule's ARN", tc.alert, rec.Action, rec.SilencedBy)
				}
			}
			if rec.Action == audit.Queued && len(actions) > 0 && actions[len(actions)-1] == audit.WindowEnded {
				actions = append(actions, rec.Action)
			}
		}
		if got := strings.Join(actions, " "); got != tc.trail {
			t.Errorf("%s: trail %q, want %q", tc.alert, got, tc.trail)
		}
		if err := audit.Verify(recs); err != nil {
			t.Errorf("%s: Verify: %v", tc.alert, err)
		}
	}
	if sc, _ := st.GetSchedule(ctx, state.WindowSchedule("fraud-detection/monitor-feature-drift/feature=card_country")); sc == nil || !sc.Next.IsZero() {
		t.Errorf("the mute's end schedule after it ran: %+v, want done (no next)", sc)
	}
}

// windowModel's psi rule raises its group at two members; its window
// covers Sundays 01:00-03:00 UTC.
const windowModel = `model: m
stakes: critical
owners: {data: team-a, model: team-a, platform: team-a, product: team-a}
rules:
  - name: psi
    when: kind == "drift" && value > 0.25
    severity: high
    owner: data
    escalate_when: {members: 2}
maintenance:
  - name: sunday-backfill
    times: ["01:00-03:00"]
    weekdays: [sunday]
`

// windowWorld is windowModel on an embedded store, its router and
// escalator sharing a clock the test moves and update windows of 10m.
func windowWorld(t *testing.T) (*pipeline.Processor, *escalator.Escalator, *memstore.Store, *time.Time) {
	t.Helper()
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml":       {Data: []byte(windowModel)},
		"rules/stakes.yaml":  {Data: []byte(fmt.Sprintf(reackStakes, ""))},
		"owners/team-a.yaml": {Data: []byte("id: team-a\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team-a\"}\n")},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	now := time.Date(2026, 3, 1, 1, 30, 0, 0, time.UTC) // a Sunday, in the window
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	windows := state.Windows{Length: 10 * time.Minute, Grace: time.Minute}
	p := &pipeline.Processor{Config: cfg, Store: st, Now: clock, Windows: windows}
	e := &escalator.Escalator{Config: cfg, Store: st, Now: clock, Windows: windows, Signals: []string{}}
	return p, e, st, &now
}

// Alerts released together at their window's end join their group with
// the router's settings: its update windows, and escalate_when's raise
// when they are enough members.
func TestWindowEndJoinsWithTheRoutersSettings(t *testing.T) {
	ctx := context.Background()
	p, e, st, now := windowWorld(t)
	for i, feature := range []string{"income", "age"} {
		out, err := p.ProcessEvent(ctx, fmt.Sprint("ev-", i), signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: feature,
			Value: 0.4, ObservedAt: *now})
		if err != nil || len(out.Changes) != 1 || out.Changes[0].State != "silenced" {
			t.Fatalf("%s in the window: %+v %v, want silenced", feature, out, err)
		}
	}
	*now = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	if rep, err := e.Tick(ctx); err != nil || rep.WindowsEnded != 2 {
		t.Fatalf("tick at the window's end: %+v %v, want 2 windows ended", rep, err)
	}
	g, err := st.GetGroup(ctx, "m", "psi")
	if err != nil || g == nil {
		t.Fatalf("group: %v %v", g, err)
	}
	if g.Windows != e.Windows {
		t.Errorf("group's update windows %+v, want the router's %+v", g.Windows, e.Windows)
	}
	if g.Raises != 1 || g.Level != "critical" {
		t.Errorf("group of %d members: raises %d level %q, want raised once to critical (escalate_when members: 2)", g.Size(), g.Raises, g.Level)
	}
}

// An alert that opened before its rule's window does not escalate while
// the window lasts: its timeout waits, untold, for the window's end, and
// escalates then.
func TestGroupDueInItsRulesWindowWaitsForTheWindowsEnd(t *testing.T) {
	ctx := context.Background()
	p, e, st, now := windowWorld(t)
	*now = time.Date(2026, 3, 1, 0, 50, 0, 0, time.UTC) // before the 01:00 window
	out, err := p.ProcessEvent(ctx, "ev-0", signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "income", Value: 0.4, ObservedAt: *now})
	if err != nil || len(out.Changes) != 1 || out.Changes[0].State != "opened" {
		t.Fatalf("before the window: %+v %v, want opened", out, err)
	}
	pending := func() int {
		t.Helper()
		ns, err := st.Pending(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(ns)
	}
	before := pending()
	*now = time.Date(2026, 3, 1, 1, 20, 0, 0, time.UTC) // ack_within 30m: due, in the window
	if rep, err := e.Tick(ctx); err != nil || rep.Escalated != 0 || rep.Deferred != 1 || len(rep.Queued) != 0 {
		t.Fatalf("tick at 01:20: %+v %v, want deferred, nothing escalated or queued", rep, err)
	}
	g, _ := st.GetGroup(ctx, "m", "psi")
	if g.Step != 0 || !g.EscalateAt.Equal(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("group after 01:20: step %d due %s, want step 0, due at the window's end 03:00", g.Step, g.EscalateAt)
	}
	if n := pending(); n != before {
		t.Errorf("%d notification(s) pending after the deferral, want %d (nobody told)", n, before)
	}
	*now = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	if rep, err := e.Tick(ctx); err != nil || rep.Escalated != 1 {
		t.Fatalf("tick at 03:00: %+v %v, want escalated", rep, err)
	}
	recs, _ := st.AlertRecords(ctx, "m/psi/feature=income")
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "silenced escalated") {
		t.Errorf("trail %q, want the deferral (silenced) then the escalation", got)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// A snooze that ends while a window covers its group's rule is extended
// to the window's end, untold: nobody is re-notified (or paged) about the
// rule while its window lasts; at the end the snooze ends as usual.
func TestSnoozeEndingInItsRulesWindowWaitsForTheWindowsEnd(t *testing.T) {
	ctx := context.Background()
	p, e, st, now := windowWorld(t)
	*now = time.Date(2026, 3, 1, 0, 50, 0, 0, time.UTC) // before the 01:00 window
	out, err := p.ProcessEvent(ctx, "ev-0", signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "income", Value: 0.4, ObservedAt: *now})
	if err != nil || len(out.Changes) != 1 || out.Changes[0].State != "opened" {
		t.Fatalf("before the window: %+v %v, want opened", out, err)
	}
	g, _ := st.GetGroup(ctx, "m", "psi")
	m := &lifecycle.Manager{Config: e.Config, Store: st, Now: e.Now}
	snooze := lifecycle.Change{Action: lifecycle.Snooze, Group: g.ID, Until: time.Date(2026, 3, 1, 1, 30, 0, 0, time.UTC), By: lifecycle.Actor{ID: "slack:U1"}}
	if res, err := m.Apply(ctx, snooze); err != nil || !res.Done {
		t.Fatalf("snooze: %+v %v", res, err)
	}
	*now = time.Date(2026, 3, 1, 1, 31, 0, 0, time.UTC)
	if rep, err := e.Tick(ctx); err != nil || rep.SnoozesEnded != 0 || rep.Deferred != 1 || len(rep.Queued) != 0 {
		t.Fatalf("tick at 01:31, in the window: %+v %v, want the snooze's end deferred, nothing queued", rep, err)
	}
	if g, _ = st.GetGroup(ctx, "m", "psi"); !g.SnoozedUntil.Equal(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("group after 01:31: snoozed until %s, want the window's end 03:00", g.SnoozedUntil)
	}
	recs, _ := st.AlertRecords(ctx, "m/psi/feature=income")
	if last := recs[len(recs)-1]; last.Action != audit.Silenced || !strings.Contains(last.Detail, "its snooze's end, due 2026-03-01T01:30:00Z, waits for then") {
		t.Errorf("last record %s %q, want the snooze's end deferred (silenced)", last.Action, last.Detail)
	}
	*now = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	if rep, err := e.Tick(ctx); err != nil || rep.SnoozesEnded != 1 || len(rep.Queued) == 0 {
		t.Errorf("tick at 03:00: %+v %v, want the snooze ended and its owner told", rep, err)
	}
}

// hoursWindowModel has a one-off window on Friday 2026-03-06 from 17:00 to
// 19:00 UTC: it starts in its owner's working hours (09:00-18:00 UTC on
// weekdays) and ends outside them.
const hoursWindowModel = `model: m
stakes: critical
owners: {data: team-a, model: team-a, platform: team-a, product: team-a}
rules:
  - name: psi
    when: kind == "drift" && value > 0.25
    severity: high
    owner: data
  - name: auc
    when: kind == "quality" && value < 0.7
    severity: warning
    owner: model
maintenance:
  - name: friday-migration
    from: 2026-03-06T17:00:00Z
    until: 2026-03-06T19:00:00Z
`

// An alert silenced in its owner's working hours, still open at its
// window's end outside them, is routed by outside_hours as if it had just
// opened: a high alert on Slack without a page (slack), a warning held to
// Monday 09:00 and escalating an ack_within after that (hold).
func TestWindowEndOutsideWorkingHoursFollowsOutsideHours(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml": {Data: []byte(hoursWindowModel)},
		"rules/stakes.yaml": {Data: []byte("critical:\n  critical: {notify: [slack, pagerduty], ack_within: 15m}\n" +
			"  high: {notify: [slack, pagerduty], ack_within: 30m, outside_hours: slack}\n" +
			"  warning: {notify: [slack], ack_within: 1h, outside_hours: hold}\n  info: {notify: [digest]}\n")},
		"owners/team-a.yaml": {Data: []byte("id: team-a\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team-a\"}\n" +
			"working_hours: {location: UTC, weekdays: [\"monday:friday\"], times: [\"09:00-18:00\"]}\n")},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	now := time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC) // Friday, in hours and in the window
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	p := &pipeline.Processor{Config: cfg, Store: st, Now: clock}
	e := &escalator.Escalator{Config: cfg, Store: st, Now: clock, Signals: []string{}}
	for _, ev := range []signal.Event{{Model: "m", Kind: "drift", Metric: "psi", Value: 0.4, ObservedAt: now},
		{Model: "m", Kind: "quality", Metric: "auc", Value: 0.6, ObservedAt: now}} {
		if out, err := p.ProcessEvent(ctx, "ev-"+ev.Kind, ev); err != nil || len(out.Changes) != 1 || out.Changes[0].State != "silenced" {
			t.Fatalf("%s at 17:30: %+v %v, want silenced", ev.Kind, out, err)
		}
	}
	now = time.Date(2026, 3, 6, 19, 0, 0, 0, time.UTC)
	if rep, err := e.Tick(ctx); err != nil || rep.WindowsEnded != 2 {
		t.Fatalf("tick at the window's end: %+v %v, want 2 windows ended", rep, err)
	}
	pending, err := st.Pending(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 100)
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)
	told := map[string]string{}
	for _, n := range pending {
		told[n.Alert.Rule] = fmt.Sprintf("%s via %v held until %s", n.Kind, n.Channels, n.Hold.UTC().Format(time.RFC3339))
	}
	want := map[string]string{"psi": "opened via [slack events] held until 0001-01-01T00:00:00Z",
		"auc": "opened via [slack events] held until " + monday.Format(time.RFC3339)}
	if fmt.Sprint(told) != fmt.Sprint(want) {
		t.Errorf("told at 19:00 %v, want %v", told, want)
	}
	a, _ := st.GetAlert(ctx, "m/auc")
	if !a.OpenedAt.Equal(time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC)) || !a.HeldUntil.Equal(monday) {
		t.Errorf("auc alert opened %s held until %s, want opened 17:30 (in the window), held until %s", a.OpenedAt, a.HeldUntil, monday)
	}
	if g, _ := st.GetGroup(ctx, "m", "auc"); !g.EscalateAt.Equal(monday.Add(time.Hour)) {
		t.Errorf("auc group escalates at %s, want %s (ack_within after the hold)", g.EscalateAt, monday.Add(time.Hour))
	}
}

// alarmAt is a CloudWatch alarm event of the fraud-muted-alarm scenario
// as if sent at `at` with event id id, muted until muteEnd ("": not muted).
func alarmAt(t *testing.T, line, id string, at time.Time, muteEnd string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"], ev["time"] = id, at.Format(time.RFC3339)
	detail := ev["detail"].(map[string]any)
	st := detail["state"].(map[string]any)
	st["timestamp"] = at.Format("2006-01-02T15:04:05.000-0700")
	// The reading's time (observed_at): the hour before the event.
	var reason map[string]any
	if err := json.Unmarshal([]byte(st["reasonData"].(string)), &reason); err != nil {
		t.Fatal(err)
	}
	reason["startDate"] = at.Add(-time.Hour).Truncate(time.Hour).Format("2006-01-02T15:04:05.000-0700")
	rd, _ := json.Marshal(reason)
	st["reasonData"] = string(rd)
	if muteEnd == "" {
		delete(detail, "muteDetail")
	} else {
		detail["muteDetail"].(map[string]any)["muteWindowEnd"] = muteEnd
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An alarm in ALARM, told at 15:05, is muted from 16:00 (CloudWatch runs
// none of a muted alarm's actions): its breach at 16:30 is recorded as
// muted and told once, as one update, when the mute ends at 18:00; its
// recovery at 19:00, under a mute until 20:00, resolves the alert then
// (audited as muted) and the Slack message and the PagerDuty incident are
// resolved at 20:00, not before.
func TestAMuteHoldsBackWhatAnAlertOpenBeforeItTells(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 15, 5, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	raw, err := os.ReadFile("../../testdata/scenarios/fraud-muted-alarm.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	alarm, ok := lines[1], strings.ReplaceAll(lines[2], "merchant_category", "card_country")
	p := &pipeline.Processor{Config: cfg, Store: st, Now: clock}
	process := func(ev []byte, want string) {
		t.Helper()
		if out, err := p.Process(ctx, ev); err != nil || len(out.Changes) != 1 || out.Changes[0].State != want {
			t.Fatalf("at %s: %+v %v, want %s", now.Format("15:04"), out, err, want)
		}
	}
	sender, slack, pd := fakeChannels(t, cfg, st, clock)
	r := escalator.NewRunner(cfg, st, sender, metrics.New(&bytes.Buffer{}, metrics.Namespace, clock), slog.New(slog.DiscardHandler), clock)
	r.Escalator.Signals = []string{}
	runTo := func(until time.Time) {
		t.Helper()
		for ; !now.After(until); now = now.Add(time.Minute) {
			if err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
		}
		now = until
	}
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	replies := func(prefix string) int {
		n := 0
		for _, m := range slack.Messages("C0FRAUDDSX") {
			for _, rep := range slack.Replies("C0FRAUDDSX", m.TS) {
				if strings.HasPrefix(rep.Text, prefix) {
					n++
				}
			}
		}
		return n
	}
	process(alarmAt(t, alarm, "open", now, ""), "opened")
	runTo(at(15, 6))
	// Acknowledged: what is told stays in fraud-ds's thread.
	m := &lifecycle.Manager{Config: cfg, Store: st, Now: clock}
	if res, err := m.Apply(ctx, lifecycle.Change{Action: lifecycle.Acknowledge, Group: firstGroup(t, st),
		By: lifecycle.Actor{ID: "slack:U0FRAUD001"}}); err != nil || !res.Done {
		t.Fatal(res, err)
	}
	runTo(at(16, 30))
	process(alarmAt(t, alarm, "breach", now, "2026-03-02T18:00:00.000+0000"), "updated")
	runTo(at(17, 59))
	if n := replies("🔕"); n != 0 {
		t.Fatalf("while muted: %d update(s) told, want none", n)
	}
	runTo(at(18, 1))
	if n := replies("🔕"); n != 1 {
		t.Fatalf("at the mute's end: %d update(s) told, want 1", n)
	}
	runTo(at(19, 0))
	process(alarmAt(t, ok, "recovery", now, "2026-03-02T20:00:00.000+0000"), "resolved")
	runTo(at(19, 59))
	incident := func() string { inc, _ := pd.Incident("stakeout/" + firstGroup(t, st)); return inc.Status }
	if s := incident(); s == "resolved" || replies("✅") != 0 {
		t.Fatalf("while muted: incident %s, %d resolution(s) told; want it open, none told", s, replies("✅"))
	}
	runTo(at(20, 2))
	if s := incident(); s != "resolved" || replies("✅") != 1 {
		t.Errorf("after the mute: incident %s, %d resolution(s) told; want resolved, one", s, replies("✅"))
	}
	recs, _ := st.AlertRecords(ctx, "fraud-detection/monitor-feature-drift/feature=card_country")
	var muted []string
	for _, rec := range recs {
		if strings.HasSuffix(rec.SilencedBy, ":alarm-mute-rule:fraud-endpoint-redeploy") {
			muted = append(muted, rec.Action)
		}
	}
	if got, want := strings.Join(muted, " "), "updated window-ended resolved queued window-ended"; got != want {
		t.Errorf("records naming the mute rule: %q, want %q", got, want)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// firstGroup is the id of the group of fraud-detection's drift rule.
func firstGroup(t *testing.T, st *memstore.Store) string {
	t.Helper()
	g, err := st.GetGroup(context.Background(), "fraud-detection", "monitor-feature-drift")
	if err != nil || g == nil {
		t.Fatalf("group: %v %v", g, err)
	}
	return g.ID
}
