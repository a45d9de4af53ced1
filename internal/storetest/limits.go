package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Worst-case names the contract accepts: the longest, of the characters
// that grow most when escaped for an id (3 bytes each) or encoded as JSON
// (6 bytes each). Configuration names are kebab-case.
var (
	slashes  = strings.Repeat("/", pipeline.MaxNameLength)
	accented = strings.Repeat("é", pipeline.MaxNameLength/2) // 200 bytes
	controls = strings.Repeat("\x01", pipeline.MaxNameLength)
	longID   = kebab("m", config.MaxNameLength)
)

// kebab is a kebab-case name of n bytes starting with first.
func kebab(first string, n int) string { return first + strings.Repeat("x", n-len(first)) }

// limitsConfig is a model (id modelID) whose rules fire on every drift
// reading, one of them keeping the longest history, with summaries that
// quote the event's labels and lineage; its owner's id is owner.
func limitsConfig(t *testing.T, modelID, owner string, rules ...string) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "model: %s\nstakes: critical\nowners: {data: %s, model: %s, platform: %s, product: %s}\n", modelID, owner, owner, owner, owner)
	b.WriteString("expect: [{kind: drift, every: 1d}]\nrules:\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "  - name: %s\n    when: kind == \"drift\" && value > 0.25\n    severity: high\n    owner: model\n", r)
		b.WriteString("    summary: \"{{labels.l00}} {{labels.l01}} {{labels.l02}} {{lineage.big}} {{feature}} {{segment}}\"\n")
	}
	fmt.Fprintf(&b, "  - name: history\n    when: kind == \"drift\" && mean(last(500)) > 1e9\n    severity: info\n    owner: model\n")
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/" + modelID + ".yaml": {Data: []byte(b.String())},
		"owners/" + owner + ".yaml": {Data: []byte("id: " + owner + "\nslack: {channel: C0TEAM0001}\n" +
			"pagerduty: {routing_key: \"secret:stakeout/pagerduty/team\"}\n")},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	return cfg
}

// limitsEvent is a firing drift reading of model m's series (feature,
// segment) with the given id, labels and lineage.
func limitsEvent(id, model, feature, segment string, at time.Time, detail map[string]any) []byte {
	d := map[string]any{"model": model, "kind": "drift", "metric": "psi", "value": 0.5, "observed_at": at.Format(time.RFC3339Nano),
		"feature": feature, "segment": segment}
	for k, v := range detail {
		d[k] = v
	}
	raw, _ := json.Marshal(map[string]any{"version": "0", "id": id, "detail-type": "ML Model Signal", "source": "test", "detail": d})
	return raw
}

// Limits checks that whatever the contract accepts fits the store's limits
// (keys, index keys, 400 KB items) — names of any characters, event ids of
// any length, the largest legal event and the largest records the router
// writes — and that what does not fit is refused for good: the store
// says state.ErrRejected, the router quarantines the event with the
// store's reason instead of retrying it.
func Limits(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("names of 200 bytes of any characters open alerts that audit finds", func(t *testing.T) {
		for name, v := range map[string]string{"slashes": slashes, "non-ASCII": accented, "control characters": controls} {
			t.Run(name, func(t *testing.T) { openWithNames(t, newStore(t), v) })
		}
	})
	t.Run("an EventBridge id of 3,000 characters is applied, and once", func(t *testing.T) {
		st := newStore(t)
		p := &pipeline.Processor{Config: limitsConfig(t, "m", "team", "psi"), Store: st, Now: func() time.Time { return Now }}
		raw := limitsEvent(strings.Repeat("e", 3000), "m", "income", "", t0, nil)
		out, err := p.Process(context.Background(), raw)
		if err != nil || out.Quarantined != "" || len(out.Changes) != 1 {
			t.Fatalf("Process = %+v, %v; want the alert opened", out, err)
		}
		again, err := p.Process(context.Background(), raw)
		if err != nil || !again.Duplicate {
			t.Errorf("redelivery = %+v, %v; want a duplicate", again, err)
		}
	})
	t.Run("the largest legal event opens its alerts", func(t *testing.T) { largestEvent(t, newStore(t)) })
	t.Run("the largest legal records are stored", func(t *testing.T) { largestRecords(t, newStore(t)) })
	t.Run("a record over the limits is refused for good", func(t *testing.T) {
		st := newStore(t)
		a := &state.Alert{ID: "m/r", Model: "m", Rule: "r", Status: state.Open, Summary: strings.Repeat("s", 410<<10)}
		err := st.Commit(context.Background(), &state.Commit{Alerts: []*state.Alert{a}})
		if !errors.Is(err, state.ErrRejected) || !strings.Contains(err.Error(), "Item size has exceeded the maximum allowed size") {
			t.Errorf("Commit of a 410 KB alert = %v; want DynamoDB's ValidationException, rejected for good", err)
		}
	})
	t.Run("an event whose changes the store refuses is quarantined with the store's reason", func(t *testing.T) {
		st := newStore(t)
		cfg := limitsConfig(t, "m", "team", "psi")
		// Past validation (a rule name of 300 KB): nothing the contract
		// accepts is refused, so the configuration is changed after it.
		cfg.Models["m"].Rules[0].Name = strings.Repeat("r", 300<<10)
		p := &pipeline.Processor{Config: cfg, Store: st, Now: func() time.Time { return Now }}
		out, err := p.Process(context.Background(), limitsEvent("refused", "m", "income", "", t0, nil))
		if err != nil || !strings.Contains(out.Quarantined, "the store refused the event's changes") ||
			!strings.Contains(out.Quarantined, "ValidationException") {
			t.Fatalf("Process = %q, %v; want it quarantined with the store's ValidationException", out.Quarantined, err)
		}
		kept, _ := st.QuarantinedOn(context.Background(), Now)
		if len(kept) != 1 || kept[0].ID != "refused" || kept[0].Reason != out.Quarantined {
			t.Errorf("quarantined %+v, want the event with its reason", kept)
		}
	})
}

