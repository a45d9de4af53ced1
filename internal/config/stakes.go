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

// policy decodes one cell. A cell with problems is still returned with what
// decoded (e.g. the valid channels), so that the rules using it are not
// reported a second time as needing a missing cell.
func (d *doc) policy(v *yaml.Node, what string) (Policy, bool) {
	var pol Policy
	var notifyNode *yaml.Node
	var ackNode *yaml.Node
	var outsideNode *yaml.Node
	d.mapping(v, what,
		field{name: "notify", required: true, decode: func(_, v *yaml.Node) {
			notifyNode = v
			d.seq(v, what+".notify", func(item *yaml.Node) {
				if ch, ok := d.enum(item, "notify channel", Channels); ok {
					pol.Notify = append(pol.Notify, ch)
				}
			})
			if len(resolve(v).Content) == 0 {
				d.errorf(v, "%s.notify is empty: an alert would reach nobody (use [digest] for the quietest option)", what)
			}
		}},
		field{name: "ack_within", decode: func(_, v *yaml.Node) {
			ackNode = v
			pol.AckWithin, _ = d.duration(v, what+".ack_within")
		}},
		field{name: "outside_hours", decode: func(_, v *yaml.Node) { outsideNode = v }},
		field{name: "reack_after", decode: func(_, v *yaml.Node) { d.reackAfter(v, what+".reack_after", &pol) }},
	)
	if outsideNode != nil {
		d.outsideHours(outsideNode, what, &pol)
	}
	// Escalation is what makes an alert someone's job: a Slack message or a
	// page without a deadline is one nobody has to answer.
	loud := pol.Notifies("slack") || pol.Notifies("pagerduty")
	switch {
	case loud && ackNode == nil && notifyNode != nil:
		d.errorf(v, "%s: missing ack_within: an alert sent to slack or pagerduty needs a deadline after which it escalates", what)
	case !loud && ackNode != nil && len(pol.Notify) > 0:
		d.errorf(ackNode, "%s: ack_within has no effect on a digest-only cell: digests are not acknowledged or escalated", what)
	case pol.ReackAfter > 0 && pol.AckWithin <= 0 && notifyNode != nil:
		d.errorf(v, "%s: reack_after needs ack_within: nothing is acknowledged in a cell without it", what)
	}
	return pol, notifyNode != nil
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
