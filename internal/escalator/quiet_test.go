package escalator_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/quiet"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// quietRig is the router and the escalator on one store and one clock,
// Wednesday 2026-12-09 10:00 UTC (no configured window of churn-prediction
// covers it), with a 2h window on feature-drift made from Slack at 10:00.
type quietRig struct {
	ctx context.Context
	cfg *config.Config
	now time.Time
	st  *memstore.Store
	p   *pipeline.Processor
	e   *escalator.Escalator
	w   *state.Quiet
}

func newQuietRig(t *testing.T) *quietRig {
	t.Helper()
	r := newRig(t, time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC))
	r.w = r.quiet(t, "feature-drift", 2*time.Hour)
	return r
}

// newRig is the router and the escalator of the repository's models on
// one store and one clock, starting at start, with no window from Slack.
func newRig(t *testing.T, start time.Time) *quietRig {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("load: %v %v", err, cfg.Errors())
	}
	r := &quietRig{ctx: context.Background(), cfg: cfg, now: start}
	clock := func() time.Time { return r.now }
	r.st = memstore.New(clock)
	r.p = &pipeline.Processor{Config: cfg, Store: r.st, Now: clock}
	r.e = &escalator.Escalator{Config: cfg, Store: r.st, Now: clock, Signals: []string{}}
	return r
}

// quiet makes a window from Slack on churn-prediction's rule ("": every
// rule) from now, for d.
func (r *quietRig) quiet(t *testing.T, rule string, d time.Duration) *state.Quiet {
	t.Helper()
	w, err := quiet.Start(r.ctx, r.st, r.cfg, quiet.Request{Model: "churn-prediction", Rule: rule, For: d,
		Reason: "reindexing the feature store", By: lifecycle.Actor{ID: "slack:U0ANA", Name: "ana"}}, r.now)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// signal sends one churn-prediction reading of kind and metric at now,
// and returns the state of the one alert it changed ("": none).
func (r *quietRig) signal(t *testing.T, id, kind, metric string, value float64) string {
	t.Helper()
	raw := fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"churn-prediction","kind":%q,"metric":%q,"value":%v,"observed_at":%q}}`,
		id, kind, metric, value, r.now.Format(time.RFC3339))
	out, err := r.p.Process(r.ctx, []byte(raw))
	if err != nil || len(out.Changes) > 1 {
		t.Fatalf("%s %s: %+v, %v", kind, id, out, err)
	}
	if len(out.Changes) == 0 {
		return ""
	}
	return out.Changes[0].State
}

// drift sends a reading of feature's PSI; a breach is sent three times, a
// minute apart (feature-drift fires on three in a row).
func (r *quietRig) drift(t *testing.T, id, feature string, value float64) string {
	t.Helper()
	if value > 0.2 {
		for i := range 2 {
			r.send(t, fmt.Sprintf("%s-%d", id, i), feature, value)
			r.now = r.now.Add(time.Minute)
		}
	}
	return r.send(t, id, feature, value)
}

func (r *quietRig) send(t *testing.T, id, feature string, value float64) string {
	t.Helper()
	raw := fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"churn-prediction","kind":"drift","metric":"psi","feature":%q,"value":%v,"observed_at":%q}}`,
		id, feature, value, r.now.Format(time.RFC3339))
	out, err := r.p.Process(r.ctx, []byte(raw))
	if err != nil || len(out.Changes) > 1 {
		t.Fatalf("drift %s: %+v, %v", id, out, err)
	}
	if len(out.Changes) == 0 {
		return ""
	}
	return out.Changes[0].State
}

