package signal

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AlarmContributorDetailType is the detail-type of the events a
// multi-time-series (Metrics Insights GROUP BY) alarm sends for each of its
// series, its contributors.
const AlarmContributorDetailType = "CloudWatch Alarm Contributor State Change"

// AlarmContributor is detail.alarmContributor: one series of a
// multi-time-series alarm, named by the values of its GROUP BY keys.
type AlarmContributor struct {
	ID         string            `json:"id"`
	Attributes map[string]string `json:"attributes"`
}

// maxListLabel bounds a label that lists names (a composite's triggering
// children, its rule): half of the 1024 bytes a label may hold
// (pipeline.MaxLabelLength), so a composite over hundreds of alarms is
// still an event stakeout accepts.
const maxListLabel = 512

// reasonDatapoint is one datapoint as CloudWatch quotes it in
// state.reason: "[0.34 (02/03/26 16:00:00)]", several separated by commas;
// reasonThreshold is "threshold (0.1)". These patterns are compiled at
// the first CloudWatch alarm a process reads, not at its start: every
// cold start would pay for them, and most events are ML Model Signals.
var (
	reasonDatapoint = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?) \(([0-9]{2}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})\)`)
	})
	reasonThreshold = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`threshold \((-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)\)`)
	})
	// reasonTimeSeries is a multi-time-series parent's reason: "6 out of
	// 6 time series evaluated to ALARM".
	reasonTimeSeries = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+) out of ([0-9]+) time series evaluated to`) })
	// A Metrics Insights query: SELECT AVG(Metric) FROM "Namespace" or
	// FROM SCHEMA("Namespace", Dim...), then GROUP BY for one series per
	// group.
	querySelect    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*SELECT\s+[A-Z_]+\(\s*"?([^")\s]+)"?\s*\)`) })
	queryNamespace = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\bFROM\s+(?:SCHEMA\s*\(\s*)?"?([^",)\s]+)`) })
	queryGroupBy   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\bGROUP\s+BY\b`) })
)

// reasonTime is the layout of datapoint times in state.reason (UTC).
const reasonTime = "02/01/06 15:04:05"

// contributorSignal maps one contributor of a multi-time-series alarm: its
// series' datapoint is the value, its GROUP BY attributes the feature and
// segment, so each contributor is a series (and an alert) of its own.
func (a *AlarmStateChange) contributorSignal(model string) (Event, error) {
	c := a.AlarmContributor
	where := fmt.Sprintf("CloudWatch alarm %q contributor %s", a.AlarmName, c.ID)
	value, at, err := a.contributorDatapoint()
	cleared := ""
	if err != nil {
		if a.State.Value != "OK" {
			return Event{}, fmt.Errorf("%s: %w", where, err)
		}
		// CloudWatch's OK transition of a contributor often quotes no
		// datapoint: the state is the news, and it resolves.
		if at, err = parseCloudWatchTime(a.State.Timestamp); err != nil {
			return Event{}, fmt.Errorf("%s: state.timestamp: %w", where, err)
		}
		cleared = "the contributor is OK, with no datapoint in state.reason"
	}
	ev := Event{Model: model, Value: value, ObservedAt: at, Cleared: cleared, Labels: map[string]string{
		"alarm_name": a.AlarmName, "alarm_state": a.State.Value, "alarm_type": "contributor",
		"source": "cloudwatch", "contributor_id": c.ID,
	}}
	if m := reasonThreshold().FindStringSubmatch(a.State.Reason); m != nil {
		ev.Labels["threshold"] = m[1]
	}
	if cleared != "" {
		ev.Labels["datapoint"] = "none" // value 0 is no reading: said where the alert shows it
	}
	for k, v := range c.Attributes {
		ev.Labels["attribute."+k] = v
	}
	namespace := a.queryLabels(ev.Labels)
	ev.Kind = namespaceKinds[namespace]
	if ev.Kind == "" {
		ev.Kind = "operational"
	}
	if m := a.returned(); m != nil {
		ev.Metric = m.Label
		if sel := querySelect().FindStringSubmatch(m.Expression); ev.Metric == "" && sel != nil {
			ev.Metric = sel[1]
		}
		if ev.Metric == "" {
			ev.Metric = m.ID
		}
	}
	ev.Feature, ev.Segment = c.featureSegment(a.AlarmTags[TagFeature])
	a.applyTags(&ev, TagKind, TagMetric, TagSegment)
	if ev.Metric == "" {
		ev.Metric = "alarm"
	}
	return a.finish(ev, where)
}

// featureSegment: the attribute the stakeout:feature tag names (else the
// first by name) is the feature; the others, "k=v" by name and
// comma-separated, the segment. A tag naming no attribute is the feature
// itself, as on any alarm.
func (c *AlarmContributor) featureSegment(tag string) (feature, segment string) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range c.Attributes {
			if !yield(k) {
				return
			}
		}
	})
	featureKey := ""
	switch _, named := c.Attributes[tag]; {
	case named:
		featureKey = tag
	case tag != "":
		feature = tag
	case len(keys) > 0:
		featureKey = keys[0]
	}
	var rest []string
	for _, k := range keys {
		if k == featureKey {
			feature = c.Attributes[k]
			continue
		}
		rest = append(rest, k+"="+c.Attributes[k])
	}
	return feature, strings.Join(rest, ",")
}

