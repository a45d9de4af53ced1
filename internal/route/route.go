// Package route decides where an alert goes: for a firing rule, the owner
// of its role, the channels and acknowledgement deadline that the model's
// stakes give its severity, and the escalation chain with the time of each
// step. It also runs the dry run behind `stakeout route`: events in, every
// rule's verdict and the routing of those that fire out, with the history of
// each series kept across the events of one run.
package route

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// Alert is a firing rule, routed.
type Alert struct {
	Rule       string   `json:"rule"`
	Severity   string   `json:"severity"`
	Role       string   `json:"role"`
	Owner      string   `json:"owner"`
	Notify     []string `json:"notify"`
	AckWithin  string   `json:"ack_within,omitempty"`
	Escalation []Step   `json:"escalation"`
	Impact     *float64 `json:"impact,omitempty"`
	// ImpactError says why the rule's impact could not be computed.
	ImpactError string `json:"impact_error,omitempty"`
	Summary     string `json:"summary"`
	Runbook     string `json:"runbook,omitempty"`
	Feature     string `json:"feature,omitempty"`
	Segment     string `json:"segment,omitempty"`
	Why         string `json:"why"`
}

// Step is one escalation step: who is told, and when if nobody acknowledged.
type Step struct {
	Owner string    `json:"owner"`
	After string    `json:"after"`
	At    time.Time `json:"at"`
}

// Plan routes one firing rule of model m, observed at `at`.
func Plan(cfg *config.Config, m *config.Model, r *config.Rule, at time.Time) Alert {
	a := Alert{Rule: r.Name, Severity: r.Severity, Role: r.Role, Owner: m.Owners[r.Role], Runbook: r.Runbook,
		Notify: []string{}, Escalation: []Step{}}
	pol, _ := cfg.Stakes.Cell(m.Stakes, r.Severity)
	a.Notify = append(a.Notify, pol.Notify...)
	if pol.AckWithin > 0 {
		a.AckWithin = duration.Format(pol.AckWithin)
		if o := cfg.Owners[a.Owner]; o != nil {
			for i, next := range o.Escalation {
				after := time.Duration(i+1) * pol.AckWithin
				a.Escalation = append(a.Escalation, Step{Owner: next, After: duration.Format(after), At: at.Add(after).UTC()})
			}
		}
	}
	return a
}

// OtherSeries is the Verdict status of a rule whose filters (kind ==
// "quality", feature == "age", ...) say it watches another series.
const OtherSeries = "other-series"

// Verdict is one rule's outcome for one event, in words.
type Verdict struct {
	Rule   string `json:"rule"`
	Status string `json:"status"`
	Why    string `json:"why"`
}

// Decision is the dry-run answer for one event.
type Decision struct {
	Model   string    `json:"model"`
	Series  string    `json:"series"`
	At      time.Time `json:"observed_at"`
	Alerts  []Alert   `json:"alerts"`
	Pending []Verdict `json:"pending"`
	// Rules is every rule's verdict, for the human output.
	Rules []Verdict `json:"-"`
	// Late is set when the reading is no newer than the series' latest: it
	// enters the history but opens and resolves nothing.
	Late bool `json:"late,omitempty"`
}

// DryRun routes events one after another, keeping each series' history so
// that `for:`, last(n) and slope(n) behave as in production.
type DryRun struct {
	// Check, when set, refuses a decoded event of a known model before it
	// is routed: the CLI sets the router's own checks, which this package
	// cannot import (the pipeline imports it).
	Check func(ev *signal.Event) error

	cfg    *config.Config
	eng    *engine.Engine
	states map[signal.SeriesKey]*series.State
	buf    []engine.Result
}

// NewDryRun returns a DryRun over cfg's models.
func NewDryRun(cfg *config.Config) *DryRun {
	return &DryRun{cfg: cfg, eng: engine.New(), states: map[signal.SeriesKey]*series.State{}}
}

// ModelsForAlarm returns the models whose match globs accept alarmName.
func ModelsForAlarm(cfg *config.Config, alarmName string) []string {
	// Broken models count: an alarm for one is "not loaded", not "matches
	// no model" (whose advice, to add a glob, would be wrong).
	var out []string
	for _, models := range []map[string]*config.Model{cfg.Models, cfg.Broken} {
		for id, m := range models {
			if m.MatchesAlarm(alarmName) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Route decodes one raw event (native detail, EventBridge envelope or
// CloudWatch alarm) and routes it.
func (d *DryRun) Route(raw []byte) (Decision, error) {
	in, err := signal.Parse(raw)
	if err != nil {
		return Decision{}, err
	}
	ev, err := in.Resolve(func(name string) []string { return ModelsForAlarm(d.cfg, name) })
	if err != nil {
		return Decision{}, err
	}
	return d.RouteEvent(&ev)
}

// RouteEvent routes a decoded event.
func (d *DryRun) RouteEvent(ev *signal.Event) (Decision, error) {
	m, err := Find(d.cfg, ev.Model)
	if err != nil {
		return Decision{}, err
	}
	if d.Check != nil {
		if err := d.Check(ev); err != nil {
			return Decision{}, err
		}
	}
	key := ev.Series()
	st := d.states[key]
	if st == nil {
		st = &series.State{}
		d.states[key] = st
	}
	d.buf = d.eng.Observe(m, ev, st, d.buf[:0])
	dec := Decision{Model: m.ID, Series: key.String(), At: ev.ObservedAt.UTC(), Alerts: []Alert{}, Pending: []Verdict{}}
	for i := range d.buf {
		res := &d.buf[i]
		dec.Late = res.Late
		r := res.Rule
		v := Verdict{Rule: r.Name, Status: res.Status.String()}
		if res.Verdict.Outcome == expression.OtherSeries {
			v.Status = OtherSeries
		} else if res.Late && res.Status != engine.Skipped && res.Status != engine.RuleError {
			v.Status = "late"
		}
		switch res.Status {
		case engine.Firing, engine.Pending, engine.Clear:
			v.Why = d.eng.Why(r, res.Status != engine.Clear)
			if res.Status == engine.Pending && !res.Late {
				v.Why += "; " + engine.Progress(r.For, res.Streak, ev.ObservedAt)
			}
		default:
			v.Why = res.Verdict.Reason()
		}
		dec.Rules = append(dec.Rules, v)
		switch {
		case res.Late:
			// Reported in Rules, but neither an alert nor pending.
		case res.Status == engine.Firing:
			a := Plan(d.cfg, m, r, ev.ObservedAt)
			a.Feature, a.Segment = ev.Feature, ev.Segment
			a.Summary = engine.Summary(m, r, ev, res)
			a.Why = v.Why
			a.ImpactError = res.ImpactErr
			if res.HasImpact {
				// Money per day: cents are precision enough, and spare
				// readers 1619999.9999999993.
				impact := math.Round(res.Impact*100) / 100
				a.Impact = &impact
			}
			dec.Alerts = append(dec.Alerts, a)
		case res.Status == engine.Pending:
			dec.Pending = append(dec.Pending, v)
		}
	}
	return dec, nil
}

// Find returns the model, or an error naming the known ones (and why a
// known-but-broken model is not served).
func Find(cfg *config.Config, id string) (*config.Model, error) {
	if m := cfg.Models[id]; m != nil {
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