func (r *quietRig) tick(t *testing.T, at time.Time) escalator.Report {
	t.Helper()
	r.now = at
	rep, err := r.e.Tick(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// opened lists the subjects of the opening notifications queued.
func (r *quietRig) opened(t *testing.T) []string {
	t.Helper()
	pending, err := r.st.Pending(r.ctx, r.now.Add(24*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range pending {
		if n.Kind == state.NoticeOpened {
			out = append(out, n.Alert.Feature)
		}
	}
	return out
}

func (r *quietRig) trail(t *testing.T) []string {
	t.Helper()
	recs, err := r.st.AlertRecords(r.ctx, r.w.AuditID())
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("the window's trail does not verify: %v", err)
	}
	var out []string
	for _, rec := range recs {
		out = append(out, rec.Action+" by "+rec.Actor)
	}
	return out
}

// At a stored window's end, what it silenced and is still unresolved is
// told once, as at a configured window's end; what resolved in it never
// is; the window leaves the store, its end audited.
func TestStoredQuietWindowTellsWhatIsStillOpenAtItsEnd(t *testing.T) {
	r := newQuietRig(t)
	r.now = r.now.Add(10 * time.Minute)
	if s := r.drift(t, "d1", "income", 0.4); s != "silenced" {
		t.Fatalf("drift in the window: %s, want silenced", s)
	}
	if s := r.drift(t, "d2", "tenure", 0.4); s != "silenced" {
		t.Fatalf("drift in the window: %s, want silenced", s)
	}
	r.now = r.now.Add(10 * time.Minute)
	if s := r.drift(t, "d3", "tenure", 0.05); s != "resolved" {
		t.Fatalf("clean reading in the window: %s, want resolved", s)
	}
	if rep := r.tick(t, r.w.Until.Add(-time.Minute)); rep.WindowsEnded+rep.QuietsEnded != 0 || len(r.opened(t)) != 0 {
		t.Fatalf("before the end: %+v, %v opened; want nothing", rep, r.opened(t))
	}
	rep := r.tick(t, r.w.Until)
	if rep.QuietsEnded != 1 || rep.WindowsEnded != 1 || !slices.Equal(r.opened(t), []string{"income"}) {
		t.Fatalf("at the end: %+v, opened %v; want the window ended and income (still open) told once", rep, r.opened(t))
	}
	if rep := r.tick(t, r.w.Until.Add(time.Minute)); rep.WindowsEnded+rep.QuietsEnded != 0 || len(r.opened(t)) != 1 {
		t.Errorf("a run after the end: %+v, %v; want nothing more", rep, r.opened(t))
	}
	if qs, _ := r.st.GetQuiets(r.ctx, "churn-prediction"); len(qs.Windows) != 0 {
		t.Errorf("the ended window is still stored: %+v", qs.Windows)
	}
	if got := strings.Join(r.trail(t), ", "); got != "quiet-started by slack:U0ANA, quiet-ended by escalator" {
		t.Errorf("the window's trail: %s", got)
	}
}

// A person ending a stored window early (the Slack button): it silences
// nothing from then, and the next escalator run tells what it silenced
// at once, not at its planned end.
func TestStoredQuietWindowEndedEarlyTellsAtOnce(t *testing.T) {
	r := newQuietRig(t)
	r.now = r.now.Add(10 * time.Minute)
	if s := r.drift(t, "d1", "income", 0.4); s != "silenced" {
		t.Fatalf("drift in the window: %s, want silenced", s)
	}
	r.now = r.now.Add(20 * time.Minute)
	if _, err := quiet.End(r.ctx, r.st, r.cfg, "churn-prediction", r.w.Name, lifecycle.Actor{ID: "slack:U0BEN", Name: "ben"}, r.now); err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.End(r.ctx, r.st, r.cfg, "churn-prediction", r.w.Name, lifecycle.Actor{ID: "slack:U0BEN"}, r.now); err == nil {
		t.Errorf("ending it twice succeeded, want ErrEnded")
	}
	rep := r.tick(t, r.now.Add(time.Minute))
	if rep.QuietsEnded != 1 || !slices.Equal(r.opened(t), []string{"income"}) {
		t.Fatalf("after the early end: %+v, opened %v; want income told at once", rep, r.opened(t))
	}
	if s := r.drift(t, "d2", "tenure", 0.4); s != "opened" {
		t.Errorf("drift after the early end: %s, want opened", s)
	}
	if got := strings.Join(r.trail(t), ", "); got != "quiet-started by slack:U0ANA, quiet-ended by slack:U0BEN" {
		t.Errorf("the window's trail: %s", got)
	}
	a, _ := r.st.GetAlert(r.ctx, "churn-prediction/feature-drift/feature=income")
	recs, _ := r.st.AlertRecords(r.ctx, a.ID)
	if last := recs[len(recs)-1]; !slices.ContainsFunc(recs, func(x audit.Record) bool {
		return x.Action == audit.WindowEnded && strings.Contains(x.Detail, "ended at "+r.w.From.Add(32*time.Minute).Format(time.RFC3339))
	}) {
		t.Errorf("the alert's trail does not say the window ended early (last: %+v)", last)
	}
}

// A window made from Slack on a rule defers the escalation of its group
// open before the window, as a configured window does: due inside it, the
// escalation waits, untold, for the window's end.
func TestStoredQuietWindowDefersTheEscalationOfAGroupOpenBeforeIt(t *testing.T) {
	r := newRig(t, time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC))
	if s := r.signal(t, "x1", "freshness", "lag_seconds", 200000); s != "opened" {
		t.Fatalf("scoring lag at 10:00: %s, want opened (escalates after 8h)", s)
	}
	r.now = time.Date(2026, 12, 9, 17, 0, 0, 0, time.UTC)
	w := r.quiet(t, "scoring-lag", 3*time.Hour)
	if rep := r.tick(t, time.Date(2026, 12, 9, 18, 1, 0, 0, time.UTC)); rep.Escalated != 0 || rep.Deferred != 1 || len(rep.Queued) != 0 {
		t.Fatalf("tick at 18:01, in the 17:00-20:00 window: %+v, want deferred, nothing escalated or queued", rep)
	}
	g, _ := r.st.GetGroup(r.ctx, "churn-prediction", "scoring-lag")
	if g.Step != 0 || !g.EscalateAt.Equal(w.Until) {
		t.Fatalf("group after 18:01: step %d due %s, want step 0, due at the window's end %s", g.Step, g.EscalateAt, w.Until)
	}
	recs, _ := r.st.AlertRecords(r.ctx, "churn-prediction/scoring-lag")
	if last := recs[len(recs)-1]; last.Action != audit.Silenced || !strings.HasPrefix(last.Detail, "quiet window "+w.Name+" silences it until") {
		t.Errorf("last record %s %q, want silenced naming the quiet window", last.Action, last.Detail)
	}
	if rep := r.tick(t, w.Until); rep.Escalated != 1 {
		t.Errorf("tick at the window's end: %+v, want escalated", rep)
	}
}

// A window made from Slack that outlasts the configured window which
// silenced an alert keeps it silent at the configured window's end, until
// its own end, as the router would: every window is looked at again.
func TestStoredQuietWindowOutlastingAConfiguredOneKeepsItsAlertSilent(t *testing.T) {
	r := newRig(t, time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC)) // in sunday-retrain, 00:00-04:00Z
	if s := r.signal(t, "s1", "schema", "missing_columns", 2); s != "silenced" {
		t.Fatalf("schema break in sunday-retrain: %s, want silenced", s)
	}
	r.now = time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	w := r.quiet(t, "", 2*time.Hour) // the retrain overran: every rule, until 05:30
	if rep := r.tick(t, time.Date(2026, 3, 1, 4, 1, 0, 0, time.UTC)); len(rep.Queued) != 0 || rep.WindowsEnded != 0 {
		t.Fatalf("tick at 04:01, sunday-retrain over, the quiet window on: %+v, want nothing told", rep)
	}
	const id = "churn-prediction/schema-break"
	a, _ := r.st.GetAlert(r.ctx, id)
	if a.Status != state.Suppressed || a.SilencedBy != w.Name || !a.SilencedUntil.Equal(w.Until) {
		t.Fatalf("alert at 04:01: %s silenced by %q until %s, want suppressed by %s until %s", a.Status, a.SilencedBy, a.SilencedUntil, w.Name, w.Until)
	}
	recs, _ := r.st.AlertRecords(r.ctx, id)
	if last := recs[len(recs)-1]; last.Action != audit.Silenced || last.SilencedBy != w.Name ||
		!strings.HasPrefix(last.Detail, "quiet window "+w.Name+" still covers it, until 2026-03-01T05:30:00Z") {
		t.Errorf("last record %s by %q %q, want silenced by the quiet window", last.Action, last.SilencedBy, last.Detail)
	}
	rep := r.tick(t, w.Until)
	if rep.WindowsEnded != 1 || len(rep.Queued) != 1 {
		t.Errorf("tick at the quiet window's end: %+v, want the alert told once", rep)
	}
	if rep := r.tick(t, w.Until.Add(time.Minute)); len(rep.Queued) != 0 {
		t.Errorf("a run after the end: %+v, want nothing more", rep)
	}
}
