package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// t0 is Sunday 2026-03-01 00:00 UTC: the window covers psi from 01:00 to
// 03:00 UTC on Sundays, and nothing else.
const windowModel = testModel + `maintenance:
  - name: sunday-backfill
    reason: the backfill rewrites a day of features
    times: ["01:00-03:00"]
    weekdays: [sunday]
    rules: [psi]
`

func windowProcessor(t *testing.T) (*Processor, *memstore.Store) {
	now := func() time.Time { return t0.Add(30 * 24 * time.Hour) }
	st := memstore.New(now)
	return &Processor{Config: configFrom(t, windowModel), Store: st, Now: now}, st
}

// Inside its window a rule's alert is recorded, audited as silenced by the
// window, and tells nobody; a rule the window does not name is told as
// usual; and a further breach after the window's end opens it and tells
// its owner, once.
func TestWindowSilencesUntilItsEnd(t *testing.T) {
	ctx := context.Background()
	p, st := windowProcessor(t)
	out := process(t, p, event("d1", "drift", "psi", "income", 0.4, 90*time.Minute))
	if states(out) != "psi:silenced" || len(out.Queued)+len(out.Coalesced) != 0 || out.Changes[0].SilencedBy != "sunday-backfill" ||
		!out.Changes[0].SilencedUntil.Equal(t0.Add(3*time.Hour)) || len(out.Changes[0].Notify) != 0 {
		t.Fatalf("drift in the window: %+v, want psi silenced by sunday-backfill until 03:00, nothing queued", out)
	}
	if s := states(process(t, p, event("f1", "freshness", "lag_seconds", "", 7200, 100*time.Minute))); s != "lag:opened" {
		t.Errorf("a rule the window does not name: %q, want opened", s)
	}
	out = process(t, p, event("d2", "drift", "psi", "income", 0.45, 2*time.Hour))
	if states(out) != "psi:updated" || len(out.Queued)+len(out.Coalesced) != 0 {
		t.Errorf("a further breach in the window: %q with %d queued, want updated, nothing queued", states(out), len(out.Queued))
	}
	a, _ := st.GetAlert(ctx, "m/psi/feature=income")
	if a.Status != state.Suppressed || a.Group != "" {
		t.Errorf("silenced alert: status %q group %q, want suppressed in no group (nothing escalates)", a.Status, a.Group)
	}
	sc, _ := st.GetSchedule(ctx, state.WindowSchedule(a.ID))
	if sc == nil || !sc.Next.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("the window's end is not scheduled: %+v", sc)
	}
	out = process(t, p, event("d3", "drift", "psi", "income", 0.5, 4*time.Hour))
	if states(out) != "psi:opened" || len(out.Queued) != 1 || out.Queued[0].Kind != state.NoticeOpened {
		t.Fatalf("a breach after the window: %+v, want psi opened and its owner told", out)
	}
	if s := states(process(t, p, event("d4", "drift", "psi", "income", 0.5, 5*time.Hour))); s != "psi:updated" {
		t.Errorf("the breach after: %q, want updated (told once)", s)
	}
	recs, _ := st.AlertRecords(ctx, a.ID)
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
		if r.Action == audit.Silenced && (r.SilencedBy != "sunday-backfill" ||
			!strings.Contains(r.Detail, "maintenance window sunday-backfill until 2026-03-01T03:00:00Z (the backfill rewrites a day of features)")) {
			t.Errorf("silenced record: silenced_by %q, detail %q", r.SilencedBy, r.Detail)
		}
	}
	if got := strings.Join(actions, " "); got != "silenced updated window-ended queued updated" {
		t.Errorf("trail %q", got)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// An alert that opens and resolves inside its window is never told.
func TestWindowHidesWhatResolvesInIt(t *testing.T) {
	ctx := context.Background()
	p, st := windowProcessor(t)
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 90*time.Minute))
	if s := states(process(t, p, event("d2", "drift", "psi", "income", 0.1, 2*time.Hour))); s != "psi:resolved" {
		t.Fatalf("clean in the window: %q, want resolved", s)
	}
	if pending, _ := st.Pending(ctx, farFuture, 10); len(pending) != 0 {
		t.Errorf("%d notification(s) queued, want none", len(pending))
	}
	// The same rule next Sunday outside the window's hours tells at once.
	if out := process(t, p, event("d3", "drift", "psi", "income", 0.4, 7*24*time.Hour+4*time.Hour)); states(out) != "psi:reopened" || len(out.Queued) != 1 {
		t.Errorf("outside the window: %+v, want reopened and told", out.Changes)
	}
}

