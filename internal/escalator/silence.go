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
	"github.com/stakeout-ml/stakeout/internal/route"
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
		s       *silence
		outcome string
	)
	err := state.OnConflict(ctx, tries, func(int) error {
		s, outcome = nil, ""
		w, err := e.Store.GetWatch(ctx, id)
		if err != nil || w == nil {
			return err
		}
		now := e.now()
		s = &silence{e: e, w: w, now: now, c: &state.Commit{Watches: []*state.Watch{w}}}
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
		return e.Store.Commit(ctx, s.c)
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", id, err)
	}
	if s == nil {
		return nil
	}
	switch outcome {
	case "opened":
		rep.SilenceOpened++
		e.log().WarnContext(ctx, "silence alert opened", "watch", id, "alert", s.w.Alert)
	case "resolved":
		rep.SilenceResolved++
	}
	for _, n := range s.c.Outbox {
		rep.Queued = append(rep.Queued, n.ID)
	}
	return nil
}

// silence builds the commit of one watch step.
type silence struct {
	e   *Escalator
	w   *state.Watch
	now time.Time
	c   *state.Commit
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
	plan := route.Plan(s.e.Config, m, &config.Rule{Name: rule, Severity: x.Severity, Role: x.Role}, now)
	// The value is how long it has been silent, in hours.
	a.Kind, a.Metric, a.Status = x.Kind, "hours_silent", state.Open
	a.Severity, a.Role, a.Owner, a.Notify, a.AckWithin = plan.Severity, plan.Role, plan.Owner, plan.Notify, plan.AckWithin
	a.Stakes, a.Summary, a.Why, a.Value = m.Stakes, summary, why, math.Round(silent.Hours()*10)/10
	a.Baseline, a.Impact, a.Recent, a.Runbook = nil, nil, nil, ""
	a.OpenedAt, a.UpdatedAt, a.ResolvedAt, a.InhibitedBy = now, now, time.Time{}, ""
	a.Opens++

	g, err := s.e.Store.GetGroup(ctx, m.ID, rule)
	if err != nil {
		return "", fmt.Errorf("read group of %s: %w", id, err)
	}
	var version int64
	if g != nil {
		version = g.Version
	}
	ng := &state.Group{ID: fmt.Sprintf("%s/%s@%s.%d", m.ID, rule, now.UTC().Format("20060102T150405Z"), version+1),
		Model: m.ID, Rule: rule, Opened: now, Members: []string{id}, Open: 1, Version: version, New: true, Started: now,
		Lifecycle: lifecycle.Start(a, now)}
	ng.By, ng.Note = lifecycle.Escalator.ID, summary
	a.Group = ng.ID
	s.record(a, audit.Opened, summary+": "+why)
	n := lifecycle.Notice(ng, a, state.NoticeOpened, now)
	n.Channels = append(n.Channels, lifecycle.Events)
	s.record(a, audit.Queued, fmt.Sprintf("%s notification %s to %s via %s", n.Kind, n.ID, n.Owner, strings.Join(n.Channels, ", ")))
	n.Alert = *a.Clone()
	s.c.Groups, s.c.Outbox = []*state.Group{ng}, []*state.Notification{n}
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
	s.record(a, audit.Resolved, why)
	g, err := s.e.Store.GetGroup(ctx, a.Model, a.Rule)
	if err != nil {
		return "", fmt.Errorf("read group of %s: %w", id, err)
	}
	if g != nil && g.ID == a.Group && !g.Over() {
		g.Open = 0
		g.By, g.ByName, g.Note = lifecycle.Escalator.ID, "", why
		n := lifecycle.Notice(g, a, state.NoticeResolved, now)
		n.Channels = append(n.Channels, lifecycle.Events)
		s.record(a, audit.Queued, fmt.Sprintf("%s notification %s to %s via %s", n.Kind, n.ID, n.Owner, strings.Join(n.Channels, ", ")))
		n.Alert = *a.Clone()
		s.c.Groups, s.c.Outbox = []*state.Group{g}, []*state.Notification{n}
	}
	return "resolved", nil
}

func (s *silence) record(a *state.Alert, action, detail string) {
	r := audit.Record{Alert: a.ID, At: s.now, Recorded: s.now, Action: action, Actor: lifecycle.Escalator.ID,
		Model: a.Model, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric, Severity: a.Severity, Role: a.Role,
		Owner: a.Owner, Notify: slices.Clone(a.Notify), Group: a.Group, Detail: detail, ConfigDigest: s.e.Config.Digest}
	s.c.Record(a, r)
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
