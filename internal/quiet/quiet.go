// Package quiet makes and ends maintenance windows from Slack
// (`/stakeout quiet <model> [rule] for 2h because …`): a one-off window,
// stored (state.Quiets) rather than configured, which the router consults
// with the configured ones when an alert is about to open. Each window has
// its own audit trail, on an alert of state.QuietModel as a fire drill's
// is on one of state.DrillModel: who made it, for what and until when,
// and who ended it (a person early, or the escalator at its end). A
// schedule named after the window ("quiet/<model>/<id>") is due at its
// end, or at once when a person ends it: the escalator then opens, and
// tells, the alerts it silenced that are still unresolved.
package quiet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// MaxFor is the longest window a person may make: as long as a configured
// window may be without `long: true`.
const MaxFor = config.MaxMaintenance

// MaxReason bounds a window's reason (it goes on every silenced alert's
// audit record).
const MaxReason = 500

// tries bounds the attempts at a write that keeps conflicting.
const tries = 8

// Store is what making and ending windows needs of a store.
type Store interface {
	GetQuiets(ctx context.Context, model string) (*state.Quiets, error)
	GetAlert(ctx context.Context, id string) (*state.Alert, error)
	GetSchedule(ctx context.Context, name string) (*state.Schedule, error)
	Commit(ctx context.Context, c *state.Commit) error
}

// Request is a window a person asks for.
type Request struct {
	Model string
	// Rule is the one rule to silence ("": every rule of the model).
	Rule    string
	For     time.Duration
	Reason  string
	By      lifecycle.Actor
	Channel string
	// Once names the request, so that a copy of it makes no second
	// window (its error then wraps state.ErrDuplicate).
	Once lifecycle.Once
}

// ErrFull: the model has state.MaxQuiets windows running.
var ErrFull = errors.New("too many quiet windows")

// ErrEnded: the window to end is over already (or never was).
var ErrEnded = errors.New("the quiet window has already ended")

// Check says what is wrong with a request, naming the model's rules.
func Check(cfg *config.Config, r Request) error {
	m := cfg.Models[r.Model]
	switch {
	case m == nil:
		return fmt.Errorf("no model %q%s", r.Model, expression.Suggest(r.Model, modelIDs(cfg)))
	case r.Rule != "" && !slices.ContainsFunc(m.Rules, func(x *config.Rule) bool { return x.Name == r.Rule }):
		return fmt.Errorf("model %s has no rule %q%s (its rules are %s)", r.Model, r.Rule, expression.Suggest(r.Rule, ruleNames(m)), strings.Join(ruleNames(m), ", "))
	case r.For <= 0:
		return fmt.Errorf("a quiet window needs a positive length, like `for 2h`")
	case r.For > MaxFor:
		return fmt.Errorf("a quiet window of %s is longer than 7 days: put a maintenance window in rules/%s.yaml instead (with long: true)", duration.Format(r.For), r.Model)
	case strings.TrimSpace(r.Reason) == "":
		return fmt.Errorf("a quiet window needs a reason: `because …`")
	case len(r.Reason) > MaxReason:
		return fmt.Errorf("the reason is %d characters, more than %d", len(r.Reason), MaxReason)
	}
	return nil
}

// Start makes the window r asks for, from now: stored with the model's
// other windows, audited, and its end scheduled.
func Start(ctx context.Context, st Store, cfg *config.Config, r Request, now time.Time) (*state.Quiet, error) {
	if err := Check(cfg, r); err != nil {
		return nil, err
	}
	var out *state.Quiet
	err := state.OnConflict(ctx, tries, func(int) error {
		qs, err := st.GetQuiets(ctx, r.Model)
		if err != nil {
			return fmt.Errorf("read the quiet windows of %s: %w", r.Model, err)
		}
		live := slices.DeleteFunc(slices.Clone(qs.Windows), func(w state.Quiet) bool { return !w.Until.After(now) })
		if len(live) >= state.MaxQuiets {
			return fmt.Errorf("%w: model %s has %d running, the most it may: end one first (/stakeout quiet list)", ErrFull, r.Model, len(live))
		}
		q := state.Quiet{Name: name(qs, r, now), Model: r.Model, Rule: r.Rule, Reason: strings.TrimSpace(r.Reason),
			From: now, Until: now.Add(r.For), By: r.By.ID, ByName: r.By.Name, Channel: r.Channel}
		qs.Windows = append(qs.Windows, q)
		a := &state.Alert{ID: q.AuditID(), Model: state.QuietModel, Rule: r.Model, Feature: r.Rule, Kind: "quiet", Status: state.Open,
			Owner: r.By.ID, Summary: q.Reason, SilencedUntil: q.Until, OpenedAt: now, UpdatedAt: now, Opens: 1}
		c := &state.Commit{Quiets: qs, Schedules: []*state.Schedule{{Name: q.Name, Next: q.Until}},
			EventID: r.Once.ID, EventExpires: r.Once.Expires}
		c.Record(a, record(cfg, a, audit.QuietStarted, r.By.ID, now, fmt.Sprintf("quiet window %s made by %s: %s for %s, until %s, because %s",
			q.Name, pipeline.QuietAuthor(&q), what(q), duration.Format(r.For), q.Until.UTC().Format(time.RFC3339), q.Reason)))
		if err := st.Commit(ctx, c); err != nil {
			return err
		}
		out = &q
		return nil
	})
	return out, err
}