// openWithNames opens an alert for a feature and a segment both v, and
// finds it, its audit trail and its model's records.
func openWithNames(t *testing.T, st Store, v string) {
	ctx := context.Background()
	p := &pipeline.Processor{Config: limitsConfig(t, "m", "team", "psi"), Store: st, Now: func() time.Time { return Now }}
	out, err := p.Process(ctx, limitsEvent("e1", "m", v, v, t0, nil))
	if err != nil || out.Quarantined != "" || len(out.Changes) != 1 || out.Changes[0].State != "opened" {
		t.Fatalf("Process = %+v, %v; want the alert opened", out, err)
	}
	id := pipeline.AlertID("m", "psi", v, v)
	if out.Changes[0].Alert != id {
		t.Errorf("alert %q, want %q", out.Changes[0].Alert, id)
	}
	a, err := st.GetAlert(ctx, id)
	if err != nil || a == nil || a.Feature != v || a.Segment != v {
		t.Fatalf("GetAlert = %+v, %v; want the alert with its names whole", a, err)
	}
	recs, err := st.AlertRecords(ctx, id)
	if err != nil || len(recs) == 0 {
		t.Errorf("AlertRecords = %d records, %v; want its trail", len(recs), err)
	}
	byModel, err := st.ModelRecords(ctx, "m", t0, t0.Add(time.Second))
	if err != nil || len(byModel) != len(recs) {
		t.Errorf("ModelRecords = %d records, %v; want the alert's %d", len(byModel), err, len(recs))
	}
}

