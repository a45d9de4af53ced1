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
	cfg, err := config.Load("../..")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("load: %v %v", err, cfg.Errors())
	}
	r := &quietRig{ctx: context.Background(), cfg: cfg, now: time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return r.now }
	r.st = memstore.New(clock)
	r.p = &pipeline.Processor{Config: cfg, Store: r.st, Now: clock}
	r.e = &escalator.Escalator{Config: cfg, Store: r.st, Now: clock, Signals: []string{}}
	r.w, err = quiet.Start(r.ctx, r.st, cfg, quiet.Request{Model: "churn-prediction", Rule: "feature-drift", For: 2 * time.Hour,
		Reason: "reindexing the feature store", By: lifecycle.Actor{ID: "slack:U0ANA", Name: "ana"}}, r.now)
	if err != nil {
		t.Fatal(err)
	}
	return r
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
