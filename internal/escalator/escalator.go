// Package escalator is the timed half of stakeout, run every minute by
// EventBridge Scheduler (and between events by `stakeout replay`): it
// escalates alert groups nobody acknowledged within ack_within, ends
// snoozes, opens an alert when a model's expected signals stop arriving
// (and resolves it when they return), and queues each owner's daily digest
// at the owner's hour.
//
// A run reads only what is due — the store's due index, never a scan —
// and every step is one conditional write (the group's, the watch's or the
// schedule's version) together with its audit records and notification.
// Two runs that overlap, or a run that crashes halfway and is retried,
// therefore take each step once: the loser's write fails, it re-reads,
// and finds nothing left to do.
package escalator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is what the escalator needs of a store.
type Store interface {
	lifecycle.Store
	Due(ctx context.Context, now time.Time, limit int) ([]state.DueItem, error)
	GetWatch(ctx context.Context, id string) (*state.Watch, error)
	EnsureWatch(ctx context.Context, w *state.Watch) (bool, error)
	GetSchedule(ctx context.Context, name string) (*state.Schedule, error)
	EnsureSchedule(ctx context.Context, s *state.Schedule) (bool, error)
	// GetQuiets and ModelRecords: a window made from Slack ends (quiet).
	GetQuiets(ctx context.Context, model string) (*state.Quiets, error)
	ModelRecords(ctx context.Context, model string, since, until time.Time) ([]audit.Record, error)
}

// Escalator runs the timed steps.
type Escalator struct {
	Config *config.Config
	Store  Store
	// Now is the clock (replay passes the events' clock).
	Now func() time.Time
	Log *slog.Logger
	// Limit bounds the due items one run reads (default 200): the rest
	// are next minute's.
	Limit int
	// Signals, when not nil, limits silence watching to these
	// "<model>/<kind>" pairs (replay: those its stream carries — a kind a
	// sample never had cannot be judged silent). Nil watches every
	// expectation of every model.
	Signals []string
	// Windows are the update windows of the groups its silence alerts
	// open (zero: the default, state.UpdateWindow), as the router's.
	Windows state.Windows

	mu sync.Mutex
	// ensured is the configuration digest whose watches and schedules
	// exist: checked once per container and configuration, not per run.
	ensured string
}

// Report says what a run did.
type Report struct {
	Escalated    int
	SnoozesEnded int
	// Reacked counts acknowledged groups still open after reack_after,
	// unacknowledged and their acknowledger asked again.
	Reacked         int
	SilenceOpened   int
	SilenceResolved int
	Digests         int
	// DrillsUnanswered counts fire drills nobody acknowledged in time:
	// recorded as such, never escalated (internal/lifecycle).
	DrillsUnanswered int
	// QuietsEnded counts windows made from Slack that ended (at their
	// time, or early by a person) and left the store.
	QuietsEnded int
	// WindowsEnded counts alerts opened at the end of the maintenance
	// window (or alarm mute) that silenced them.
	WindowsEnded int
	// Deferred counts groups due while a maintenance window silences
	// their rule, or a CloudWatch mute holds back every open alert of
	// theirs: their timeout or reack (under a window, also their snooze's
	// end) moved to the window's (mute's) end.
	Deferred int
	// Queued are the notifications queued, to deliver now.
	Queued []string
}

const (
	defaultLimit = 200
	tries        = 8
	// DigestPrefix names the digest schedules: "digest/<owner>".
	DigestPrefix = "digest/"
)

func (e *Escalator) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Escalator) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Escalator) manager() *lifecycle.Manager {
	return &lifecycle.Manager{Config: e.Config, Store: e.Store, Now: e.Now, Log: e.Log}
}

