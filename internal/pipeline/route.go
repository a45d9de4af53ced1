package pipeline

import (
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// Routing is where a firing rule's alert goes: the owner of its role, the
// channels and acknowledgement deadline that the model's stakes give its
// severity, and the escalation chain with the time of each step.
type Routing struct {
	Severity   string   `json:"severity"`
	Role       string   `json:"role"`
	Owner      string   `json:"owner"`
	Notify     []string `json:"notify"`
	AckWithin  string   `json:"ack_within,omitempty"`
	ReackAfter string   `json:"reack_after,omitempty"`
	Escalation []Step   `json:"escalation"`
	Runbook    string   `json:"runbook,omitempty"`
	// OutsideHours is the cell's outside_hours when the alert opens
	// outside its owner's working hours and that changes its routing;
	// HoldUntil, with hold, is when it is delivered (the start of the
	// owner's next working period), and its escalation counts from then.
	OutsideHours string    `json:"outside_hours,omitempty"`
	HoldUntil    time.Time `json:"hold_until,omitzero"`
}

// Step is one escalation step: who is told, and when if nobody acknowledged.
type Step struct {
	Owner string    `json:"owner"`
	After string    `json:"after"`
	At    time.Time `json:"at"`
}

// Plan routes one firing rule of model m, opening at `at`.
func Plan(cfg *config.Config, m *config.Model, r *config.Rule, at time.Time) Routing {
	p := Routing{Severity: r.Severity, Role: r.Role, Owner: m.Owners[r.Role], Runbook: r.Runbook,
		Notify: []string{}, Escalation: []Step{}}
	pol, _ := cfg.Stakes.Cell(m.Stakes, r.Severity)
	p.Notify = append(p.Notify, pol.Notify...)
	at = p.outsideHours(cfg.Owners[p.Owner], pol, at)
	if d := cfg.Stakes.ReackAfter(m.Stakes, r.Severity); d > 0 {
		p.ReackAfter = duration.Format(d)
	}
	if pol.AckWithin > 0 {
		p.AckWithin = duration.Format(pol.AckWithin)
		if o := cfg.Owners[p.Owner]; o != nil {
			for i, next := range o.Escalation {
				after := time.Duration(i+1) * pol.AckWithin
				p.Escalation = append(p.Escalation, Step{Owner: next, After: duration.Format(after), At: at.Add(after).UTC()})
			}
		}
	}
	return p
}

// outsideHours applies the cell's outside_hours when `at` is outside the
// owner's working hours, and returns when the alert's clock starts: at, or
// the end of its hold.
func (p *Routing) outsideHours(o *config.Owner, pol config.Policy, at time.Time) time.Time {
	notify, hold, outside := pol.OutsideHoursAt(o, at)
	if !outside {
		return at
	}
	p.Notify, p.OutsideHours = notify, pol.OutsideHours
	if hold.IsZero() {
		return at
	}
	p.HoldUntil = hold
	return hold
}

// ModelsFor returns the models whose match globs of kind accept name: the
// one matching every adapter maps its event to a model with.
func ModelsFor(cfg *config.Config, kind signal.MatchKind, name string) []string {
	// Broken models count: an event for one is "not loaded", not "matches
	// no model" (whose advice, to add a glob, would be wrong).
	var out []string
	for _, models := range []map[string]*config.Model{cfg.Models, cfg.Broken} {
		for id, m := range models {
			if m.Matches(kind, name) {
				out = append(out, id)
			}
		}
	}
	if len(out) == 0 && kind == signal.MatchModelPackage && (cfg.Models[name] != nil || cfg.Broken[name] != nil) {
		// A registry package group named as the model id is that
		// model's without a glob.
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Find returns the model, ready (its rules compiled: a router's compact
// configuration compiles a model's at its first event), or an error naming
// the known ones (and why a known-but-broken model is not served, or why
// its rules do not compile).
func Find(cfg *config.Config, id string) (*config.Model, error) {
	if m := cfg.Models[id]; m != nil {
		if err := m.Ready(); err != nil {
			return nil, err
		}
		return m, nil
	}
	if m := cfg.Broken[id]; m != nil {
		return nil, &UnknownModelError{ID: id, Broken: m.Broken}
	}
	known := make([]string, 0, len(cfg.Models))
	for k := range cfg.Models {
		known = append(known, k)
	}
	slices.Sort(known)
	return nil, &UnknownModelError{ID: id, Known: known}
}

// UnknownModelError is an event for a model with no (working) rules file.
type UnknownModelError struct {
	ID     string
	Known  []string
	Broken string
}

func (e *UnknownModelError) Error() string {
	if e.Broken != "" {
		return "model " + quote(e.ID) + " is not loaded: " + e.Broken
	}
	if e.ID == "" {
		return "event has no model"
	}
	msg := "unknown model " + quote(e.ID) + expression.Suggest(e.ID, e.Known) + " (no rules/" + e.ID + ".yaml"
	if len(e.Known) > 0 {
		msg += "; known models: " + strings.Join(e.Known, ", ")
	}
	return msg + ")"
}

func quote(s string) string { return `"` + s + `"` }
