package escalator

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// SilenceRule is the rule name of the silence alert of a kind (and
// metric): "silent:drift", "silent:freshness:lag_seconds". The colon keeps
// it apart from every rule a model file can name (those are kebab-case).
func SilenceRule(kind, metric string) string {
	r := "silent:" + kind
	if metric != "" {
		r += ":" + strings.NewReplacer("/", "_", "@", "_", "#", "_").Replace(metric)
	}
	return r
}

// Expectation returns the model's expectation a watch stands for.
func Expectation(cfg *config.Config, w *state.Watch) (*config.Model, *config.Expectation) {
	m := cfg.Models[w.Model]
	if m == nil {
		return nil, nil
	}
	for i := range m.Expect {
		if x := &m.Expect[i]; x.Kind == w.Kind && x.Metric == w.Metric {
			return m, x
		}
	}
	return m, nil
}

// watch looks at a watch that is due: its signal late by every plus grace
// opens the silence alert; its signal back resolves it.
func (e *Escalator) watch(ctx context.Context, id string, rep *Report) error {
	var (
		c       *state.Commit
		w       *state.Watch
		outcome string
	)
	err := state.OnConflict(ctx, tries, func(int) error {
		c, outcome = nil, ""
		var err error
		w, err = e.Store.GetWatch(ctx, id)
		if err != nil || w == nil {
			return err
		}
		now := e.now()
		s := newSilence(e, w, now)
		m, x := Expectation(e.Config, w)
		switch {
		case x == nil && w.Alert == "":
			w.Next = time.Time{} // no longer expected: nothing to watch
		case x == nil:
			outcome, err = s.resolve(ctx, "the signal is no longer expected (the model file changed)")
		case w.Alert != "" && w.Seen.After(w.SilentSince):
			outcome, err = s.resolve(ctx, fmt.Sprintf("%s signal back (observed %s)", x.Kind, w.Seen.UTC().Format(time.RFC3339)))
			w.Next = w.Seen.Add(x.Every + x.Grace)
		case w.Alert != "":
			w.Next = time.Time{} // silent, alert open: the router wakes it
		case !w.SilentSince.IsZero() && !w.Seen.After(w.SilentSince):
			// Someone closed the silence alert while the signal is still
			// missing: it opens again only after the signal came back.
			w.Next = time.Time{}
		case now.Sub(w.Last()) >= x.Every+x.Grace:
			outcome, err = s.open(ctx, m, x)
		default:
			w.Next = w.Last().Add(x.Every + x.Grace)
		}
		if err != nil {
			return err
		}
		// The router seeing the signal meanwhile, or a run racing, is a
		// conflict: the watch is read and judged again.
		c = s.commit()
		return e.Store.Commit(ctx, c)
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", id, err)
	}
	if c == nil {
		return nil
	}
	switch outcome {
	case "opened":
		rep.SilenceOpened++
		e.log().WarnContext(ctx, "silence alert opened", "watch", id, "alert", w.Alert)
	case "resolved":
		rep.SilenceResolved++
	}
	for _, n := range c.Outbox {
		rep.Queued = append(rep.Queued, n.ID)
	}
	return nil
}

// silence builds the commit of one watch step. It opens and resolves the
// silence alert through the router's journal: the alert joins its group,
// and its owner hears of it, the way the router's alerts do.
type silence struct {
	e   *Escalator
	w   *state.Watch
	now time.Time
	j   pipeline.Journal
}

func newSilence(e *Escalator, w *state.Watch, now time.Time) *silence {
	s := &silence{e: e, w: w, now: now}
	s.j = pipeline.Journal{Model: w.Model, At: now, Now: now, Groups: e.Store, Audit: s.audit, Windows: e.Windows}
	return s
}

// commit is the step's write: the watch, with the alert, its group, its
// records and the notification of an opening or a resolution.
func (s *silence) commit() *state.Commit {
	c := s.j.Commit()
	c.Watches = []*state.Watch{s.w}
	return c
}

// open opens (or reopens) the silence alert in a group of its own.
func (s *silence) open(ctx context.Context, m *config.Model, x *config.Expectation) (string, error) {
	w, now := s.w, s.now
	rule := SilenceRule(x.Kind, x.Metric)
	id := m.ID + "/" + rule
	a, err := s.e.Store.GetAlert(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read alert %s: %w", id, err)
	}
	if a == nil {
		a = &state.Alert{ID: id, Model: m.ID, Rule: rule}
	}
	if a.Status != "" && a.Status != state.Resolved {
		// Still open from before (a lost watch update): just link it.
		w.Alert, w.SilentSince, w.Next = id, w.Last(), time.Time{}
		return "", nil
	}
	silent := now.Sub(w.Last())
	signal := x.Kind
	if x.Metric != "" {
		signal += " (" + x.Metric + ")"
	}
	summary := fmt.Sprintf("no %s signal for %s for %s", signal, m.ID, hours(silent))
	why := fmt.Sprintf("expected every %s (grace %s); last one observed %s", duration.Format(x.Every), duration.Format(x.Grace),
		w.Seen.UTC().Format(time.RFC3339))
	if w.Seen.IsZero() {
		why = fmt.Sprintf("expected every %s (grace %s); none since stakeout started watching at %s", duration.Format(x.Every),
			duration.Format(x.Grace), w.Since.UTC().Format(time.RFC3339))
	}
	pipeline.Route(s.e.Config, m, &config.Rule{Name: rule, Severity: x.Severity, Role: x.Role}, a, now)
	// The value is how long it has been silent, in hours.
	a.Kind, a.Metric, a.Value = x.Kind, "hours_silent", math.Round(silent.Hours()*10)/10
	a.Summary, a.Why, a.UpdatedAt = summary, why, now
	a.Baseline, a.Impact, a.Recent = nil, nil, nil

	g, kind, err := s.j.Place(ctx, a)
	if err != nil {
		return "", err
	}
	// The thread and the events say who opened the group, and why; the
	// opening's record, made once the alert has its group, names it.
	g.By, g.Note = lifecycle.Escalator.ID, summary
	s.j.Record(a, audit.Opened, summary+": "+why)
	s.j.Notice(g, a, kind)
	w.Alert, w.SilentSince, w.Next = id, w.Last(), time.Time{}
	return "opened", nil
}

// resolve resolves the watch's silence alert (if it is still open) and
// ends its group.
func (s *silence) resolve(ctx context.Context, why string) (string, error) {
	w, now := s.w, s.now
	id := w.Alert
	w.Alert = ""
	a, err := s.e.Store.GetAlert(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read alert %s: %w", id, err)
	}
	if a == nil || a.Status == state.Resolved {
		return "", nil // a person resolved it already
	}
	a.Status, a.ResolvedAt, a.UpdatedAt = state.Resolved, now, now
	s.j.Record(a, audit.Resolved, why)
	if err := s.j.Leave(ctx, a, lifecycle.Escalator.ID, why); err != nil {
		return "", err
	}
	return "resolved", nil
}

// audit is the escalator's record of an action on the silence alert.
func (s *silence) audit(a *state.Alert, action, detail string) audit.Record {
	return audit.Record{Alert: a.ID, At: s.now, Recorded: s.now, Action: action, Actor: lifecycle.Escalator.ID,
		Model: a.Model, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric, Severity: a.Severity, Role: a.Role,
		Owner: a.Owner, Notify: slices.Clone(a.Notify), Group: a.Group, Detail: detail, ConfigDigest: s.e.Config.Digest}
}

// hours says how long in the words of the "for 26h" people expect: hours
// (and minutes) up to three days, days and hours beyond.
func hours(d time.Duration) string {
	d = d.Round(time.Minute)
	if d >= 72*time.Hour {
		return duration.Format(d.Round(time.Hour))
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}