// largestEvent processes the largest event the router accepts —
// pipeline.MaxEventBytes, the most labels, a lineage filling the rest,
// names of 200 bytes of control characters (six bytes each in JSON) —
// for a model whose id, rules and owner have the longest names and whose
// summaries quote labels and lineage: its alerts open, and every record it
// writes (series, alerts, group, notifications, audit, event) is stored.
func largestEvent(t *testing.T, st Store) {
	ctx := context.Background()
	owner := kebab("o", config.MaxNameLength)
	rules := []string{kebab("a", config.MaxNameLength), kebab("b", config.MaxNameLength), kebab("c", config.MaxNameLength)}
	p := &pipeline.Processor{Config: limitsConfig(t, longID, owner, rules...), Store: st, Now: func() time.Time { return Now }}
	labels := map[string]string{}
	for i := range pipeline.MaxLabels {
		labels[fmt.Sprintf("l%02d", i)] = strings.Repeat("\x02", 50)
	}
	lineage := map[string]any{"training_data": "s3://bucket/train", "big": "", "pad": ""}
	detail := map[string]any{"version": controls, "labels": labels, "baseline": 0.1, "sample_size": 1 << 40, "lineage": lineage}
	eventID := func(i int) string { return strings.Repeat("\x03", 2999) + fmt.Sprint(i) }
	raw := limitsEvent(eventID(0), longID, controls, controls, t0, detail)
	// The lineage fills the event to exactly the largest size accepted,
	// with characters six bytes long in JSON.
	room := pipeline.MaxEventBytes - len(raw)
	lineage["big"], lineage["pad"] = strings.Repeat("\x04", room/6), strings.Repeat("x", room%6)
	raw = limitsEvent(eventID(0), longID, controls, controls, t0, detail)
	if len(raw) != pipeline.MaxEventBytes {
		t.Fatalf("the largest event is %d bytes, want %d", len(raw), pipeline.MaxEventBytes)
	}
	for i := range 3 {
		raw := limitsEvent(eventID(i), longID, controls, controls, t0.Add(time.Duration(i)*time.Minute), detail)
		out, err := p.Process(ctx, raw)
		if err != nil || out.Quarantined != "" {
			t.Fatalf("event %d: Process = %q, %v; want it applied", i, out.Quarantined, err)
		}
		if i == 0 && len(out.Changes) != len(rules) {
			t.Errorf("%d alerts changed, want %d opened", len(out.Changes), len(rules))
		}
	}
	id := pipeline.AlertID(longID, rules[0], controls, controls)
	a, err := st.GetAlert(ctx, id)
	if err != nil || a == nil || len(a.Summary) > pipeline.MaxTextBytes || a.Lineage[state.LineageCut] == nil {
		t.Fatalf("GetAlert = %+v, %v; want the alert, its summary and lineage bounded", a, err)
	}
	if recs, err := st.AlertRecords(ctx, id); err != nil || len(recs) < 2 {
		t.Errorf("AlertRecords = %d, %v; want its trail", len(recs), err)
	}
}

// What people and vendors say, at its bounds, of characters six bytes
// long in JSON: an actor's name or id, a reason, a note made of both (a
// group's latest change), a channel's outcome ("failed: <reason>; told
// <owner> via <channels>").
var (
	typedName    = strings.Repeat("\x01", lifecycle.MaxNameBytes)
	typedReason  = strings.Repeat("\x01", lifecycle.MaxReasonBytes)
	typedNote    = strings.Repeat("\x01", lifecycle.MaxReasonBytes+2*lifecycle.MaxNameBytes+100)
	typedOutcome = strings.Repeat("\x01", notify.MaxReasonBytes+2*config.MaxNameLength)
)

