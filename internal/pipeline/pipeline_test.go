package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

const testModel = `model: m
stakes: critical
owners: {data: data-team, model: ds-team, platform: data-team, product: ds-team}
expect: [{kind: drift, every: 1d}]
rules:
  - name: psi
    when: kind == "drift" && metric == "psi" && value > 0.25
    severity: high
    owner: model
  - name: lag
    when: kind == "freshness" && value > 3600
    severity: critical
    owner: data
  - name: auc
    when: kind == "quality" && metric == "auc" && value < 0.7
    severity: warning
    owner: model
    resolve_after: 2
  - name: nulls
    when: kind == "data_quality" && value > 0.1
    for: 2
    severity: high
    owner: data
`

const owner = `id: %s
slack: {channel: C0TEAM0001}
pagerduty: {routing_key: "secret:stakeout/pagerduty/%s"}
`

func testConfig(t testing.TB) *config.Config { return configFrom(t, testModel) }

func configFrom(t testing.TB, model string) *config.Config {
	t.Helper()
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml":          {Data: []byte(model)},
		"owners/data-team.yaml": {Data: []byte(fmt.Sprintf(owner, "data-team", "data-team"))},
		"owners/ds-team.yaml":   {Data: []byte(fmt.Sprintf(owner, "ds-team", "ds-team"))},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	return cfg
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// event is an EventBridge envelope with an id, as the router receives it.
func event(id, kind, metric, feature string, value float64, at time.Duration) []byte {
	f := ""
	if feature != "" {
		f = fmt.Sprintf(`,"feature":%q`, feature)
	}
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"m","kind":%q,"metric":%q,"value":%v,"observed_at":%q%s}}`,
		id, kind, metric, value, t0.Add(at).Format(time.RFC3339), f))
}

// countingStore counts the calls that reach the store.
type countingStore struct {
	*memstore.Store
	reads, commits atomic.Int64
}

func (c *countingStore) GetSeries(ctx context.Context, k signal.SeriesKey) (*state.Series, error) {
	c.reads.Add(1)
	return c.Store.GetSeries(ctx, k)
}

func (c *countingStore) Commit(ctx context.Context, cm *state.Commit) error {
	c.commits.Add(1)
	return c.Store.Commit(ctx, cm)
}

func newProcessor(t testing.TB) (*Processor, *countingStore) {
	st := &countingStore{Store: memstore.New(func() time.Time { return t0.Add(24 * time.Hour) })}
	return &Processor{Config: testConfig(t), Store: st, Now: func() time.Time { return t0.Add(24 * time.Hour) }}, st
}

func process(t *testing.T, p *Processor, raw []byte) Outcome {
	t.Helper()
	out, err := p.Process(context.Background(), raw)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return out
}

func states(out Outcome) string {
	var s []string
	for _, c := range out.Changes {
		s = append(s, c.Rule+":"+c.State)
	}
	return strings.Join(s, " ")
}

// An event that would need more records than one commit holds can never
// succeed: it is quarantined, not retried forever.
func TestTooManyChangesAreQuarantined(t *testing.T) {
	rules := ""
	for i := range 25 {
		rules += fmt.Sprintf("  - {name: r%d, when: 'value > 0.%d', severity: high, owner: model}\n", i, i)
	}
	p := &Processor{Config: configFrom(t, strings.Split(testModel, "rules:\n")[0]+"rules:\n"+rules),
		Store: memstore.New(func() time.Time { return t0 }), Now: func() time.Time { return t0.Add(time.Hour) }}
	out := process(t, p, event("many", "drift", "psi", "income", 0.99, 0))
	if !strings.Contains(out.Quarantined, "more than the 100 one commit can hold") {
		t.Errorf("Quarantined = %q, want the commit size named", out.Quarantined)
	}
}

func TestRedeliveryNeverNotifiesTwice(t *testing.T) {
	p, st := newProcessor(t)
	ev := event("e1", "drift", "psi", "income", 0.4, 0)
	first := process(t, p, ev)
	if states(first) != "psi:opened" || len(first.Queued) != 1 {
		t.Fatalf("first delivery: changes %q, %d queued; want psi opened and one notification", states(first), len(first.Queued))
	}
	again := process(t, p, ev)
	if !again.Duplicate || len(again.Changes) != 0 {
		t.Errorf("second delivery: %+v, want a duplicate that changes nothing", again)
	}
	pending, _ := st.Pending(context.Background(), farFuture, 100)
	if len(pending) != 1 {
		t.Errorf("outbox has %d notifications, want 1", len(pending))
	}
}

func TestGroupingAndResolution(t *testing.T) {
	p, st := newProcessor(t)
	for i, f := range []string{"income", "age", "tenure"} {
		process(t, p, event(fmt.Sprintf("o%d", i), "drift", "psi", f, 0.4, time.Duration(i)*time.Minute))
	}
	pending, _ := st.Pending(context.Background(), farFuture, 100)
	var kinds []string
	groups := map[string]bool{}
	for _, n := range pending {
		kinds = append(kinds, n.Kind+fmt.Sprint(n.Joined))
		groups[n.Group] = true
	}
	// The wall clock stands still here: both joins fall in one update
	// window, told as one.
	if got := strings.Join(kinds, " "); got != "opened[] updated[feature=age feature=tenure]" || len(groups) != 1 {
		t.Errorf("notifications %q in %d groups, want one group: opened, one update of age and tenure", got, len(groups))
	}
	for i, f := range []string{"income", "age", "tenure"} {
		out := process(t, p, event(fmt.Sprintf("c%d", i), "drift", "psi", f, 0.1, time.Hour+time.Duration(i)*time.Minute))
		if states(out) != "psi:resolved" {
			t.Errorf("clean reading of %s: %q, want psi resolved", f, states(out))
		}
	}
	pending, _ = st.Pending(context.Background(), farFuture, 100)
	if last := pending[len(pending)-1]; len(pending) != 3 || !slices.ContainsFunc(pending, func(n *state.Notification) bool { return n.Kind == state.NoticeResolved }) {
		t.Errorf("after the last member resolved: %d notifications, last %q; want 3, one resolved", len(pending), last.Kind)
	}
}

// TestJoinsCoalesceByWindow: alerts joining a group within one update
// window are one update; a later window is another, after the first.
func TestJoinsCoalesceByWindow(t *testing.T) {
	st := memstore.New(func() time.Time { return t0 })
	var now time.Time
	p := &Processor{Config: configFrom(t, testModel), Store: st, Now: func() time.Time { return now }}
	now = t0
	process(t, p, event("o0", "drift", "psi", "income", 0.4, 0))
	var ids []string
	for i, f := range []string{"age", "tenure", "zip", "plan"} {
		now = t0.Add(time.Duration(i) * 2 * time.Second) // 0, 2, 4: one window; 6: the next
		out := process(t, p, event(fmt.Sprintf("j%d", i), "drift", "psi", f, 0.4, time.Minute))
		if len(out.Queued) != 0 || len(out.Coalesced) != 1 {
			t.Fatalf("join of %s: queued %d, coalesced %d; want it coalesced, nothing to send now", f, len(out.Queued), len(out.Coalesced))
		}
		ids = append(ids, out.Coalesced[0].ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[3] == ids[2] {
		t.Fatalf("update ids %v, want the first three in one window and the fourth in the next", ids)
	}
	first, _ := st.GetNotice(context.Background(), ids[0])
	second, _ := st.GetNotice(context.Background(), ids[3])
	if got := strings.Join(first.Joined, " "); got != "feature=age feature=tenure feature=zip" || !strings.HasSuffix(first.After, "#1") {
		t.Errorf("first window joined %q after %q, want age, tenure and zip, after the opening", got, first.After)
	}
	if !second.Due().After(first.Due()) || first.Due().Before(t0.Add(state.UpdateWindow)) {
		t.Errorf("windows due at %v and %v, want each after its window, in order", first.Due(), second.Due())
	}
	g, _ := st.GetGroup(context.Background(), "m", "psi")
	if g.Open != 5 || len(g.Members) != 5 || g.Version != 1 {
		t.Errorf("group open %d, %d members, version %d; want 5, 5 and the version untouched by joins", g.Open, len(g.Members), g.Version)
	}
}

// A processor given its own update windows opens groups that keep them:
// joins 0.5 s apart with 1-second windows and no grace fall in one
// window per second, each due as it ends.
func TestGroupsKeepTheProcessorsWindows(t *testing.T) {
	st := memstore.New(func() time.Time { return t0 })
	var now time.Time
	p := &Processor{Config: configFrom(t, testModel), Store: st, Now: func() time.Time { return now },
		Windows: state.Windows{Length: time.Second}}
	now = t0
	process(t, p, event("o0", "drift", "psi", "income", 0.4, 0))
	var updates []*state.Notification
	for i, f := range []string{"age", "tenure", "zip"} {
		now = t0.Add(time.Duration(i+1) * 500 * time.Millisecond) // 0.5, 1, 1.5 s: windows 0, 1, 1
		out := process(t, p, event(fmt.Sprintf("j%d", i), "drift", "psi", f, 0.4, time.Minute))
		if len(out.Coalesced) != 1 {
			t.Fatalf("join of %s: coalesced %d, want 1", f, len(out.Coalesced))
		}
		n, _ := st.GetNotice(context.Background(), out.Coalesced[0].ID)
		updates = append(updates, n)
	}
	if g, _ := st.GetGroup(context.Background(), "m", "psi"); g.Windows != p.Windows {
		t.Errorf("group stored with windows %+v, want the processor's %+v", g.Windows, p.Windows)
	}
	if updates[0].ID == updates[1].ID || updates[1].ID != updates[2].ID {
		t.Fatalf("update ids %s %s %s, want the first alone in its window and the other two in the next", updates[0].ID, updates[1].ID, updates[2].ID)
	}
	if got, want := updates[0].Due(), t0.Add(time.Second); !got.Equal(want) {
		t.Errorf("first window due at %v, want %v (its end, no grace)", got, want)
	}
	if got, want := updates[2].Due(), t0.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("second window due at %v, want %v", got, want)
	}
}

// A rule's group lives while any member is open, however long: each
// member's resolution counts it down, and the last one resolves it.
func TestGroupOutlivesItsFirstHours(t *testing.T) {
	p, st := newProcessor(t)
	process(t, p, event("a1", "drift", "psi", "income", 0.4, 0))
	process(t, p, event("b1", "drift", "psi", "age", 0.4, 3*time.Hour)) // long after the first
	process(t, p, event("a2", "drift", "psi", "income", 0.1, 4*time.Hour))
	out := process(t, p, event("b2", "drift", "psi", "age", 0.1, 5*time.Hour))
	if len(out.Queued) != 1 || out.Queued[0].Kind != state.NoticeResolved {
		t.Fatalf("last member resolving queued %+v, want the group's resolved notice", out.Queued)
	}
	pending, _ := st.Pending(context.Background(), farFuture, 10)
	groups := map[string]bool{}
	for _, n := range pending {
		groups[n.Group] = true
	}
	if len(pending) != 3 || len(groups) != 1 {
		t.Errorf("%d notifications in %d groups, want opened, updated, resolved of one group", len(pending), len(groups))
	}
	out = process(t, p, event("c1", "drift", "psi", "tenure", 0.4, 6*time.Hour))
	if len(out.Queued) != 1 || out.Queued[0].Kind != state.NoticeOpened || groups[out.Queued[0].Group] {
		t.Errorf("an alert after the group ended queued %+v, want a new group opened", out.Queued)
	}
}

func TestInhibition(t *testing.T) {
	p, st := newProcessor(t)
	if s := states(process(t, p, event("f1", "freshness", "lag_seconds", "", 7200, 0))); s != "lag:opened" {
		t.Fatalf("stale feed: %q, want lag opened", s)
	}
	out := process(t, p, event("d1", "drift", "psi", "income", 0.4, time.Minute))
	if states(out) != "psi:suppressed" || out.Changes[0].InhibitedBy != "m/lag" || len(out.Queued) != 0 {
		t.Fatalf("drift during a stale feed: %+v, want psi suppressed by m/lag, nothing queued", out.Changes)
	}
	process(t, p, event("f2", "freshness", "lag_seconds", "", 60, 2*time.Hour))
	out = process(t, p, event("d2", "drift", "psi", "income", 0.45, 3*time.Hour))
	if states(out) != "psi:opened" || len(out.Queued) != 1 {
		t.Errorf("drift after the feed recovered: %q with %d queued, want psi opened and notified", states(out), len(out.Queued))
	}
	pending, _ := st.Pending(context.Background(), farFuture, 100)
	owners := []string{}
	for _, n := range pending {
		owners = append(owners, n.Owner+":"+n.Kind)
	}
	if got := strings.Join(owners, " "); got != "data-team:opened data-team:resolved ds-team:opened" {
		t.Errorf("notifications %q", got)
	}
}

// A model's inhibitors record names at most MaxInhibitors: past them,
// stale features still suppress their model's drift alerts, and the
// record stays one bounded item.
func TestInhibitorsAreBounded(t *testing.T) {
	p, st := newProcessor(t)
	for i := range state.MaxInhibitors + 5 {
		out := process(t, p, event(fmt.Sprintf("f%d", i), "freshness", "lag_seconds", fmt.Sprintf("f%03d", i), 7200, time.Duration(i)*time.Second))
		if states(out) != "lag:opened" {
			t.Fatalf("stale feed %d: %q, want lag opened", i, states(out))
		}
	}
	in, _ := st.GetInhibitors(context.Background(), "m")
	if len(in.Active) != state.MaxInhibitors {
		t.Errorf("inhibitors record %d alerts, want %d", len(in.Active), state.MaxInhibitors)
	}
	if out := process(t, p, event("d1", "drift", "psi", "income", 0.4, time.Hour)); states(out) != "psi:suppressed" {
		t.Errorf("drift during stale feeds: %q, want psi suppressed", states(out))
	}
}

func TestResolveAfterAndFor(t *testing.T) {
	p, _ := newProcessor(t)
	var got []string
	for i, v := range []float64{0.6, 0.8, 0.65, 0.8, 0.8} {
		got = append(got, states(process(t, p, event(fmt.Sprintf("a%d", i), "quality", "auc", "", v, time.Duration(i)*time.Hour))))
	}
	if want := "auc:opened||auc:updated||auc:resolved"; strings.Join(got, "|") != want {
		t.Errorf("auc timeline %q, want %q (two clean readings resolve; a breach resets the count)", strings.Join(got, "|"), want)
	}
	got = nil
	for i, v := range []float64{0.2, 0.2, 0.2} {
		got = append(got, states(process(t, p, event(fmt.Sprintf("n%d", i), "data_quality", "null_rate", "", v, time.Duration(i)*time.Hour))))
	}
	if want := "|nulls:opened|nulls:updated"; strings.Join(got, "|") != want {
		t.Errorf("nulls timeline %q, want %q (for: 2)", strings.Join(got, "|"), want)
	}
}

func TestAuditTrail(t *testing.T) {
	p, st := newProcessor(t)
	process(t, p, event("e1", "drift", "psi", "income", 0.4, 0))
	process(t, p, event("e2", "drift", "psi", "income", 0.5, time.Hour))
	process(t, p, event("e3", "drift", "psi", "income", 0.1, 2*time.Hour))
	recs, _ := st.AlertRecords(context.Background(), "m/psi/feature=income")
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
		if r.ConfigDigest != p.Config.Digest || r.EventID == "" || r.Actor != "router" {
			t.Errorf("record %d: digest %q, event %q, actor %q", r.Seq, r.ConfigDigest, r.EventID, r.Actor)
		}
	}
	// The last "queued" is the group's resolved notice.
	if got := strings.Join(actions, " "); got != "opened queued updated resolved queued" {
		t.Errorf("actions %q", got)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// An event that changes nothing costs one read and no write.
func TestQuietEventsDoNotWrite(t *testing.T) {
	p, st := newProcessor(t)
	for i := range 10 {
		process(t, p, event(fmt.Sprintf("q%d", i), "drift", "psi", "income", 0.1, time.Duration(i)*time.Hour))
	}
	if r, c := st.reads.Load(), st.commits.Load(); r != 10 || c != 0 {
		t.Errorf("10 clean readings of a history-less model: %d reads, %d commits; want 10 and 0", r, c)
	}
	process(t, p, event("x", "drift", "psi", "income", 0.4, 20*time.Hour))
	if r, c := st.reads.Load(), st.commits.Load(); r != 11 || c != 1 {
		t.Errorf("an opening breach: %d reads, %d commits in all; want 11 and 1", r, c)
	}
}

func TestQuarantine(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	labels := make([]string, 100)
	for i := range labels {
		labels[i] = fmt.Sprintf(`"l%d":"v"`, i)
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"malformed", `{"detail-type":"ML Model Signal","id":"b1","detail":{"model":`, "malformed JSON"},
		{"unknown model", `{"model":"nope","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z"}`, `unknown model "nope"`},
		{"missing field", `{"model":"m","kind":"drift","value":1,"observed_at":"2026-03-01T00:00:00Z"}`, `missing required field "metric"`},
		{"wrong type", `{"model":"m","kind":"drift","metric":"psi","value":"high","observed_at":"2026-03-01T00:00:00Z"}`, `field "value"`},
		{"far future", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2027-03-01T00:00:00Z"}`, "in the future"},
		{"too many labels", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","labels":{` + strings.Join(labels, ",") + `}}`, "100 labels"},
		{"oversized label", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","labels":{"note":"` + strings.Repeat("y", 5000) + `"}}`, "longer than"},
		{"256 KB detail", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","labels":{"x":"` + big + `"}}`, "bytes, more than"},
		{"feature name too long", `{"model":"m","kind":"drift","metric":"psi","feature":"` + strings.Repeat("f", 1100) + `","value":1,"observed_at":"2026-03-01T00:00:00Z"}`, "feature is 1100 bytes long"},
		{"infinite value", `{"model":"m","kind":"drift","metric":"psi","value":1e999,"observed_at":"2026-03-01T00:00:00Z"}`, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newProcessor(t)
			out := process(t, p, []byte(tc.raw))
			if !strings.Contains(out.Quarantined, tc.want) {
				t.Errorf("Quarantined = %q, want it to contain %q", out.Quarantined, tc.want)
			}
			q, _ := st.Quarantined(context.Background())
			kept := q[0].Body == tc.raw || (len(tc.raw) > 32<<10 && strings.HasPrefix(tc.raw, strings.TrimSuffix(q[0].Body[:100], "…")) && strings.Contains(q[0].Body, "truncated"))
			if len(q) != 1 || q[0].Reason != out.Quarantined || !kept {
				t.Errorf("store holds %d quarantined events, want this one with its reason and body", len(q))
			}
		})
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct{ feature, segment, want string }{
		{"", "", ""},
		{"income", "", "feature=income"},
		{"a/b c", "region=eu", "feature=a/b c segment=region=eu"},
	} {
		id := AlertID("m", "r", tc.feature, tc.segment)
		if got := state.Subject(id); got != tc.want {
			t.Errorf("Subject(%q) = %q, want %q", id, got, tc.want)
		}
	}
}

// farFuture takes every pending notification, whenever due.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// A rule over its evaluation budget on an event tells its owner by an
// alert of its own (the way its breaches would), the model's other rules
// are applied all the same, and the rule's next evaluation resolves it.
func TestRuleOverBudgetAlertsItsOwner(t *testing.T) {
	model := strings.Replace(testModel, "rules:\n", "rules:\n"+
		"  - {name: every-pair, when: 'kind == \"drift\" && all(lineage.xs, {all(lineage.xs, {# >= 0})}) && value > 1', severity: high, owner: data}\n", 1)
	now := t0.Add(24 * time.Hour)
	st := memstore.New(func() time.Time { return now })
	p := &Processor{Config: configFrom(t, model), Store: st, Now: func() time.Time { return now }}
	withList := func(id string, n int, at time.Duration) []byte {
		xs := make([]string, n)
		for i := range xs {
			xs[i] = fmt.Sprint(i)
		}
		return []byte(fmt.Sprintf(`{"id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"m","kind":"drift","metric":"psi","feature":"income","value":0.4,"observed_at":%q,"lineage":{"xs":[%s]}}}`,
			id, t0.Add(at).Format(time.RFC3339), strings.Join(xs, ",")))
	}
	out := process(t, p, withList("big", 3000, 0))
	if got := states(out); got != "error:every-pair:opened psi:opened" {
		t.Fatalf("changes %q, want psi opened and the rule's error opened", got)
	}
	if len(out.RuleErrors) != 1 || out.RuleErrors[0].Rule != "every-pair" || out.RuleErrors[0].Owner != "data-team" ||
		!strings.Contains(out.RuleErrors[0].Reason, "over budget") {
		t.Errorf("RuleErrors = %+v, want every-pair of data-team, over budget", out.RuleErrors)
	}
	var told bool
	for _, n := range out.Queued {
		told = told || n.Owner == "data-team" && n.Rule == "error:every-pair"
	}
	if !told {
		t.Errorf("queued %+v, want a notification of error:every-pair to data-team", out.Queued)
	}
	a, _ := st.GetAlert(context.Background(), AlertID("m", "error:every-pair", "income", ""))
	if a == nil || a.Severity != "high" || !strings.Contains(a.Summary, "every-pair could not be evaluated") || !strings.Contains(a.Why, "over budget") {
		t.Fatalf("error alert = %+v, want high, saying the rule could not be evaluated and why", a)
	}
	if got := states(process(t, p, withList("big-again", 3000, time.Hour))); got != "error:every-pair:updated psi:updated" {
		t.Errorf("the same again: %q, want both alerts updated", got)
	}
	if got := states(process(t, p, withList("small", 3, 2*time.Hour))); got != "error:every-pair:resolved psi:updated" {
		t.Errorf("a list the rule can handle: %q, want the error resolved", got)
	}
}

// The alert about a rule resolves when the rule can be evaluated again,
// even on a reading in the rule's hysteresis band (below the threshold to
// fire, above resolve_when's): that band is about the model's alert, not
// about whether the rule works.
func TestRuleErrorResolvesInTheHysteresisBand(t *testing.T) {
	model := strings.Replace(testModel, "rules:\n", "rules:\n"+
		"  - {name: every-pair, when: 'kind == \"drift\" && all(lineage.xs, {all(lineage.xs, {# >= 0})}) && value > 1', resolve_when: 'value < 0.2', severity: high, owner: data}\n", 1)
	now := t0.Add(24 * time.Hour)
	st := memstore.New(func() time.Time { return now })
	p := &Processor{Config: configFrom(t, model), Store: st, Now: func() time.Time { return now }}
	withList := func(id string, n int, at time.Duration) []byte {
		xs := make([]string, n)
		for i := range xs {
			xs[i] = fmt.Sprint(i)
		}
		return []byte(fmt.Sprintf(`{"id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"m","kind":"drift","metric":"psi","feature":"income","value":0.4,"observed_at":%q,"lineage":{"xs":[%s]}}}`,
			id, t0.Add(at).Format(time.RFC3339), strings.Join(xs, ",")))
	}
	if got := states(process(t, p, withList("big", 3000, 0))); !strings.Contains(got, "error:every-pair:opened") {
		t.Fatalf("changes %q, want the rule's error opened", got)
	}
	// value 0.4: not above 1 (clear), not below 0.2 (resolve_when false).
	if got := states(process(t, p, withList("small", 3, time.Hour))); !strings.Contains(got, "error:every-pair:resolved") {
		t.Errorf("a list the rule can handle, in the band: %q, want the error resolved", got)
	}
	a, _ := st.GetAlert(context.Background(), AlertID("m", "error:every-pair", "income", ""))
	if a == nil || a.Status != state.Resolved {
		t.Errorf("error alert missing or not resolved (%v), want resolved", a != nil && a.Status == state.Open)
	}
}