// An alarm its owner muted (a CloudWatch alarm mute rule) is silenced by
// the rule until the mute ends, whatever the model's windows.
func TestMutedAlarmIsSilencedByItsMuteRule(t *testing.T) {
	ctx := context.Background()
	p, st := windowProcessor(t)
	const arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm-mute-rule:deploy"
	raw := []byte(`{"version":"0","id":"cw1","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","detail":{` +
		`"alarmName":"lag","alarmTags":{"stakeout:model":"m","stakeout:kind":"freshness","stakeout:metric":"lag_seconds"},` +
		`"state":{"value":"ALARM","reasonData":"{\"queryDate\":\"2026-03-01T05:00:00.000+0000\",\"recentDatapoints\":[7200]}","timestamp":"2026-03-01T05:00:00.000+0000"},` +
		`"muteDetail":{"mutedByArn":"` + arn + `","muteWindowStart":"2026-03-01T04:00:00.000+0000","muteWindowEnd":"2026-03-01T06:00:00.000+0000"}}}`)
	out := process(t, p, raw)
	if states(out) != "lag:silenced" || len(out.Queued) != 0 || out.Changes[0].SilencedBy != arn {
		t.Fatalf("muted alarm: %+v, want lag silenced by the mute rule, nothing queued", out)
	}
	recs, _ := st.AlertRecords(ctx, "m/lag")
	if len(recs) != 1 || recs[0].Action != audit.Silenced || recs[0].SilencedBy != arn ||
		!strings.HasPrefix(recs[0].Detail, "muted by CloudWatch alarm mute rule "+arn+" until 2026-03-01T06:00:00Z") {
		t.Errorf("trail %+v, want one silenced record naming the mute rule and its end", recs)
	}
}

// A window made from Slack (stored, not configured) silences its rule as
// a configured window does, audited with who made it and why; other rules
// are told as usual, and a breach past its end opens and tells.
func TestStoredQuietWindowSilencesItsRule(t *testing.T) {
	ctx := context.Background()
	p, st := windowProcessor(t)
	p.Config = configFrom(t, testModel)
	q := state.Quiet{Name: "quiet/m/20260301T0000-psi", Model: "m", Rule: "psi", Reason: "reindexing the feature store",
		From: t0, Until: t0.Add(2 * time.Hour), By: "slack:U1", ByName: "ana"}
	if err := st.Commit(ctx, &state.Commit{Quiets: &state.Quiets{Model: "m", Windows: []state.Quiet{q}}}); err != nil {
		t.Fatal(err)
	}
	out := process(t, p, event("d1", "drift", "psi", "income", 0.4, 90*time.Minute))
	if states(out) != "psi:silenced" || len(out.Queued) != 0 || out.Changes[0].SilencedBy != q.Name || !out.Changes[0].SilencedUntil.Equal(q.Until) {
		t.Fatalf("drift in the stored window: %+v, want psi silenced by %s until its end, nothing queued", out, q.Name)
	}
	if s := states(process(t, p, event("f1", "freshness", "lag_seconds", "", 7200, 95*time.Minute))); s != "lag:opened" {
		t.Errorf("a rule the window does not name: %q, want opened", s)
	}
	recs, _ := st.AlertRecords(ctx, "m/psi/feature=income")
	if len(recs) != 1 || recs[0].SilencedBy != q.Name ||
		!strings.HasPrefix(recs[0].Detail, "quiet window "+q.Name+" by ana (slack:U1) until 2026-03-01T02:00:00Z (reindexing the feature store)") {
		t.Errorf("trail %+v, want one silenced record naming the window, its author and reason", recs)
	}
	sc, _ := st.GetSchedule(ctx, state.WindowSchedule("m/psi/feature=income"))
	if sc == nil || !sc.Next.Equal(q.Until) {
		t.Errorf("the window's end is not scheduled: %+v", sc)
	}
	process(t, p, event("f2", "freshness", "lag_seconds", "", 0, 150*time.Minute)) // lag resolves: it inhibits drift no more
	out = process(t, p, event("d2", "drift", "psi", "other", 0.4, 3*time.Hour))
	if states(out) != "psi:opened" || len(out.Queued) != 1 {
		t.Errorf("a breach past the window's end: %+v, want opened and told", out.Changes)
	}
}

