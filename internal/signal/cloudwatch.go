package signal

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AlarmDetailType is the detail-type CloudWatch uses on EventBridge.
const AlarmDetailType = "CloudWatch Alarm State Change"

// Alarm tags that steer the mapping, set on the CloudWatch alarm (they reach
// the event as alarmTags when the alarm has tag propagation enabled).
const (
	TagModel   = "stakeout:model"
	TagKind    = "stakeout:kind"
	TagMetric  = "stakeout:metric"
	TagFeature = "stakeout:feature"
	TagSegment = "stakeout:segment"
)

// SageMaker Model Monitor publishes to these namespaces; their alarms are
// drift, quality and bias signals, not operational ones.
var namespaceKinds = map[string]string{
	"aws/sagemaker/Endpoints/data-metrics":           "drift",
	"aws/sagemaker/Endpoints/model-metrics":          "quality",
	"aws/sagemaker/Endpoints/bias-metrics":           "fairness",
	"aws/sagemaker/Endpoints/explainability-metrics": "drift",
	"aws/sagemaker/ModelMonitoring/data-metrics":     "drift",
}

// Model Monitor names per-feature drift metrics feature_baseline_drift_<feature>.
const featureDriftPrefix = "feature_baseline_drift_"

// cloudWatchTime is the layout of timestamps inside alarm events
// ("2019-10-02T17:04:40.985+0000"): not RFC 3339, no colon in the offset.
const cloudWatchTime = "2006-01-02T15:04:05.000-0700"

// AlarmStateChange is the detail of a "CloudWatch Alarm State Change" event,
// in the shape AWS documents for single-metric, metric-math and anomaly
// detection alarms.
type AlarmStateChange struct {
	AlarmName     string            `json:"alarmName"`
	AlarmTags     map[string]string `json:"alarmTags"`
	Configuration struct {
		Description string        `json:"description"`
		Metrics     []AlarmMetric `json:"metrics"`
		// AlarmRule is a composite alarm's rule over other alarms.
		AlarmRule string `json:"alarmRule"`
	} `json:"configuration"`
	// AlarmContributor is set on "CloudWatch Alarm Contributor State
	// Change" events: the one series of a multi-time-series alarm.
	AlarmContributor *AlarmContributor `json:"alarmContributor"`
	State            AlarmState        `json:"state"`
	PreviousState    AlarmState        `json:"previousState"`
	// MuteDetail is present when an alarm mute rule mutes the alarm's
	// actions: its owner asked not to be told.
	MuteDetail *MuteDetail `json:"muteDetail"`
	// Resources is copied from the envelope (the alarm ARN).
	Resources []string `json:"-"`
}

// MuteDetail is detail.muteDetail: the alarm mute rule muting the alarm and
// its window.
type MuteDetail struct {
	MutedByArn      string `json:"mutedByArn"`
	MuteWindowStart string `json:"muteWindowStart"`
	MuteWindowEnd   string `json:"muteWindowEnd"`
}

// mute decodes the mute, with an error naming the field at fault: a mute
// misread must not become a page nobody wanted, nor hide one for good.
func (md *MuteDetail) mute() (*Mute, error) {
	if md.MutedByArn == "" {
		return nil, fmt.Errorf("muteDetail has no mutedByArn")
	}
	m := &Mute{By: md.MutedByArn}
	var err error
	if md.MuteWindowStart != "" {
		if m.Start, err = parseCloudWatchTime(md.MuteWindowStart); err != nil {
			return nil, fmt.Errorf("muteDetail.muteWindowStart: %w", err)
		}
	}
	if md.MuteWindowEnd == "" {
		return nil, fmt.Errorf("muteDetail has no muteWindowEnd: stakeout cannot tell when to speak again")
	}
	if m.End, err = parseCloudWatchTime(md.MuteWindowEnd); err != nil {
		return nil, fmt.Errorf("muteDetail.muteWindowEnd: %w", err)
	}
	if !m.End.After(m.Start) {
		return nil, fmt.Errorf("muteDetail ends (%s) before it starts (%s)", md.MuteWindowEnd, md.MuteWindowStart)
	}
	return m, nil
}

// AlarmMetric is one entry of configuration.metrics: a metric or an
// expression over metrics.
type AlarmMetric struct {
	ID         string `json:"id"`
	Expression string `json:"expression"`
	Label      string `json:"label"`
	ReturnData *bool  `json:"returnData"`
	MetricStat *struct {
		Metric struct {
			Name       string            `json:"name"`
			Namespace  string            `json:"namespace"`
			Dimensions map[string]string `json:"dimensions"`
		} `json:"metric"`
		Period int    `json:"period"`
		Stat   string `json:"stat"`
	} `json:"metricStat"`
}

// AlarmState is state or previousState. ReasonData is itself JSON, encoded
// as a string inside the event.
type AlarmState struct {
	Value      string `json:"value"`
	Reason     string `json:"reason"`
	ReasonData string `json:"reasonData"`
	Timestamp  string `json:"timestamp"`
	// ActionsSuppressedBy says why a composite alarm's actions are held
	// back (WaitPeriod, ExtensionPeriod, Alarm).
	ActionsSuppressedBy string `json:"actionsSuppressedBy"`
}

