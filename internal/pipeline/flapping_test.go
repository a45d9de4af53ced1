package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// flapModel is testModel's psi rule with the given extra rule lines.
func flapModel(extra string) string {
	return `model: m
stakes: critical
owners: {data: data-team, model: ds-team, platform: data-team, product: ds-team}
expect: [{kind: drift, every: 1d}]
rules:
  - name: psi
    when: kind == "drift" && metric == "psi" && value > 0.25
    severity: high
    owner: model
` + extra
}

// flapRun feeds the psi series `cycles` breaches, each followed by a clean
// reading, every `step`, on a clock that follows the events; it returns
// the notifications queued, by kind, and the processor's store.
type flapRun struct {
	p     *Processor
	st    *memstore.Store
	now   time.Time
	kinds map[string]int
	n     int
}

func newFlapRun(t *testing.T, extra string) *flapRun {
	r := &flapRun{now: t0, kinds: map[string]int{}}
	r.st = memstore.New(func() time.Time { return r.now })
	r.p = &Processor{Config: configFrom(t, flapModel(extra)), Store: r.st, Now: func() time.Time { return r.now }}
	return r
}

func (r *flapRun) send(t *testing.T, value float64, at time.Duration) Outcome {
	t.Helper()
	r.n++
	r.now = t0.Add(at).Add(time.Second)
	out := process(t, r.p, event("e"+time.Duration(r.n).String(), "drift", "psi", "income", value, at))
	for _, n := range out.Queued {
		r.kinds[n.Kind]++
	}
	return out
}

// oscillate sends cycles of breach then clean reading, step apart,
// starting at `from`; it returns the time after the last reading.
func (r *flapRun) oscillate(t *testing.T, cycles int, from, step time.Duration) time.Duration {
	at := from
	for range cycles {
		r.send(t, 0.4, at)
		r.send(t, 0.1, at+step)
		at += 2 * step
	}
	return at
}

