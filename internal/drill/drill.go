// Package drill runs fire drills: a test alert, marked as one on every
// channel, sent to an owner through the channels a real alert of theirs
// would take (Slack, PagerDuty), which someone must acknowledge within the
// window their stakes give. It is an alert group like any other — of the
// model state.DrillModel, its rule the owner — so that it is acknowledged
// through the same Slack buttons and PagerDuty webhooks, and its outcome
// lands on the audit trail: acknowledged (by whom, how fast), or
// unanswered (internal/lifecycle ends it instead of escalating).
package drill

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Mark is how every channel says that a drill is one.
const Mark = notify.DrillMark

// DefaultAckWithin is a drill's window when its stakes cell gives none.
const DefaultAckWithin = 30 * time.Minute

// Plan is how an owner is drilled: the loudest way a real alert reaches
// them.
type Plan struct {
	Owner string
	// Tier is the highest stakes tier of the models whose alerts reach
	// the owner (as a role's owner, or along an escalation chain), and
	// Severity the highest of its severities told in Slack or by a page.
	Tier, Severity string
	// Notify are the channels of that cell the owner has (slack,
	// pagerduty); Missing those of the cell the owner has no address for.
	Notify, Missing []string
	AckWithin       time.Duration
}

// PlanFor plans a drill of owner id.
func PlanFor(cfg *config.Config, id string) (Plan, error) {
	o := cfg.Owners[id]
	if o == nil {
		return Plan{}, fmt.Errorf("no owner %q (owners: %s)", id, strings.Join(slices.Sorted(maps.Keys(cfg.Owners)), ", "))
	}
	p := Plan{Owner: id}
	for _, m := range cfg.Models {
		if reaches(cfg, m, id) && slices.Index(config.Tiers, m.Stakes) > slices.Index(config.Tiers, p.Tier) {
			p.Tier = m.Stakes
		}
	}
	if p.Tier == "" {
		return Plan{}, fmt.Errorf("no model's alerts reach owner %q (it owns no role and is on no escalation chain): there is no path to drill", id)
	}
	for _, sev := range slices.Backward(config.Severities) {
		pol, ok := cfg.Stakes.Cell(p.Tier, sev)
		if !ok || !(slices.Contains(pol.Notify, "slack") || slices.Contains(pol.Notify, "pagerduty")) {
			continue
		}
		p.Severity, p.AckWithin = sev, pol.AckWithin
		for _, ch := range pol.Notify {
			switch {
			case ch == "slack" && o.Slack.Channel != "", ch == "pagerduty" && o.PagerDuty.RoutingKey != "":
				p.Notify = append(p.Notify, ch)
			case ch == "slack" || ch == "pagerduty":
				p.Missing = append(p.Missing, ch)
			}
		}
		break
	}
	if len(p.Notify) == 0 {
		return Plan{}, fmt.Errorf("owner %q has no channel its %s-stakes alerts go to (%s): set slack.channel or pagerduty.routing_key in %s",
			id, p.Tier, strings.Join(p.Missing, ", "), o.File)
	}
	if p.AckWithin <= 0 {
		p.AckWithin = DefaultAckWithin
	}
	return p, nil
}

// reaches reports whether model m's alerts can reach owner id: it owns
// one of m's roles, or is on the escalation chain of one who does.
func reaches(cfg *config.Config, m *config.Model, id string) bool {
	for _, owner := range m.Owners {
		if owner == id {
			return true
		}
		if o := cfg.Owners[owner]; o != nil && slices.Contains(o.Escalation, id) {
			return true
		}
	}
	return false
}

// Store is what starting a drill needs of a store.
type Store interface {
	GetGroup(ctx context.Context, model, rule string) (*state.Group, error)
	GetAlert(ctx context.Context, id string) (*state.Alert, error)
	Commit(ctx context.Context, c *state.Commit) error
}

// Started is a drill under way.
type Started struct {
	Plan  Plan
	Alert string
	Group string
	// Deadline is when the drill is unanswered if nobody acknowledged.
	Deadline time.Time
	// Queued are the notifications to deliver now.
	Queued []string
}

// ErrRunning is a drill of the owner still waiting for its answer.
var ErrRunning = errors.New("a drill of this owner is under way")

