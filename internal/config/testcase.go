package config

import (
	"encoding/json"
	"errors"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// TestCase is one entry of a model's `tests:`: events in order, and the
// alerts expected to be open after the last one.
type TestCase struct {
	Name   string
	Line   int
	Events []signal.Event
	Expect []ExpectedAlert
}

// ExpectedAlert is one alert a test expects open. Role, Notify, Feature and
// Segment are compared only when the test gives them.
type ExpectedAlert struct {
	Rule     string   `json:"rule"`
	Severity string   `json:"severity,omitempty"`
	Owner    string   `json:"owner,omitempty"`
	Role     string   `json:"role,omitempty"`
	Notify   []string `json:"notify,omitempty"`
	Feature  string   `json:"feature,omitempty"`
	Segment  string   `json:"segment,omitempty"`
	// SilencedBy: the alert is silenced by this maintenance window (open
	// alerts a window silences are compared always, so a test that
	// expects an alert told fails when a window silences it).
	SilencedBy string `json:"silenced_by,omitempty"`
}

func (l *loader) decodeTest(d *doc, item *yaml.Node, m *Model) {
	tc := &TestCase{Line: item.Line}
	var expectNode *yaml.Node
	d.mapping(item, "test",
		field{name: "name", required: true, decode: func(_, v *yaml.Node) { tc.Name, _ = d.str(v, "name") }},
		field{name: "events", required: true, decode: func(_, v *yaml.Node) {
			d.seq(v, "events", func(ev *yaml.Node) {
				if e, ok := d.testEvent(ev, m.ID); ok {
					tc.Events = append(tc.Events, e)
				}
			})
		}},
		field{name: "expect", required: true, decode: func(_, v *yaml.Node) { expectNode = v }},
	)
	if expectNode != nil {
		d.seq(expectNode, "expect", func(e *yaml.Node) {
			if a, ok := l.expectedAlert(d, e, m); ok {
				tc.Expect = append(tc.Expect, a)
			}
		})
	}
	m.Tests = append(m.Tests, tc)
}

// testEvent decodes a test event through the decoder real events use, and
// points its errors at the offending key.
func (d *doc) testEvent(n *yaml.Node, model string) (signal.Event, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "test event must be a mapping of event fields")
		return signal.Event{}, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "model" {
			d.errorf(n.Content[i], "test events take the model of the file: remove model")
			return signal.Event{}, false
		}
	}
	v, err := nodeJSON(n)
	if err != nil {
		d.errorf(n, "test event: %v", err)
		return signal.Event{}, false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		d.errorf(n, "test event: %v", err)
		return signal.Event{}, false
	}
	ev, err := signal.DecodeDetail(raw, false)
	if err != nil {
		at := n
		var fe *signal.FieldError
		if errors.As(err, &fe) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == fe.Field {
					at = n.Content[i+1]
				}
			}
		}
		d.errorf(at, "test event: %v", err)
		return signal.Event{}, false
	}
	ev.Model = model
	return ev, true
}

func (l *loader) expectedAlert(d *doc, n *yaml.Node, m *Model) (ExpectedAlert, bool) {
	var a ExpectedAlert
	ok := true
	check := func(good bool) { ok = ok && good }
	d.mapping(n, "expected alert",
		field{name: "rule", required: true, decode: func(_, v *yaml.Node) {
			s, good := d.str(v, "rule")
			check(good)
			a.Rule = s
			if good && !slices.Contains(m.ruleNames, s) {
				d.errorf(v, "expected alert names unknown rule %q%s", s, expression.Suggest(s, m.ruleNames))
				ok = false
			}
		}},
		field{name: "severity", decode: func(_, v *yaml.Node) {
			var good bool
			a.Severity, good = d.enum(v, "severity", Severities)
			check(good)
		}},
		field{name: "owner", decode: func(_, v *yaml.Node) {
			s, good := d.str(v, "owner")
			check(good)
			if good && l.cfg.Owners[s] == nil {
				hint := suggestOwner(s, l.cfg.Owners)
				if slices.Contains(Roles, s) {
					hint = " (owner is an owner id here; the role goes in role:)"
				}
				d.errorf(v, "expected alert names unknown owner %q%s", s, hint)
				ok = false
			}
			a.Owner = s
		}},
		field{name: "role", decode: func(_, v *yaml.Node) {
			var good bool
			a.Role, good = d.enum(v, "role", Roles)
			check(good)
		}},
		field{name: "notify", decode: func(_, v *yaml.Node) {
			a.Notify = []string{}
			d.seq(v, "notify", func(item *yaml.Node) {
				ch, good := d.enum(item, "notify channel", Channels)
				check(good)
				a.Notify = append(a.Notify, ch)
			})
		}},
		field{name: "feature", decode: func(_, v *yaml.Node) { a.Feature, _ = d.str(v, "feature") }},
		field{name: "segment", decode: func(_, v *yaml.Node) { a.Segment, _ = d.str(v, "segment") }},
		field{name: "silenced_by", decode: func(_, v *yaml.Node) {
			s, good := d.str(v, "silenced_by")
			check(good)
			a.SilencedBy = s
			if good && !slices.ContainsFunc(m.Maintenance, func(w *Maintenance) bool { return w.Name == s }) {
				var names []string
				for _, w := range m.Maintenance {
					names = append(names, w.Name)
				}
				d.errorf(v, "expected alert names unknown maintenance window %q%s", s, expression.Suggest(s, names))
				ok = false
			}
		}},
	)
	return a, ok
}