// largestRecords stores the largest record of each kind the router, the
// senders and the escalator write: every name at its bound and of
// characters six bytes long in JSON, every list at its length (a series
// keeps MaxHistory readings and an alert per rule of MaxRules, a group
// names MaxMembers, an update names as many, a notification MaxSubjects),
// texts at their bound. Each must be stored, and read back.
func largestRecords(t *testing.T, st Store) {
	ctx := context.Background()
	owner := kebab("o", config.MaxNameLength)
	rule := func(i int) string { return fmt.Sprintf("r%03d%s", i, strings.Repeat("-x", 100))[:config.MaxNameLength] }
	alertID := func(i int) string { return pipeline.AlertID(longID, rule(i), controls, controls) }
	groupID := fmt.Sprintf("%s/%s@20260301T000000Z.%d", longID, rule(0), int64(1)<<60)
	s := largestSeries(rule, alertID)
	a := largestAlert(alertID(0), rule(0), owner, groupID, alertID(1))
	g := &state.Group{ID: groupID, Model: longID, Rule: rule(0), Opened: t0, Started: Now, Total: 1 << 40, Open: 1 << 40,
		Notices: 1 << 40, New: true, Lifecycle: state.Lifecycle{Owner: owner, Role: "platform", Base: owner, Step: 1 << 20,
			From: owner, AckWithin: "1h", AckedBy: typedName, AckedName: typedName, AckedAt: t0, EscalateAt: Now,
			By: typedName, ByName: typedName, Note: typedNote, Resolution: state.FalseAlarm, ClosedBy: typedName,
			ClosedName: typedName, ClosedAt: Now}}
	in := &state.Inhibitors{Model: longID, Active: map[string]string{}}
	for i := range state.MaxMembers {
		g.Members = append(g.Members, alertID(i))
		in.Active[alertID(i)] = "data_quality"
	}
	n := largestNotice(g, a, alertID)
	r := audit.Record{Alert: a.ID, At: t0, Recorded: Now, Action: audit.Updated, Actor: typedName, EventID: s.Recent[0],
		Model: longID, Version: controls, Lineage: a.Lineage, Rule: a.Rule, Kind: a.Kind, Metric: controls, Feature: controls,
		Segment: controls, Value: &a.Value, Severity: a.Severity, Role: a.Role, Owner: owner, Notify: a.Notify, Group: groupID,
		InhibitedBy: a.InhibitedBy, Detail: "still breaching after its group " + groupID + " ended: " + a.Summary,
		ConfigDigest: strings.Repeat("d", 64)}
	a.AuditSeq, a.AuditHash = r.Seal(0, "")
	mustCommit(t, st, &state.Commit{EventID: s.Recent[0], EventExpires: Now.Add(time.Hour), Series: s, Alerts: []*state.Alert{a},
		Groups: []*state.Group{g}, Inhibitors: in, Outbox: []*state.Notification{n}, Audit: []audit.Record{r}})

	d := &state.Delivery{Group: groupID, Slack: map[string]state.SlackMessage{}, Pages: map[string]*state.Page{}, Failing: map[string]string{}}
	for i := range 20 {
		o := fmt.Sprintf("o%02d%s", i, owner)[:config.MaxNameLength]
		d.Slack[fmt.Sprintf("C%010d", i)] = state.SlackMessage{TS: "1700000000.000000", Owner: o, Link: "https://example.slack.com/archives/C0000000000/p1700000000000000"}
		d.Pages[o] = &state.Page{DedupKey: strings.Repeat("k", 255), RoutingKey: "secret:" + strings.Repeat("s", 500), Status: "acknowledged"}
	}
	for _, ch := range n.Channels {
		d.Failing[ch] = typedOutcome
	}
	w := &state.Watch{Model: longID, Kind: "data_quality", Metric: controls, Since: t0, Seen: t0, Alert: longID + "/silent:data_quality:" + controls,
		SilentSince: t0, Next: Now}
	sc := &state.Schedule{Name: "digest:" + owner, Next: Now, Last: t0}
	mustCommit(t, st, &state.Commit{Deliveries: []*state.Delivery{d}, Digest: []state.DigestEntry{{Owner: owner, At: Now, Notice: *n}},
		Watches: []*state.Watch{w}, Schedules: []*state.Schedule{sc}})

	got, err := st.GetGroup(ctx, longID, rule(0))
	if err != nil || got == nil || len(got.Members) != state.MaxMembers {
		t.Errorf("GetGroup = %v, %v; want the group with its %d names", got, err, state.MaxMembers)
	}
	if got, err := st.GetNotice(ctx, n.ID); err != nil || got == nil || len(got.Joined) != state.MaxMembers {
		t.Errorf("GetNotice = %v, %v; want the update with its names", got, err)
	}
	// The largest quarantine record: an event far over the size limit,
	// of characters six bytes long in JSON, kept cut.
	p := &pipeline.Processor{Config: limitsConfig(t, "m", "team", "psi"), Store: st, Now: func() time.Time { return Now }}
	out, err := p.Process(ctx, []byte(strings.Repeat("\x01", 1<<20)))
	if err != nil || out.Quarantined == "" {
		t.Errorf("Process(1 MB) = %q, %v; want it quarantined", out.Quarantined, err)
	}
}

// largestSeries is a series at its bounds: the longest names, MaxHistory
// readings, a streak and an alert for each of MaxRules rules, MaxRecent
// event ids of the longest kept.
func largestSeries(rule, alertID func(int) string) *state.Series {
	s := &state.Series{Key: signal.SeriesKey{Model: longID, Kind: "data_quality", Metric: controls, Feature: controls, Segment: controls},
		Alerts: map[string]state.AlertRef{}}
	for i := range expression.MaxHistory {
		s.State.Add(series.Observation{At: t0.Add(time.Duration(i)*time.Second + 123456789), Value: -1.2345678901234567e-300}, expression.MaxHistory)
	}
	for i := range config.MaxRules {
		s.State.Breach(rule(i), t0.Add(123456789))
		s.Alerts[rule(i)] = state.AlertRef{ID: alertID(i), Status: state.Suppressed, Clean: 1 << 40}
	}
	for i := range state.MaxRecent {
		s.Recent = append(s.Recent, pipeline.EventID(fmt.Sprintf("%s%d", strings.Repeat("\x01", 3000), i)))
		// The quality rules' verdict on a labels reading, naming as many
		// rules as it keeps.
		r := state.LabelsReading{Event: s.Recent[i], Evaluated: config.MaxRules}
		for j := range state.MaxLabelsFired {
			r.Fired = append(r.Fired, rule(j))
		}
		s.AddLabels(r)
	}
	return s
}