// contributorDatapoint is the value a contributor reports: from
// state.reasonData when CloudWatch sends it, else the latest datapoint
// quoted in state.reason (contributor events carry no reasonData).
func (a *AlarmStateChange) contributorDatapoint() (float64, time.Time, error) {
	if a.State.ReasonData != "" {
		var rd ReasonData
		if err := json.Unmarshal([]byte(a.State.ReasonData), &rd); err != nil {
			return 0, time.Time{}, fmt.Errorf("state.reasonData is not valid JSON: %v", err)
		}
		if v, at, ok := rd.latest(); ok {
			if at == "" {
				at = a.State.Timestamp
			}
			t, err := parseCloudWatchTime(at)
			return v, t, err
		}
	}
	var value float64
	var latest time.Time
	for _, m := range reasonDatapoint().FindAllStringSubmatch(a.State.Reason, -1) {
		v, verr := strconv.ParseFloat(m[1], 64)
		t, terr := time.Parse(reasonTime, m[2])
		if verr == nil && terr == nil && !t.Before(latest) {
			value, latest = v, t
		}
	}
	if latest.IsZero() {
		return 0, time.Time{}, fmt.Errorf("is %s with no datapoint in state.reason (%q) and no state.reasonData: nothing to evaluate", a.State.Value, a.State.Reason)
	}
	return value, latest, nil
}

// stateSignal maps an alarm without datapoints — a composite alarm, or the
// parent of a multi-time-series alarm — onto its state: value 1 in ALARM, 0
// in OK and INSUFFICIENT_DATA (not firing: a rule on the state resolves).
// Its metric is always alarm_state, so a 1 or 0 never joins a series of
// measured values, and its segment is the alarm's name, so two such alarms of
// one model are two alerts, each resolved by its own OK.
func (a *AlarmStateChange) stateSignal(model, alarmType string) (Event, error) {
	where := fmt.Sprintf("CloudWatch alarm %q", a.AlarmName)
	ev := Event{Model: model, Kind: "operational", Metric: "alarm_state", Segment: a.AlarmName, Labels: map[string]string{
		"alarm_name": a.AlarmName, "alarm_state": a.State.Value, "alarm_type": alarmType, "source": "cloudwatch",
	}}
	switch a.State.Value {
	case "ALARM":
		ev.Value = 1
	case "OK", "INSUFFICIENT_DATA":
	default:
		return Event{}, fmt.Errorf("%s: state.value %q is not ALARM, OK or INSUFFICIENT_DATA", where, a.State.Value)
	}
	var err error
	if ev.ObservedAt, err = parseCloudWatchTime(a.State.Timestamp); err != nil {
		return Event{}, fmt.Errorf("%s: state.timestamp: %w", where, err)
	}
	if a.PreviousState.Value != "" {
		ev.Labels["previous_state"] = a.PreviousState.Value
	}
	if a.State.ActionsSuppressedBy != "" {
		ev.Labels["actions_suppressed_by"] = a.State.ActionsSuppressedBy
	}
	if r := a.Configuration.AlarmRule; r != "" {
		ev.Labels["alarm_rule"] = bounded(r, maxListLabel)
	}
	if err := a.triggeringLabel(ev.Labels); err != nil {
		return Event{}, fmt.Errorf("%s: %w", where, err)
	}
	if m := reasonTimeSeries().FindStringSubmatch(a.State.Reason); m != nil {
		ev.Labels["time_series_in_alarm"], ev.Labels["time_series_evaluated"] = m[1], m[2]
	}
	a.queryLabels(ev.Labels)
	a.applyTags(&ev, TagKind, TagFeature, TagSegment)
	return a.finish(ev, where)
}

// triggeringLabel names, in labels.triggering_alarms, the children that
// put a composite alarm in its state (state.reasonData, a JSON string).
func (a *AlarmStateChange) triggeringLabel(labels map[string]string) error {
	if a.State.ReasonData == "" {
		return nil
	}
	var rd struct {
		TriggeringAlarms []struct {
			Arn string `json:"arn"`
		} `json:"triggeringAlarms"`
	}
	if err := json.Unmarshal([]byte(a.State.ReasonData), &rd); err != nil {
		return fmt.Errorf("state.reasonData is not valid JSON: %v", err)
	}
	names := make([]string, 0, len(rd.TriggeringAlarms))
	for _, t := range rd.TriggeringAlarms {
		_, name, ok := strings.Cut(t.Arn, ":alarm:")
		if !ok {
			name = t.Arn
		}
		names = append(names, name)
	}
	if len(names) > 0 {
		labels["triggering_alarms"] = boundedList(names, maxListLabel)
	}
	return nil
}

// queryLabels records a Metrics Insights query and its namespace in
// labels, and returns the namespace ("" when there is no query).
func (a *AlarmStateChange) queryLabels(labels map[string]string) string {
	m := a.returned()
	if m == nil || m.Expression == "" {
		return ""
	}
	labels["expression"] = bounded(m.Expression, maxListLabel)
	ns := queryNamespace().FindStringSubmatch(m.Expression)
	if ns == nil {
		return ""
	}
	labels["namespace"] = ns[1]
	return ns[1]
}

// groupsBy reports whether the alarm evaluates a Metrics Insights query
// with GROUP BY: one series per group, each a contributor.
func (a *AlarmStateChange) groupsBy() bool {
	m := a.returned()
	return m != nil && querySelect().MatchString(m.Expression) && queryGroupBy().MatchString(m.Expression)
}

// boundedList joins names with ", " in at most n bytes; those left out are
// counted ("… and 12 more").
func boundedList(names []string, n int) string {
	var b strings.Builder
	for i, name := range names {
		more := fmt.Sprintf(" … and %d more", len(names)-i)
		sep := ""
		if i > 0 {
			sep = ", "
		}
		// Room for this name, and for the count should the next not fit.
		if b.Len()+len(sep)+len(name)+len(more) > n && i < len(names)-1 || b.Len()+len(sep)+len(name) > n {
			b.WriteString(more)
			return b.String()
		}
		b.WriteString(sep + name)
	}
	return b.String()
}
