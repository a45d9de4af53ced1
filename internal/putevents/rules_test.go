package putevents

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/samtemplate"
)

// The patterns and buses the handler matches are template.yaml's, for the
// defaults and for each parameter that changes them: the rules written in
// Go and the rules deployed cannot drift apart. Every rule of the template
// that targets the router is one the handler knows.
func TestPatternsAreTheTemplates(t *testing.T) {
	tmpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params map[string]string
		scope  Scope
	}{
		{nil, Scope{}},
		{map[string]string{"EventBusName": "ml-signals"}, Scope{EventBusName: "ml-signals"}},
		{map[string]string{"SignalSources": "com.example.monitoring"}, Scope{SignalSources: []string{"com.example.monitoring"}}},
		{map[string]string{"SignalSources": "com.example.monitoring,com.example.feature-store"}, Scope{SignalSources: []string{"com.example.monitoring", "com.example.feature-store"}}},
		{map[string]string{"AlarmNamePrefix": "ml-"}, Scope{AlarmNamePrefix: "ml-"}},
	} {
		t.Run(paramsName(tc.params), func(t *testing.T) {
			r, err := tmpl.Resolver(tc.params)
			if err != nil {
				t.Fatal(err)
			}
			patterns, buses := map[string]any{}, map[string]string{}
			for _, rule := range tmpl.OfType("AWS::Events::Rule") {
				v, err := r.Resolve(rule.Properties)
				if err != nil {
					t.Fatalf("%s: %v", rule.Name, err)
				}
				if !targetsRouter(v) {
					continue
				}
				patterns[rule.Name] = samtemplate.Dig(v, "EventPattern")
				buses[rule.Name] = DefaultBus
				if b, ok := samtemplate.Dig(v, "EventBusName").(string); ok {
					buses[rule.Name] = b
				}
			}
			if len(patterns) == 0 {
				t.Fatal("no rule of template.yaml targets the router; the check checked nothing")
			}
			if diff := cmp.Diff(normalize(t, patterns), normalize(t, rulePatterns(tc.scope))); diff != "" {
				t.Errorf("patterns differ from template.yaml's (-template +putevents):\n%s", diff)
			}
			if diff := cmp.Diff(buses, ruleBuses(tc.scope)); diff != "" {
				t.Errorf("buses differ from template.yaml's (-template +putevents):\n%s", diff)
			}
		})
	}
}

func paramsName(p map[string]string) string {
	if len(p) == 0 {
		return "defaults"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, ",")
}

// targetsRouter reports whether a resolved rule's targets include the
// router function.
func targetsRouter(rule any) bool {
	targets, _ := samtemplate.Dig(rule, "Targets").([]any)
	for _, tg := range targets {
		if samtemplate.Dig(tg, "Arn") == "<RouterFunction.Arn>" {
			return true
		}
	}
	return false
}

// normalize makes v plain JSON values, so that []any from YAML and []any
// built in Go compare by content.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