// ReasonData is the decoded state.reasonData.
type ReasonData struct {
	QueryDate             string    `json:"queryDate"`
	StartDate             string    `json:"startDate"`
	Period                int       `json:"period"`
	RecentDatapoints      []float64 `json:"recentDatapoints"`
	RecentLowerThresholds []float64 `json:"recentLowerThresholds"`
	RecentUpperThresholds []float64 `json:"recentUpperThresholds"`
	Threshold             *float64  `json:"threshold"`
	EvaluatedDatapoints   []struct {
		Timestamp string   `json:"timestamp"`
		Value     *float64 `json:"value"`
	} `json:"evaluatedDatapoints"`
}

// DecodeAlarm decodes the detail of a CloudWatch alarm state change.
func DecodeAlarm(data []byte) (AlarmStateChange, error) {
	var a AlarmStateChange
	if err := json.Unmarshal(data, &a); err != nil {
		return a, jsonError(data, err)
	}
	if a.AlarmName == "" {
		return a, fmt.Errorf("CloudWatch alarm event has no alarmName")
	}
	return a, nil
}

// Signal maps the alarm to a native event. The model comes from the
// stakeout:model tag when present, otherwise from the one model whose match
// globs accept the alarm name; kind, metric and feature from tags, then from
// the metric itself (SageMaker Model Monitor namespaces and metric names).
//
// A contributor of a multi-time-series alarm, a composite alarm and the
// parent of a multi-time-series alarm have no reasonData: see
// contributorSignal and stateSignal.
func (a *AlarmStateChange) Signal(modelsFor ModelsFor) (Event, error) {
	model, err := a.model(modelsFor)
	if err != nil {
		return Event{}, err
	}
	switch {
	case a.AlarmContributor != nil:
		return a.contributorSignal(model)
	case a.Configuration.AlarmRule != "":
		return a.stateSignal(model, "composite")
	case a.State.ReasonData == "" && a.groupsBy():
		return a.stateSignal(model, "multi_time_series")
	}
	return a.metricSignal(model)
}

// metricSignal maps a single-metric (or metric math) alarm: the latest
// datapoint in state.reasonData is the value; the metric, its namespace and
// dimensions say kind, metric and feature, tags having the last word.
func (a *AlarmStateChange) metricSignal(model string) (Event, error) {
	where := fmt.Sprintf("CloudWatch alarm %q", a.AlarmName)
	var rd ReasonData
	if a.State.ReasonData != "" {
		if err := json.Unmarshal([]byte(a.State.ReasonData), &rd); err != nil {
			return Event{}, fmt.Errorf("%s: state.reasonData is not valid JSON: %v", where, err)
		}
	}
	value, at, ok := rd.latest()
	if !ok {
		return Event{}, fmt.Errorf("%s is %s with no datapoint in state.reasonData: nothing to evaluate", where, a.State.Value)
	}
	ev := Event{Model: model, Value: value,
		Labels: map[string]string{"alarm_name": a.AlarmName, "alarm_state": a.State.Value, "source": "cloudwatch"}}
	var err error
	if ev.ObservedAt, err = parseCloudWatchTime(cmp.Or(at, a.State.Timestamp)); err != nil {
		return Event{}, fmt.Errorf("%s: %w", where, err)
	}
	if a.PreviousState.Value != "" {
		ev.Labels["previous_state"] = a.PreviousState.Value
	}
	rd.thresholdLabels(ev.Labels)
	namespace, name := a.metricName(ev.Labels)
	for k, v := range a.dimensions() {
		ev.Labels["dimension."+k] = v
	}
	ev.Kind = cmp.Or(namespaceKinds[namespace], "operational")
	ev.Metric = name
	if f, ok := strings.CutPrefix(name, featureDriftPrefix); ok && f != "" {
		ev.Metric, ev.Feature = strings.TrimSuffix(featureDriftPrefix, "_"), f
	}
	a.applyTags(&ev, TagKind, TagMetric, TagFeature, TagSegment)
	ev.Metric = cmp.Or(ev.Metric, "alarm")
	return a.finish(ev, where)
}

// thresholdLabels records the alarm's threshold, or its anomaly band's
// latest bounds, in labels.
func (rd *ReasonData) thresholdLabels(labels map[string]string) {
	if rd.Threshold != nil {
		labels["threshold"] = strconv.FormatFloat(*rd.Threshold, 'g', -1, 64)
	}
	if n := len(rd.RecentLowerThresholds); n > 0 {
		labels["lower_threshold"] = strconv.FormatFloat(rd.RecentLowerThresholds[n-1], 'g', -1, 64)
	}
	if n := len(rd.RecentUpperThresholds); n > 0 {
		labels["upper_threshold"] = strconv.FormatFloat(rd.RecentUpperThresholds[n-1], 'g', -1, 64)
	}
}