// A breach after the end first computed for its window, before the
// escalator got to it, looks at the windows again: one that covers it now
// keeps it silenced, until that one's end, and tells nobody.
func TestBreachAfterTheWindowsEndChecksTheWindowsAgain(t *testing.T) {
	ctx := context.Background()
	now := func() time.Time { return t0.Add(30 * 24 * time.Hour) }
	st := memstore.New(now)
	p := &Processor{Config: configFrom(t, windowModel+`  - name: sunday-retrain
    times: ["03:00-05:00"]
    weekdays: [sunday]
    rules: [psi]
`), Store: st, Now: now}
	if out := process(t, p, event("d1", "drift", "psi", "income", 0.4, 90*time.Minute)); !out.Changes[0].SilencedUntil.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("drift in the first window: %+v, want silenced until 03:00", out.Changes)
	}
	out := process(t, p, event("d2", "drift", "psi", "income", 0.45, 210*time.Minute))
	if len(out.Queued)+len(out.Coalesced) != 0 || len(out.Changes) != 1 || out.Changes[0].SilencedBy != "sunday-retrain" ||
		!out.Changes[0].SilencedUntil.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("a breach at 03:30, in the second window: %+v queued %d, want silenced by sunday-retrain until 05:00, nothing queued", out.Changes, len(out.Queued))
	}
	a, _ := st.GetAlert(ctx, "m/psi/feature=income")
	if a.Status != state.Suppressed || a.Group != "" {
		t.Errorf("alert: status %q group %q, want suppressed in no group", a.Status, a.Group)
	}
	if sc, _ := st.GetSchedule(ctx, state.WindowSchedule(a.ID)); sc == nil || !sc.Next.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("the window's end schedule: %+v, want next at 05:00", sc)
	}
	recs, _ := st.AlertRecords(ctx, a.ID)
	if last := recs[len(recs)-1]; last.Action != audit.Silenced || last.SilencedBy != "sunday-retrain" {
		t.Errorf("last record %s by %q, want silenced by sunday-retrain", last.Action, last.SilencedBy)
	}
}

// An alert inhibited while its window lasts, whose inhibitor resolves
// before the window's end, is no longer inhibited but still silenced: it
// tells nobody until the window ends, and then opens as any other.
func TestAlertFreedFromItsInhibitorInItsWindowStaysSilenced(t *testing.T) {
	ctx := context.Background()
	p, st := windowProcessor(t)
	process(t, p, event("f1", "freshness", "lag_seconds", "", 7200, 30*time.Minute))
	if s := states(process(t, p, event("d1", "drift", "psi", "income", 0.4, 90*time.Minute))); s != "psi:suppressed" {
		t.Fatalf("drift while lag fires: %q, want suppressed", s)
	}
	process(t, p, event("f2", "freshness", "lag_seconds", "", 0, 100*time.Minute))
	out := process(t, p, event("d2", "drift", "psi", "income", 0.45, 110*time.Minute))
	if states(out) != "psi:silenced" || len(out.Queued)+len(out.Coalesced) != 0 || out.Changes[0].SilencedBy != "sunday-backfill" ||
		!out.Changes[0].SilencedUntil.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("drift at 01:50, lag resolved, in the 01:00-03:00 window: %+v queued %d, want silenced by sunday-backfill until 03:00, nothing told",
			out.Changes, len(out.Queued)+len(out.Coalesced))
	}
	a, _ := st.GetAlert(ctx, "m/psi/feature=income")
	if a.Status != state.Suppressed || a.InhibitedBy != "" || a.Group != "" {
		t.Errorf("alert: status %q inhibited by %q group %q, want suppressed by its window alone, in no group", a.Status, a.InhibitedBy, a.Group)
	}
	if sc, _ := st.GetSchedule(ctx, state.WindowSchedule(a.ID)); sc == nil || !sc.Next.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("the window's end is not scheduled: %+v", sc)
	}
	if s := states(process(t, p, event("d3", "drift", "psi", "income", 0.5, 2*time.Hour))); s != "psi:updated" {
		t.Errorf("a further breach in the window: %q, want updated (still silenced)", s)
	}
	out = process(t, p, event("d4", "drift", "psi", "income", 0.5, 4*time.Hour))
	if states(out) != "psi:opened" || len(out.Queued) != 1 {
		t.Errorf("a breach after the window: %+v, want opened and told", out.Changes)
	}
}

