package pipeline

import (
	"fmt"

	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/expression"
)

// OtherSeries is the Verdict status of a rule whose filters (kind ==
// "quality", feature == "age", ...) say it watches another series.
const OtherSeries = "other-series"

// Verdict is what one rule made of one event, in words: the router's own
// decision (Processor.Explain), so that `stakeout route` shows exactly
// what replay and the router do with the event.
type Verdict struct {
	Rule string `json:"rule"`
	// Status is firing, pending, clear, skipped or error; other-series
	// for a rule that watches another series; late for a late reading's.
	Status string `json:"status"`
	Why    string `json:"why"`
	// Alert is the alert of this series the rule fires, keeps or resolves
	// ("" when there is none).
	Alert string `json:"alert,omitempty"`
	// Summary and impact of a firing rule.
	Summary     string   `json:"summary,omitempty"`
	Impact      *float64 `json:"impact,omitempty"`
	ImpactUnit  string   `json:"impact_unit,omitempty"`
	ImpactError string   `json:"impact_error,omitempty"`
}

// explain puts the results of the decision in words, once it is decided:
// for: progress of a pending rule, clean readings counted toward a
// resolution, the clauses that hold or fail.
func (d *decision) explain() []Verdict {
	out := make([]Verdict, 0, len(d.results))
	for i := range d.results {
		res := &d.results[i]
		r := res.Rule
		v := Verdict{Rule: r.Name, Status: res.Status.String()}
		switch {
		case res.Verdict.Outcome == expression.OtherSeries:
			v.Status = OtherSeries
		case res.Late && res.Status != engine.Skipped && res.Status != engine.RuleError:
			v.Status = "late"
		}
		ref, has := d.series.Alerts[r.Name]
		switch res.Status {
		case engine.Firing, engine.Pending, engine.Clear:
			v.Why = d.eng.Why(r, res.Status != engine.Clear)
		default:
			v.Why = res.Verdict.Reason()
		}
		switch {
		case res.Late:
		case res.Status == engine.Pending:
			v.Why += "; " + engine.Progress(r.For, res.Streak, d.ev.ObservedAt)
		case res.Status == engine.Firing:
			v.Alert = AlertID(d.m.ID, r.Name, d.ev.Feature, d.ev.Segment)
			if has {
				v.Alert = ref.ID
			}
			v.Summary, v.ImpactError = engine.Summary(d.m, r, d.ev, res), res.ImpactErr
			if res.HasImpact {
				impact := expression.RoundImpact(res.Impact)
				v.Impact, v.ImpactUnit = &impact, expression.ImpactUnit
			}
		case res.Status == engine.Clear && has:
			// Still open: resolve_after clean readings resolve it.
			v.Alert = ref.ID
			v.Why += fmt.Sprintf("; %d of %d clean readings to resolve it", ref.Clean, r.ResolveAfter)
		}
		out = append(out, v)
	}
	return out
}
