package putevents

import (
	"encoding/json"
	"fmt"

	"github.com/stakeout-ml/stakeout/internal/eventpattern"
)

// DefaultBus is the event bus every account has: the one an entry without
// EventBusName goes to, and the only one CloudWatch alarm state changes
// arrive on.
const DefaultBus = "default"

// Scope holds the values of template.yaml's parameters that shape the
// router's rules. The zero value is the template's defaults: the default
// bus, every source, every alarm.
type Scope struct {
	EventBusName    string   // EventBusName: the bus of "ML Model Signal" events
	SignalSources   []string // SignalSources: empty accepts any source
	AlarmNamePrefix string   // AlarmNamePrefix: empty routes every alarm
}

// rule is one EventBridge rule targeting the router, as template.yaml
// deploys it (its logical id, its bus, its event pattern).
type rule struct {
	name    string
	bus     string
	pattern *eventpattern.Pattern
}

// rulePatterns is the EventPattern of each router rule of template.yaml
// (by logical id) for scope, written as the template's !If conditions
// resolve it. TestPatternsAreTheTemplates compares it with the template
// for several scopes, so the two cannot drift.
func rulePatterns(s Scope) map[string]map[string]any {
	signal := map[string]any{"detail-type": []any{"ML Model Signal", "ML Model Version Deployed"}}
	if len(s.SignalSources) > 0 {
		sources := make([]any, len(s.SignalSources))
		for i, src := range s.SignalSources {
			sources[i] = src
		}
		signal["source"] = sources
	}
	alarm := map[string]any{
		"source":      []any{"aws.cloudwatch"},
		"detail-type": []any{"CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"},
	}
	if s.AlarmNamePrefix != "" {
		alarm["detail"] = map[string]any{"alarmName": []any{map[string]any{"prefix": s.AlarmNamePrefix}}}
	}
	out := map[string]map[string]any{"SignalRule": signal, "AlarmRule": alarm}
	for name, p := range awsRulePatterns() {
		out[name] = p
	}
	return out
}

// awsRulePatterns are the rules of the AWS service events the adapters
// read, which no parameter changes.
func awsRulePatterns() map[string]map[string]any {
	return map[string]map[string]any{
		"ProcessingJobRule": {"source": []any{"aws.sagemaker"}, "detail-type": []any{"SageMaker Processing Job State Change"},
			"detail": map[string]any{"ProcessingJobStatus": []any{"Completed", "Failed", "Stopped"}}},
		"DataQualityRule": {"source": []any{"aws.glue-dataquality"}, "detail-type": []any{"Data Quality Evaluation Results Available"}},
		"ExecutionRule": {"source": []any{"aws.states"}, "detail-type": []any{"Step Functions Execution Status Change"},
			"detail": map[string]any{"status": []any{"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}}},
		"ModelPackageRule": {"source": []any{"aws.sagemaker"}, "detail-type": []any{"SageMaker Model Package State Change"}},
	}
}

// ruleBuses is the bus of each router rule: SignalRule's EventBusName is
// the parameter; AlarmRule has none, so it is on the default bus.
func ruleBuses(s Scope) map[string]string {
	buses := map[string]string{"SignalRule": s.busName(), "AlarmRule": DefaultBus}
	for name := range awsRulePatterns() {
		buses[name] = DefaultBus // AWS services publish on the default bus only
	}
	return buses
}

func (s Scope) busName() string {
	if s.EventBusName == "" {
		return DefaultBus
	}
	return s.EventBusName
}

// compileRules compiles the router's rules for scope, in a fixed order.
func compileRules(s Scope) ([]rule, error) {
	patterns, buses := rulePatterns(s), ruleBuses(s)
	var rules []rule
	for _, name := range []string{"SignalRule", "AlarmRule", "ProcessingJobRule", "DataQualityRule", "ExecutionRule", "ModelPackageRule"} {
		p, err := eventpattern.FromValue(patterns[name])
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", name, err)
		}
		rules = append(rules, rule{name: name, bus: buses[name], pattern: p})
	}
	return rules, nil
}

// matching returns the names of the rules on bus that match event.
func matching(rules []rule, bus string, event json.RawMessage) ([]string, error) {
	var names []string
	for _, r := range rules {
		if r.bus != bus {
			continue
		}
		ok, err := r.pattern.Match(event)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.name, err)
		}
		if ok {
			names = append(names, r.name)
		}
	}
	return names, nil
}