// AlertID is the drill alert of an owner.
func AlertID(owner string) string { return state.DrillModel + "/" + owner }

// Start opens a drill of the plan's owner at now, by actor (who asked),
// once for the request once (empty ID: no request to remember). Its
// error wraps ErrRunning while an earlier drill of the owner is open, and
// state.ErrDuplicate for a request made before.
func Start(ctx context.Context, st Store, cfg *config.Config, p Plan, by lifecycle.Actor, once lifecycle.Once, now time.Time) (*Started, error) {
	var out *Started
	err := state.OnConflict(ctx, 8, func(int) error {
		c, s, err := open(ctx, st, cfg, p, by, now)
		if err != nil {
			return err
		}
		c.EventID, c.EventExpires = once.ID, once.Expires
		if err := st.Commit(ctx, c); err != nil {
			return err
		}
		out = s
		return nil
	})
	return out, err
}

// open builds the commit of a drill's opening: its alert, group, records
// and notification.
func open(ctx context.Context, st Store, cfg *config.Config, p Plan, by lifecycle.Actor, now time.Time) (*state.Commit, *Started, error) {
	id := AlertID(p.Owner)
	a, err := st.GetAlert(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("read alert %s: %w", id, err)
	}
	if a != nil && a.Status != state.Resolved {
		return nil, nil, fmt.Errorf("%w: %s, started %s, waits for an acknowledgement", ErrRunning, a.Group, a.OpenedAt.UTC().Format(time.RFC3339))
	}
	if a == nil {
		a = &state.Alert{ID: id, Model: state.DrillModel, Rule: p.Owner}
	}
	name := p.Owner
	if o := cfg.Owners[p.Owner]; o.Name != "" {
		name = o.Name
	}
	a.OpenedAt, a.ResolvedAt, a.UpdatedAt, a.Status = now, time.Time{}, now, state.Open
	a.Opens++
	a.Kind, a.Metric, a.Value = "drill", "drill", 0
	a.Severity, a.Role, a.Owner, a.Stakes = p.Severity, "drill", p.Owner, p.Tier
	a.Notify, a.AckWithin = slices.Clone(p.Notify), duration.Format(p.AckWithin)
	// The channels put Mark before it (notify.View.Drill).
	a.Summary = fmt.Sprintf("A fire drill for %s: acknowledge it within %s to pass.", name, a.AckWithin)
	a.Why = fmt.Sprintf("started by %s to test that an alert of %s stakes (%s) reaches %s through %s", actor(by), p.Tier, p.Severity,
		p.Owner, strings.Join(p.Notify, " and "))
	j := pipeline.Journal{Model: state.DrillModel, At: now, Now: now, Groups: st,
		Audit: func(a *state.Alert, action, detail string) audit.Record {
			return audit.Record{Alert: a.ID, At: now, Recorded: now, Action: action, Actor: by.ID, Model: a.Model, Rule: a.Rule,
				Kind: a.Kind, Severity: a.Severity, Role: a.Role, Owner: a.Owner, Notify: slices.Clone(a.Notify), Group: a.Group,
				Detail: detail, ConfigDigest: cfg.Digest}
		}}
	g, kind, err := j.Place(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	g.By, g.ByName, g.Note = by.ID, by.Name, "fire drill started by "+actor(by)
	j.Record(a, audit.Opened, fmt.Sprintf("fire drill of %s started by %s: %s-stakes %s alert via %s, ack within %s", p.Owner, actor(by),
		p.Tier, p.Severity, strings.Join(p.Notify, ", "), a.AckWithin))
	// Not the journal's Notice: a drill is no lifecycle event for the
	// tools subscribed to real alerts.
	n := lifecycle.Notice(g, a, kind, now)
	j.Record(a, audit.Queued, fmt.Sprintf("%s notification %s to %s via %s", kind, n.ID, n.Owner, strings.Join(n.Channels, ", ")))
	n.Alert = *a.Clone()
	c := j.Commit()
	c.Outbox = append(c.Outbox, n)
	return c, &Started{Plan: p, Alert: id, Group: g.ID, Deadline: g.EscalateAt, Queued: []string{n.ID}}, nil
}

func actor(a lifecycle.Actor) string {
	if a.Name != "" && a.Name != a.ID {
		return a.Name + " (" + a.ID + ")"
	}
	return a.ID
}