// metricName is the namespace and name of the metric the alarm returns
// (a metric math expression's label or id, and the namespace of the
// metrics it reads), recorded in labels with the expression.
func (a *AlarmStateChange) metricName(labels map[string]string) (namespace, name string) {
	if m := a.returned(); m != nil {
		switch {
		case m.MetricStat != nil:
			namespace, name = m.MetricStat.Metric.Namespace, m.MetricStat.Metric.Name
		case m.Label != "":
			name = m.Label
		default:
			name = m.ID
		}
		if m.Expression != "" {
			labels["expression"] = m.Expression
			// An expression's namespace is that of the metrics it reads.
			namespace = a.firstNamespace()
		}
	}
	if namespace != "" {
		labels["namespace"] = namespace
	}
	return namespace, name
}

// finish applies the alarm's mute (a CloudWatch alarm mute rule) to the
// event it became and checks it; errors name the alarm (where).
func (a *AlarmStateChange) finish(ev Event, where string) (Event, error) {
	if a.MuteDetail != nil {
		var err error
		if ev.Mute, err = a.MuteDetail.mute(); err != nil {
			return Event{}, fmt.Errorf("%s: %w", where, err)
		}
	}
	if err := ev.Check(); err != nil {
		return Event{}, fmt.Errorf("%s: %w", where, err)
	}
	return ev, nil
}

// model is the alarm's model: its stakeout:model tag, else the one model
// whose match globs accept its name.
func (a *AlarmStateChange) model(modelsFor ModelsFor) (string, error) {
	if m := a.AlarmTags[TagModel]; m != "" {
		return m, nil
	}
	models := modelsFor(MatchAlarm, a.AlarmName)
	switch len(models) {
	case 0:
		return "", fmt.Errorf("CloudWatch alarm %q matches no model: add it to a model's match.cloudwatch_alarms or tag the alarm %s", a.AlarmName, TagModel)
	case 1:
		return models[0], nil
	}
	return "", fmt.Errorf("CloudWatch alarm %q matches several models (%s): make the match.cloudwatch_alarms globs disjoint or tag the alarm %s",
		a.AlarmName, strings.Join(models, ", "), TagModel)
}

// applyTags sets the event's fields from the alarm's tags that name them.
func (a *AlarmStateChange) applyTags(ev *Event, tags ...string) {
	fields := map[string]*string{TagKind: &ev.Kind, TagMetric: &ev.Metric, TagFeature: &ev.Feature, TagSegment: &ev.Segment}
	for _, tag := range tags {
		if v := a.AlarmTags[tag]; v != "" {
			*fields[tag] = v
		}
	}
}

// latest returns the most recent datapoint and its timestamp (empty when
// CloudWatch gave none).
func (rd *ReasonData) latest() (float64, string, bool) {
	for _, dp := range rd.EvaluatedDatapoints {
		// evaluatedDatapoints is newest first.
		if dp.Value != nil {
			return *dp.Value, dp.Timestamp, true
		}
	}
	if n := len(rd.RecentDatapoints); n > 0 {
		// One datapoint per period from startDate: the last one measured
		// the last period. Without those, the query time is the best guess.
		// A period too long for the span to fit a duration (no alarm has
		// one) must not wrap around to a plausible time.
		if start, err := parseCloudWatchTime(rd.StartDate); err == nil && rd.Period > 0 &&
			int64(n-1) <= math.MaxInt64/int64(time.Second)/int64(rd.Period) {
			at := start.Add(time.Duration(n-1) * time.Duration(rd.Period) * time.Second)
			return rd.RecentDatapoints[n-1], at.Format(cloudWatchTime), true
		}
		return rd.RecentDatapoints[n-1], rd.QueryDate, true
	}
	return 0, "", false
}

// returned is the metric whose data the alarm evaluates: the only one, or
// the one with returnData true.
func (a *AlarmStateChange) returned() *AlarmMetric {
	ms := a.Configuration.Metrics
	if len(ms) == 1 {
		return &ms[0]
	}
	i := slices.IndexFunc(ms, func(m AlarmMetric) bool { return m.ReturnData != nil && *m.ReturnData })
	if i < 0 {
		return nil
	}
	return &ms[i]
}

func (a *AlarmStateChange) firstNamespace() string {
	for _, m := range a.Configuration.Metrics {
		if m.MetricStat != nil && m.MetricStat.Metric.Namespace != "" {
			return m.MetricStat.Metric.Namespace
		}
	}
	return ""
}

func (a *AlarmStateChange) dimensions() map[string]string {
	out := map[string]string{}
	for _, m := range a.Configuration.Metrics {
		if m.MetricStat != nil {
			for k, v := range m.MetricStat.Metric.Dimensions {
				out[k] = v
			}
		}
	}
	return out
}

func parseCloudWatchTime(s string) (time.Time, error) {
	for _, layout := range []string{cloudWatchTime, "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in CloudWatch's format (2019-10-02T17:04:40.985+0000)", s)
}
