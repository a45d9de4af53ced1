package config

import (
	"math"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Acknowledged is not resolved: a stakes cell's reack_after is how long an
// acknowledged group may stay open before the acknowledger is asked again
// (and the group escalates if nobody acknowledges within ack_within then).

// DefaultReackAfter is each tier's reack_after for the cells that do not
// set one and tell someone directly (Slack or PagerDuty, with ack_within):
// the higher the stakes, the sooner a forgotten acknowledgement comes
// back. Half a working day for critical models, a working day for high
// ones, a day for medium and three for low.
var DefaultReackAfter = map[string]time.Duration{
	"critical": 4 * time.Hour,
	"high":     8 * time.Hour,
	"medium":   24 * time.Hour,
	"low":      72 * time.Hour,
}

// ReackOff is Policy.ReackAfter of a cell that says `reack_after: off`.
const ReackOff time.Duration = -1

// ReackAfter is how long a group of this tier and severity may stay
// acknowledged and open before it is re-notified (0: never). A cell that
// does not say takes its tier's default when it tells someone directly.
func (s Stakes) ReackAfter(tier, severity string) time.Duration {
	p, ok := s.Cell(tier, severity)
	loud := p.Notifies("slack") || p.Notifies("pagerduty")
	switch {
	case !ok || p.ReackAfter == ReackOff || !loud || p.AckWithin <= 0:
		return 0
	case p.ReackAfter > 0:
		return p.ReackAfter
	}
	return DefaultReackAfter[tier]
}

// reackAfter decodes a cell's reack_after: a duration, or off.
func (d *doc) reackAfter(v *yaml.Node, what string, pol *Policy) {
	if n := resolve(v); n.Kind == yaml.ScalarNode && n.Value == "off" {
		pol.ReackAfter = ReackOff
		return
	}
	dur, ok := d.duration(v, what)
	switch {
	case !ok:
	case dur <= 0:
		d.errorf(v, "%s must be a positive duration like 4h, or off", what)
	default:
		pol.ReackAfter = dur
	}
}

// Growth is a rule's escalate_when: when its open group has grown this
// much, the group is re-notified one severity higher and its escalation
// restarts. Members: the group reaches that many alerts (once). Factor:
// the group reaches Factor times its size when it was last told at its
// level (when it opened or was last raised); again at each further factor.
type Growth struct {
	Members int
	Factor  float64
}

// MaxGrowthMembers bounds escalate_when.members: far above any group that
// still means one problem (a model's features, a few thousand).
const MaxGrowthMembers = 100000

func (d *doc) growth(v *yaml.Node) *Growth {
	g := &Growth{}
	before := d.errors
	d.mapping(v, "escalate_when",
		field{name: "members", decode: func(_, v *yaml.Node) {
			n, ok := d.number(v, "escalate_when.members")
			if ok && (n != math.Trunc(n) || n < 2 || n > MaxGrowthMembers) {
				d.errorf(v, "escalate_when.members must be a whole number of alerts from 2 to %d (a group starts with 1)", MaxGrowthMembers)
				return
			}
			g.Members = int(n)
		}},
		field{name: "factor", decode: func(_, v *yaml.Node) {
			f, ok := d.number(v, "escalate_when.factor")
			if ok && (f <= 1 || f > 1000) {
				d.errorf(v, "escalate_when.factor must be more than 1 (the group grew to factor times its size) and at most 1000")
				return
			}
			g.Factor = f
		}},
	)
	if g.Members == 0 && g.Factor == 0 {
		if d.errors == before {
			d.errorf(v, "escalate_when needs members (a size) or factor (a growth): {members: 10} or {factor: 3}")
		}
		return nil
	}
	return g
}

// Higher is the severity above sev ("" at the top or for an unknown one).
func Higher(sev string) string {
	i := slices.Index(Severities, sev)
	if i < 0 || i == len(Severities)-1 {
		return ""
	}
	return Severities[i+1]
}

// SeverityAbove reports whether severity a is above b (an unknown one is
// above nothing and below nothing).
func SeverityAbove(a, b string) bool {
	i, j := slices.Index(Severities, a), slices.Index(Severities, b)
	return i >= 0 && j >= 0 && i > j
}
