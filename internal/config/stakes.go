package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/duration"
)

// DefaultStakes is the stakes table used when rules/stakes.yaml does not
// exist. Pages are reserved for high and critical stakes; low stakes never
// page and send minor findings to the daily digest.
func DefaultStakes() Stakes {
	p := func(ack string, notify ...string) Policy {
		pol := Policy{Notify: notify}
		if ack != "" {
			pol.AckWithin, _ = duration.Parse(ack)
		}
		return pol
	}
	return Stakes{
		"critical": {"critical": p("15m", "slack", "pagerduty"), "high": p("30m", "slack", "pagerduty"), "warning": p("4h", "slack"), "info": p("", "digest")},
		"high":     {"critical": p("30m", "slack", "pagerduty"), "high": p("1h", "slack"), "warning": p("8h", "slack"), "info": p("", "digest")},
		"medium":   {"critical": p("2h", "slack"), "high": p("8h", "slack"), "warning": p("", "digest"), "info": p("", "digest")},
		"low":      {"critical": p("24h", "slack"), "high": p("24h", "slack"), "warning": p("", "digest"), "info": p("", "digest")},
	}
}

func (l *loader) loadStakes(name string) {
	d := l.read(name)
	defer l.report(d)
	l.cfg.Stakes = Stakes{}
	root := d.parse()
	if root == nil {
		return
	}
	tierFields := make([]field, len(Tiers))
	for i, tier := range Tiers {
		tierFields[i] = field{name: tier, decode: func(_, v *yaml.Node) {
			cells := map[string]Policy{}
			sevFields := make([]field, len(Severities))
			for j, sev := range Severities {
				sevFields[j] = field{name: sev, decode: func(_, v *yaml.Node) {
					if pol, ok := d.policy(v, tier+"."+sev); ok {
						cells[sev] = pol
					}
				}}
			}
			d.mapping(v, "stakes tier "+tier, sevFields...)
			l.cfg.Stakes[tier] = cells
		}}
	}
	d.mapping(root, "stakes", tierFields...)
}

func (d *doc) policy(v *yaml.Node, what string) (Policy, bool) {
	var pol Policy
	ok := true
	var notifyNode *yaml.Node
	d.mapping(v, what,
		field{name: "notify", required: true, decode: func(_, v *yaml.Node) {
			notifyNode = v
			d.seq(v, what+".notify", func(item *yaml.Node) {
				if ch, good := d.enum(item, "notify channel", Channels); good {
					pol.Notify = append(pol.Notify, ch)
				} else {
					ok = false
				}
			})
		}},
		field{name: "ack_within", decode: func(_, v *yaml.Node) {
			pol.AckWithin, ok = d.duration(v, what+".ack_within")
		}},
	)
	if notifyNode != nil && len(pol.Notify) == 0 && ok {
		d.errorf(notifyNode, "%s.notify is empty: an alert would reach nobody (use [digest] for the quietest option)", what)
		ok = false
	}
	return pol, ok && notifyNode != nil
}

func (d *doc) duration(v *yaml.Node, what string) (dur time.Duration, ok bool) {
	s, good := d.str(v, what)
	if !good {
		return 0, false
	}
	dur, err := duration.Parse(s)
	if err != nil {
		d.errorf(v, "%s: %v", what, err)
		return 0, false
	}
	return dur, true
}