func (r *flapRun) records(t *testing.T) []audit.Record {
	t.Helper()
	recs, err := r.st.AlertRecords(context.Background(), AlertID("m", "psi", "income", ""))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func count(recs []audit.Record, action string) int {
	n := 0
	for _, rec := range recs {
		if rec.Action == action {
			n++
		}
	}
	return n
}

// A metric oscillating around its threshold 20 times, with flapping.opens
// 2: the first opening tells the owner, the second reopens that group in
// place (an update, not a new message), and the alert stays open through
// the other 18 cycles; once quiet for quiet_for it resolves, once.
func TestFlappingAlertMakesOneMessageNotTwenty(t *testing.T) {
	r := newFlapRun(t, "    flapping: {opens: 2, within: 6h, quiet_for: 1h}\n")
	end := r.oscillate(t, 20, 0, 5*time.Minute) // 200m: all in the window
	if r.kinds[state.NoticeOpened] != 1 || r.kinds[state.NoticeUpdated] != 1 || r.kinds[state.NoticeResolved] != 1 {
		t.Fatalf("notifications while flapping = %v, want 1 opened, 1 updated (the same group, reopened), 1 resolved (the first cycle)", r.kinds)
	}
	a, _ := r.st.GetAlert(context.Background(), AlertID("m", "psi", "income", ""))
	if a.Status != state.Open || !a.Flapping || a.Opens != 2 || len(a.Openings) != 20 {
		t.Fatalf("alert after 20 cycles: status %s, flapping %v, opens %d, openings %d; want open, flapping, 2 opens, 20 openings counted",
			a.Status, a.Flapping, a.Opens, len(a.Openings))
	}
	g, _ := r.st.GetGroup(context.Background(), "m", "psi")
	if g.ID != a.Group || g.Over() || !strings.Contains(g.Note, "flapping: opened 2 times in 6h") {
		t.Errorf("group %s (alert's %s): over %v, note %q; want the alert's first group, open again, saying it flaps", g.ID, a.Group, g.Over(), g.Note)
	}
	// Clean, but only 40m after the last breach: still held.
	r.send(t, 0.1, end+30*time.Minute)
	if a, _ := r.st.GetAlert(context.Background(), a.ID); a.Status != state.Open {
		t.Fatalf("alert resolved 40m after its last breach, within quiet_for 1h")
	}
	r.send(t, 0.1, end+time.Hour)
	a, _ = r.st.GetAlert(context.Background(), a.ID)
	if a.Status != state.Resolved || a.Flapping || r.kinds[state.NoticeResolved] != 2 || r.kinds[state.NoticeOpened] != 1 {
		t.Fatalf("after 70m quiet: status %s, flapping %v, notifications %v; want resolved, not flapping, a second resolved notice, still 1 opened",
			a.Status, a.Flapping, r.kinds)
	}
	recs := r.records(t)
	if count(recs, audit.FlappingStarted) != 1 || count(recs, audit.FlappingEnded) != 1 {
		t.Errorf("audit: %d flapping-started, %d flapping-ended; want 1 each", count(recs, audit.FlappingStarted), count(recs, audit.FlappingEnded))
	}
	var held string
	for _, rec := range recs {
		if rec.Action == audit.Updated && strings.HasPrefix(rec.Detail, "flapping: opened 20 times in 6h") {
			held = rec.Detail
		}
	}
	if held == "" {
		t.Errorf("no audit record counts the 20th opening as 'flapping: opened 20 times in 6h'")
	}
}

// With the default (3 openings in 6h) the second opening is still its
// own message; the third reopens its group: 2 messages for 20 cycles.
func TestFlappingDefaultHoldsFromTheThirdOpening(t *testing.T) {
	r := newFlapRun(t, "")
	r.oscillate(t, 20, 0, 10*time.Minute)
	if r.kinds[state.NoticeOpened] != 2 || r.kinds[state.NoticeUpdated] != 1 || r.kinds[state.NoticeResolved] != 2 {
		t.Errorf("notifications = %v, want 2 opened, 1 updated, 2 resolved", r.kinds)
	}
}

// flapping: false keeps the old behaviour: every cycle tells its owner.
func TestFlappingFalseNotifiesEveryCycle(t *testing.T) {
	r := newFlapRun(t, "    flapping: false\n")
	r.oscillate(t, 5, 0, 10*time.Minute)
	if r.kinds[state.NoticeOpened] != 5 || r.kinds[state.NoticeResolved] != 5 {
		t.Errorf("notifications = %v, want 5 opened and 5 resolved", r.kinds)
	}
}

// Openings further apart than `within` are separate problems.
func TestOpeningsOutsideTheWindowAreNotFlapping(t *testing.T) {
	r := newFlapRun(t, "")
	r.oscillate(t, 4, 0, 2*time.Hour) // an opening every 4h: 2 per 6h
	a, _ := r.st.GetAlert(context.Background(), AlertID("m", "psi", "income", ""))
	if a.Flapping || a.Status != state.Resolved || r.kinds[state.NoticeOpened] != 4 {
		t.Errorf("flapping %v, status %s, notifications %v; want not flapping, resolved, 4 opened", a.Flapping, a.Status, r.kinds)
	}
}

// A model's flapping applies to its rules; a rule's own overrides it.
func TestModelFlappingIsItsRulesDefault(t *testing.T) {
	cfg := configFrom(t, strings.Replace(flapModel("  - {name: auc, when: 'value < 0.7', severity: warning, owner: model, flapping: {opens: 5}}\n"),
		"rules:", "flapping: {opens: 2, within: 1h}\nrules:", 1))
	m := cfg.Models["m"]
	if f := m.Rules[0].Flapping; f.Opens != 2 || f.Within != time.Hour || f.QuietFor != time.Hour {
		t.Errorf("psi's flapping = %+v, want the model's: 2 in 1h, quiet for the default 1h", f)
	}
	if f := m.Rules[1].Flapping; f.Opens != 5 || f.Within != 6*time.Hour {
		t.Errorf("auc's flapping = %+v, want its own opens 5 and the default within 6h", f)
	}
}

// resolve_when: with a threshold to fire above (0.25) and one to resolve
// below (0.2), a reading between them neither breaches nor counts as clean.
func TestResolveWhenIsASeparateThreshold(t *testing.T) {
	r := newFlapRun(t, "    resolve_when: value < 0.2\n    resolve_after: 2\n")
	r.send(t, 0.4, 0)
	steps := []struct {
		value float64
		want  string
	}{
		{0.22, state.Open},    // in the band: not clean
		{0.15, state.Open},    // clean 1 of 2
		{0.22, state.Open},    // in the band: the count starts again
		{0.15, state.Open},    // clean 1 of 2
		{0.1, state.Resolved}, // clean 2 of 2
	}
	for i, s := range steps {
		r.send(t, s.value, time.Duration(i+1)*time.Hour)
		a, _ := r.st.GetAlert(context.Background(), AlertID("m", "psi", "income", ""))
		if a.Status != s.want {
			t.Fatalf("reading %d (%v): alert %s, want %s", i+1, s.value, a.Status, s.want)
		}
	}
}

// A flapping alert reopened in place pages whoever has the group again:
// the acknowledgement of the problem that went away is cleared and the
// group moves to its next incident, at the level it was raised to — the
// next join does not raise it (and page) a second time.
func TestFlappingReopenPagesAgainAtTheRaisedLevel(t *testing.T) {
	r := newFlapRun(t, "    flapping: {opens: 2, within: 6h, quiet_for: 1h}\n")
	r.send(t, 0.4, 0)
	ctx := context.Background()
	g, err := r.st.GetGroup(ctx, "m", "psi")
	if err != nil || g == nil {
		t.Fatalf("group: %v, %v", g, err)
	}
	// As a person's acknowledgement and a raise to critical leave it.
	g.AckedBy, g.AckedName, g.AckedAt, g.EscalateAt = "slack:U012ABCDE", "Ada", r.now, time.Time{}
	g.Level, g.Notify, g.Raises, g.GrowBase, g.Repages = "critical", []string{"slack", "pagerduty"}, 1, 1, 1
	if err := r.st.Commit(ctx, &state.Commit{Groups: []*state.Group{g}}); err != nil {
		t.Fatal(err)
	}
	r.send(t, 0.1, 5*time.Minute)
	out := r.send(t, 0.4, 10*time.Minute) // flapping: reopened in place
	g, _ = r.st.GetGroup(ctx, "m", "psi")
	if g.Over() || !strings.HasPrefix(g.Note, "flapping") {
		t.Fatalf("group over %v, note %q; want it reopened in place", g.Over(), g.Note)
	}
	if g.Acked() || g.Repages != 2 || g.EscalateAt.IsZero() {
		t.Errorf("reopened: acked by %q, repages %d, escalates at %v; want unacknowledged, its third incident, escalating", g.AckedBy, g.Repages, g.EscalateAt)
	}
	if g.Level != "critical" || len(g.Notify) != 2 || g.Raises != 1 || g.GrowBase != g.Size() {
		t.Errorf("reopened: level %q, notify %v, raises %d, grow base %d (size %d); want the raise kept, counted from now",
			g.Level, g.Notify, g.Raises, g.GrowBase, g.Size())
	}
	if len(out.Queued) != 1 || !out.Queued[0].Reopened || out.Queued[0].Kind != state.NoticeUpdated || !slices.Contains(out.Queued[0].Channels, "pagerduty") {
		t.Errorf("queued %+v; want one reopened update, on pagerduty too", out.Queued)
	}
}

// Unacknowledged, a flapping alert reopened in place escalates ack_within
// after the page that tells of the reopening, not on the clock of the
// first opening: that one may have run out while it was resolved, and
// would page the next owner moments after the first was paged again.
func TestFlappingReopenRestartsTheEscalationClock(t *testing.T) {
	r := newFlapRun(t, "    flapping: {opens: 2, within: 6h, quiet_for: 1h}\n")
	r.send(t, 0.4, 0)
	ctx := context.Background()
	g, _ := r.st.GetGroup(ctx, "m", "psi")
	ack := g.EscalateAt.Sub(r.now)
	if ack <= 0 {
		t.Fatal("the opening set no escalation")
	}
	r.send(t, 0.1, 5*time.Minute)
	r.send(t, 0.4, 10*time.Minute)
	g, _ = r.st.GetGroup(ctx, "m", "psi")
	if want := r.now.Add(ack); g.Over() || !g.EscalateAt.Equal(want) || !g.CycleStart.Equal(r.now) || g.Owner != "ds-team" || g.Acked() {
		t.Errorf("reopened: over %v, escalates at %v, cycle from %v, owner %s, acked %v; want open, due %v, ds-team's, unacknowledged",
			g.Over(), g.EscalateAt, g.CycleStart, g.Owner, g.Acked(), want)
	}
}

// A resolve_when that cannot be evaluated on a reading (here its filter
// names another metric, so it never applies to the series) must not keep
// an alert open for good: the reading counts as clean because when does
// not hold, and the resolution's audit record says why.
func TestResolveWhenThatCannotBeEvaluatedFallsBackToNotWhen(t *testing.T) {
	r := newFlapRun(t, "    resolve_when: metric == \"ks\" && value < 0.2\n")
	r.send(t, 0.4, 0)
	r.send(t, 0.1, time.Hour)
	a, _ := r.st.GetAlert(context.Background(), AlertID("m", "psi", "income", ""))
	if a == nil || a.Status != state.Resolved {
		t.Fatalf("alert %+v, want resolved", a)
	}
	var detail string
	for _, rec := range r.records(t) {
		if rec.Action == audit.Resolved {
			detail = rec.Detail
		}
	}
	if !strings.Contains(detail, "resolve_when could not be evaluated") || !strings.Contains(detail, "when no longer holds") {
		t.Errorf("resolved record's detail = %q, want it to say resolve_when could not be evaluated and when no longer holds", detail)
	}
}