// Tick runs every step due now. The error is for store failures; a step
// that failed is due again next run.
func (e *Escalator) Tick(ctx context.Context) (Report, error) {
	var rep Report
	now := e.now()
	if err := e.ensure(ctx, now); err != nil {
		return rep, err
	}
	items, err := e.Store.Due(ctx, now, cmp.Or(e.Limit, defaultLimit))
	if err != nil {
		return rep, fmt.Errorf("read what is due: %w", err)
	}
	var errs []error
	for _, it := range items {
		var err error
		switch it.Kind {
		case state.DueGroup:
			err = e.group(ctx, it.Key, &rep)
		case state.DueWatch:
			err = e.watch(ctx, it.Key, &rep)
		case state.DueSchedule:
			err = e.schedule(ctx, it.Key, &rep)
		}
		if err != nil {
			// One broken item must not hold the others back.
			e.log().ErrorContext(ctx, "escalator step failed", "kind", it.Kind, "key", it.Key, "error", err)
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// ensure creates the watches of every model's expectations and the digest
// schedule of every owner that do not exist yet.
func (e *Escalator) ensure(ctx context.Context, now time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := fmt.Sprintf("%s/%d", e.Config.Digest, len(e.Signals))
	if e.ensured == key {
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(e.Config.Models)) {
		m := e.Config.Models[id]
		for _, x := range m.Expect {
			if e.Signals != nil && !slices.Contains(e.Signals, m.ID+"/"+x.Kind) {
				continue
			}
			w := &state.Watch{Model: m.ID, Kind: x.Kind, Metric: x.Metric, Since: now, Next: now.Add(x.Every + x.Grace)}
			created, err := e.Store.EnsureWatch(ctx, w)
			if err != nil {
				return fmt.Errorf("create watch %s: %w", w.ID(), err)
			}
			if created {
				e.log().InfoContext(ctx, "watching for silence", "watch", w.ID(), "every", x.Every.String(), "grace", x.Grace.String())
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(e.Config.Owners)) {
		sc := &state.Schedule{Name: DigestPrefix + id, Next: e.Config.Owners[id].NextDigest(now)}
		if _, err := e.Store.EnsureSchedule(ctx, sc); err != nil {
			return fmt.Errorf("create schedule %s: %w", sc.Name, err)
		}
	}
	e.ensured = key
	return nil
}

// Ensure creates, now, the watches and schedules that do not exist yet
// (Tick does it too; replay calls it when a model first appears).
func (e *Escalator) Ensure(ctx context.Context) error { return e.ensure(ctx, e.now()) }

// group escalates a group nobody acknowledged in time, ends its snooze,
// or asks again about one acknowledged reack_after ago and still open.
func (e *Escalator) group(ctx context.Context, key string, rep *Report) error {
	model, rule, ok := strings.Cut(key, "/")
	if !ok {
		return fmt.Errorf("due group %q is not model/rule", key)
	}
	g, err := e.Store.GetGroup(ctx, model, rule)
	if err != nil || g == nil {
		return err
	}
	now := e.now()
	action := ""
	switch due := g.Due(); {
	case due.IsZero() || due.After(now):
		return nil // the index lagged behind a change
	case !g.SnoozedUntil.IsZero():
		action = lifecycle.EndSnooze
	case g.Acked():
		action = lifecycle.Reack
	default:
		action = lifecycle.Timeout
	}
	c := lifecycle.Change{Action: action, Group: g.ID, By: lifecycle.Escalator}
	by, until, err := e.silencing(ctx, g, now)
	if err != nil {
		return err
	}
	if by != "" {
		// Silence applies to what is open too: nobody is asked, paged or
		// told of a snooze's end about the rule while its window lasts.
		c.Action, c.Until, c.Reason = lifecycle.Defer, until, pipeline.WindowName(by)
	} else if action != lifecycle.EndSnooze {
		by, until, err := e.mutedGroup(ctx, g, now)
		if err != nil {
			return err
		}
		if by != "" {
			c.Action, c.Until, c.Reason = lifecycle.Defer, until, "CloudWatch alarm mute rule "+by
		}
	}
	res, err := e.manager().Apply(ctx, c)
	if err != nil || !res.Done {
		return err
	}
	switch {
	case c.Action == lifecycle.Defer:
		rep.Deferred++
		return nil
	case action == lifecycle.EndSnooze:
		rep.SnoozesEnded++
	case action == lifecycle.Reack:
		rep.Reacked++
		e.log().InfoContext(ctx, "asked again", "group", g.ID, "acknowledged_by", res.Group.Reacked)
	case state.IsDrill(g.Model):
		rep.DrillsUnanswered++
		e.log().WarnContext(ctx, "drill unanswered", "group", g.ID, "owner", g.Owner)
	default:
		rep.Escalated++
		e.log().InfoContext(ctx, "escalated", "group", g.ID, "to", res.Group.Owner, "step", res.Group.Step)
	}
	rep.Queued = append(rep.Queued, res.Queued...)
	return nil
}

// schedule queues an owner's digest when its time has come, and moves the
// schedule to the next day's: one write, so it happens once.
func (e *Escalator) schedule(ctx context.Context, name string, rep *Report) error {
	if strings.HasPrefix(name, state.WindowPrefix) {
		return e.window(ctx, name, rep, false)
	}
	if state.IsQuiet(name) {
		return e.quiet(ctx, name, rep)
	}
	var c *state.Commit
	err := state.OnConflict(ctx, tries, func(int) error {
		c = nil
		sc, err := e.Store.GetSchedule(ctx, name)
		if err != nil || sc == nil {
			return err
		}
		now := e.now()
		if sc.Next.IsZero() || sc.Next.After(now) {
			return nil
		}
		c = &state.Commit{Schedules: []*state.Schedule{sc}}
		owner := strings.TrimPrefix(name, DigestPrefix)
		o := e.Config.Owners[owner]
		if o == nil || !strings.HasPrefix(name, DigestPrefix) {
			sc.Next = time.Time{} // the owner is gone: no more digests
		} else {
			since := sc.Last
			if since.IsZero() {
				since = sc.Next.Add(-24 * time.Hour)
			}
			// The id names the scheduled instant: a digest_at or time
			// zone change may bring two digests on one local date.
			n := &state.Notification{ID: fmt.Sprintf("%s%s/%s", DigestPrefix, owner, sc.Next.UTC().Format("20060102T150405Z")),
				Kind: state.NoticeDigest, Group: name, Owner: owner, Channels: []string{"slack"},
				Created: sc.Next, Since: since}
			c.Outbox = []*state.Notification{n}
			sc.Last, sc.Next = sc.Next, o.NextDigest(now)
		}
		// Another run may have taken this step meanwhile: a conflict
		// re-reads the schedule and finds it not due.
		return e.Store.Commit(ctx, c)
	})
	if err != nil {
		return fmt.Errorf("schedule %s: %w", name, err)
	}
	if c == nil {
		return nil
	}
	for _, n := range c.Outbox {
		rep.Digests++
		rep.Queued = append(rep.Queued, n.ID)
	}
	return nil
}