// End ends window name of model at now, by a person: it silences nothing
// from now, and its end is due at once (the escalator then tells what it
// silenced and is still open). Its error wraps ErrEnded when it is over.
func End(ctx context.Context, st Store, cfg *config.Config, model, name string, by lifecycle.Actor, now time.Time) (*state.Quiet, error) {
	var out *state.Quiet
	err := state.OnConflict(ctx, tries, func(int) error {
		qs, err := st.GetQuiets(ctx, model)
		if err != nil {
			return fmt.Errorf("read the quiet windows of %s: %w", model, err)
		}
		w := qs.Find(name)
		if w == nil || !w.Until.After(now) {
			return fmt.Errorf("%w: %s", ErrEnded, name)
		}
		was := w.Until
		w.Until, w.EndedBy = now, by.ID
		c := &state.Commit{Quiets: qs}
		if err := ending(ctx, st, cfg, c, w, by, now, fmt.Sprintf("quiet window %s ended early by %s (it was to last until %s)",
			name, actorName(by), was.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		if err := moveSchedule(ctx, st, c, name, func(sc *state.Schedule) { sc.Next = now }); err != nil {
			return err
		}
		if err := st.Commit(ctx, c); err != nil {
			return err
		}
		q := *w
		out = &q
		return nil
	})
	return out, err
}

// Expire removes window name from the model's windows once it is over,
// recording its natural end (a window ended early was recorded then), and
// marks its schedule done. It returns the window (nil: none, or not over
// yet).
func Expire(ctx context.Context, st Store, cfg *config.Config, model, name string, now time.Time) (*state.Quiet, error) {
	var out *state.Quiet
	err := state.OnConflict(ctx, tries, func(int) error {
		out = nil
		qs, err := st.GetQuiets(ctx, model)
		if err != nil {
			return fmt.Errorf("read the quiet windows of %s: %w", model, err)
		}
		i := slices.IndexFunc(qs.Windows, func(w state.Quiet) bool { return w.Name == name })
		if i < 0 || qs.Windows[i].Until.After(now) {
			return nil
		}
		w := qs.Windows[i]
		qs.Windows = slices.Delete(qs.Windows, i, i+1)
		c := &state.Commit{Quiets: qs}
		if w.EndedBy == "" {
			if err := ending(ctx, st, cfg, c, &w, lifecycle.Escalator, now, fmt.Sprintf("quiet window %s ended at %s", name, w.Until.UTC().Format(time.RFC3339))); err != nil {
				return err
			}
		}
		if err := moveSchedule(ctx, st, c, name, func(sc *state.Schedule) { sc.Last, sc.Next = now, time.Time{} }); err != nil {
			return err
		}
		if err := st.Commit(ctx, c); err != nil {
			return err
		}
		out = &w
		return nil
	})
	return out, err
}

// ending adds to c the window's end: its trail's record, and its trail's
// alert resolved.
func ending(ctx context.Context, st Store, cfg *config.Config, c *state.Commit, w *state.Quiet, by lifecycle.Actor, now time.Time, detail string) error {
	a, err := st.GetAlert(ctx, w.AuditID())
	if err != nil {
		return fmt.Errorf("read alert %s: %w", w.AuditID(), err)
	}
	if a == nil {
		return fmt.Errorf("quiet window %s has no audit trail (alert %s is missing)", w.Name, w.AuditID())
	}
	a.Status, a.ResolvedAt, a.UpdatedAt, a.SilencedUntil = state.Resolved, now, now, w.Until
	c.Record(a, record(cfg, a, audit.QuietEnded, by.ID, now, detail))
	return nil
}

// moveSchedule adds to c the window's schedule, moved by move.
func moveSchedule(ctx context.Context, st Store, c *state.Commit, name string, move func(sc *state.Schedule)) error {
	sc, err := st.GetSchedule(ctx, name)
	if err != nil {
		return fmt.Errorf("read schedule %s: %w", name, err)
	}
	if sc == nil {
		sc = &state.Schedule{Name: name}
	}
	move(sc)
	c.Schedules = append(c.Schedules, sc)
	return nil
}

func record(cfg *config.Config, a *state.Alert, action, actor string, now time.Time, detail string) audit.Record {
	return audit.Record{Alert: a.ID, At: now, Recorded: now, Action: action, Actor: actor, Model: a.Model, Rule: a.Rule,
		Kind: a.Kind, Feature: a.Feature, Owner: a.Owner, Detail: detail, ConfigDigest: cfg.Digest}
}

// name is a new window's name: the model, the time and the rule, unique
// among the model's windows.
func name(qs *state.Quiets, r Request, now time.Time) string {
	base := state.QuietPrefix + r.Model + "/" + now.UTC().Format("20060102T150405")
	if r.Rule != "" {
		base += "-" + r.Rule
	}
	n := base
	for i := 2; qs.Find(n) != nil; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	return n
}

// what says what a window silences.
func what(q state.Quiet) string {
	if q.Rule == "" {
		return "every rule of " + q.Model
	}
	return "rule " + q.Rule + " of " + q.Model
}

// What says, for people, what a window silences.
func What(q *state.Quiet) string { return what(*q) }

func actorName(a lifecycle.Actor) string {
	if a.Name != "" && a.Name != a.ID {
		return a.Name + " (" + a.ID + ")"
	}
	return a.ID
}

func modelIDs(cfg *config.Config) []string {
	ids := make([]string, 0, len(cfg.Models))
	for id := range cfg.Models {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func ruleNames(m *config.Model) []string {
	var out []string
	for _, r := range m.Rules {
		if !r.IsErrorRule() {
			out = append(out, r.Name)
		}
	}
	return out
}