// largestAlert is an alert at its bounds.
func largestAlert(id, rule, owner, group, inhibitor string) *state.Alert {
	text := strings.Repeat("\x01", pipeline.MaxTextBytes)
	lineage := map[string]any{}
	for i := range 40 {
		lineage[fmt.Sprintf("k%02d", i)] = strings.Repeat("\x01", 150)
	}
	v, impact := -1.2345678901234567e-300, 1.2345678901234567e300
	a := &state.Alert{ID: id, Model: longID, Rule: rule, Kind: "data_quality", Metric: controls, Feature: controls, Segment: controls,
		Status: state.Suppressed, Severity: "critical", Role: "platform", Owner: owner, Notify: []string{"slack", "pagerduty", "events"},
		AckWithin: "15m", Group: group, InhibitedBy: inhibitor, Stakes: "critical", Summary: text, Why: text,
		Runbook: "https://example.com/" + strings.Repeat("r", 2000), Value: v, Baseline: &v, Impact: &impact, ModelVersion: controls,
		Lineage: state.BoundLineage(lineage), Muted: true, OpenedAt: t0, UpdatedAt: t0, ResolvedAt: t0, Opens: 1 << 40}
	for range state.MaxRecentValues {
		a.Recent = append(a.Recent, v)
	}
	// The timeline's word on its version: names at MaxVersionField, and
	// trained_through as long as a timeline entry's lineage lets it be
	// (JSON-escaped, six bytes a character).
	a.Release = &state.Release{LiveSince: t0.Add(123456789), Environment: strings.Repeat("\x01", signal.MaxVersionField),
		TrainedThrough: strings.Repeat("\x01", (state.MaxTimelineLineage-len(`{"trained_through":""}`))/6),
		Previous:       strings.Repeat("\x01", signal.MaxVersionField)}
	// Late labels' verdicts, MaxJudged of them: an opening, a window and
	// the labels' series hashed, times with nanoseconds (pipeline's
	// judgedKey).
	for i := range state.MaxJudged {
		at := t0.Add(time.Duration(i)*time.Hour + 123456789).Format(time.RFC3339Nano)
		a.Judged = append(a.Judged, at+"|"+at+"|"+at+"|"+strings.Repeat("f", 16))
	}
	return a
}

// largestNotice is a group's update at its bounds, with the delivery
// progress of its every channel.
func largestNotice(g *state.Group, a *state.Alert, alertID func(int) string) *state.Notification {
	n := &state.Notification{ID: fmt.Sprintf("%s#u%d", g.ID, int64(1)<<60), Kind: state.NoticeUpdated, Group: g.ID, Model: g.Model,
		Rule: g.Rule, Owner: a.Owner, Role: a.Role, Channels: a.Notify, Alert: *a, Members: 1 << 40, Joins: 1 << 40,
		Created: Now, Lifecycle: g.Lifecycle, Since: t0, After: g.ID + "#1", Attempts: 1 << 20,
		Request: &state.Request{Type: state.RequestRollback, Version: controls, Target: typedName, Requester: typedName, Name: typedName,
			Reason: typedReason},
		Done: map[string]string{}, Tries: map[string]*state.Try{}, Failure: &state.Failure{Channel: "pagerduty", Reason: typedOutcome, Notice: g.ID + "#1"}}
	for i := range state.MaxMembers {
		if i < state.MaxSubjects {
			n.Subjects = append(n.Subjects, state.Subject(alertID(i)))
		}
		n.Joined = append(n.Joined, state.Subject(alertID(i)))
	}
	for _, ch := range n.Channels {
		n.Done[ch] = typedOutcome
		n.Tries[ch] = &state.Try{Attempts: 1 << 20, Runs: 1 << 20, First: t0, Next: Now, Error: typedOutcome, GaveUp: Now}
	}
	return n
}

func mustCommit(t *testing.T, st Store, c *state.Commit) {
	t.Helper()
	if err := st.Commit(context.Background(), c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}