// hoursWindowModel is testModel with a one-off window on Friday 2026-03-06
// from 17:00 to 19:00 UTC: it starts in its owners' working hours (09:00-
// 18:00 UTC on weekdays, hoursWindowConfig) and ends outside them.
const hoursWindowModel = testModel + `maintenance:
  - name: friday-migration
    from: 2026-03-06T17:00:00Z
    until: 2026-03-06T19:00:00Z
`

// hoursWindowConfig is hoursWindowModel with owners at work 09:00-18:00
// UTC on weekdays, and stakes whose high cell sends Slack alone outside
// them and whose warning cell holds its alerts to the next working hours.
func hoursWindowConfig(t *testing.T) *config.Config {
	t.Helper()
	hours := "working_hours: {location: UTC, weekdays: [\"monday:friday\"], times: [\"09:00-18:00\"]}\n"
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml": {Data: []byte(hoursWindowModel)},
		"rules/stakes.yaml": {Data: []byte("critical:\n  critical: {notify: [slack, pagerduty], ack_within: 15m}\n" +
			"  high: {notify: [slack, pagerduty], ack_within: 30m, outside_hours: slack}\n" +
			"  warning: {notify: [slack], ack_within: 1h, outside_hours: hold}\n  info: {notify: [digest]}\n")},
		"owners/data-team.yaml": {Data: []byte(fmt.Sprintf(owner, "data-team", "data-team") + hours)},
		"owners/ds-team.yaml":   {Data: []byte(fmt.Sprintf(owner, "ds-team", "ds-team") + hours)},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	return cfg
}

// An alert silenced in working hours and opened by a breach after its
// window's end, outside them, is routed by outside_hours as if it had just
// opened — Slack without a page (slack), or held to Monday 09:00 (hold) —
// though it still says it opened in the window.
func TestBreachAfterTheWindowsEndIsRoutedByTheHoursThen(t *testing.T) {
	friday := t0.Add(5 * 24 * time.Hour)
	clock := friday
	now := func() time.Time { return clock }
	st := memstore.New(now)
	p := &Processor{Config: hoursWindowConfig(t), Store: st, Now: now}
	at := func(h, m int) time.Duration {
		clock = friday.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		return clock.Sub(t0)
	}
	if s := states(process(t, p, event("d1", "drift", "psi", "income", 0.4, at(17, 30)))); s != "psi:silenced" {
		t.Fatalf("drift at 17:30, in hours and in the window: %q, want silenced", s)
	}
	if s := states(process(t, p, event("q1", "quality", "auc", "", 0.6, at(17, 30)))); s != "auc:silenced" {
		t.Fatalf("auc at 17:30, in hours and in the window: %q, want silenced", s)
	}
	out := process(t, p, event("d2", "drift", "psi", "income", 0.45, at(19, 30)))
	if states(out) != "psi:opened" || len(out.Queued) != 1 || !slices.Equal(out.Queued[0].Channels, []string{"slack", "events"}) || !out.Queued[0].Hold.IsZero() {
		t.Fatalf("drift at 19:30, after the window, outside hours: %+v, want opened and told on Slack alone, at once (outside_hours: slack)", told(out))
	}
	out = process(t, p, event("q2", "quality", "auc", "", 0.6, at(19, 30)))
	monday := t0.Add(8*24*time.Hour + 9*time.Hour)
	if states(out) != "auc:opened" || len(out.Queued) != 1 || !out.Queued[0].Hold.Equal(monday) {
		t.Fatalf("auc at 19:30, after the window, outside hours: %+v, want opened, held until Monday 09:00 (outside_hours: hold)", told(out))
	}
	ctx := context.Background()
	a, _ := st.GetAlert(ctx, "m/auc")
	if !a.OpenedAt.Equal(friday.Add(17*time.Hour+30*time.Minute)) || !a.HeldUntil.Equal(monday) {
		t.Errorf("auc alert opened %s held until %s, want opened 17:30 (in the window), held until %s", a.OpenedAt, a.HeldUntil, monday)
	}
	g, _ := st.GetGroup(ctx, "m", "auc")
	if want := monday.Add(time.Hour); !g.EscalateAt.Equal(want) {
		t.Errorf("auc group escalates at %s, want %s (ack_within after the hold)", g.EscalateAt, want)
	}
}

// told says, for a failure, the channels and hold of what out queued.
func told(out Outcome) []string {
	var s []string
	for _, n := range out.Queued {
		s = append(s, fmt.Sprintf("%s via %v held until %s", n.Kind, n.Channels, n.Hold))
	}
	return s
}
