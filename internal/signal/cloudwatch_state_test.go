package signal

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// resolveSample parses one of AWS's sample events and maps it onto model m.
func resolveSample(t *testing.T, file string) Event {
	t.Helper()
	in, err := Parse(readEvent(t, "aws/"+file))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if in.Alarm == nil {
		t.Fatal("not decoded as an alarm")
	}
	ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return ev
}

// A Metrics Insights (GROUP BY) alarm's contributor is a measurement of its
// own series: the GROUP BY attribute is the feature, the value the datapoint
// CloudWatch quotes in state.reason (the event has no reasonData).
func TestAlarmContributorIsASeriesOfItsOwn(t *testing.T) {
	ev := resolveSample(t, "cloudwatch-contributor-state-change.json")
	want := Event{
		Model: "m", Kind: "operational", Metric: "ConsumedWriteCapacityUnits",
		Feature: "example-dynamodb-table-name", Value: 0,
		ObservedAt: time.Date(2025, 12, 1, 13, 34, 0, 0, time.UTC),
		Labels: map[string]string{
			"alarm_name": "DynamoDBInsightsAlarm", "alarm_state": "ALARM", "alarm_type": "contributor", "source": "cloudwatch",
			"contributor_id": "6d442278dba546f6", "attribute.TableName": "example-dynamodb-table-name",
			"threshold": "1.0", "namespace": "AWS/DynamoDB",
			"expression": `SELECT AVG(ConsumedWriteCapacityUnits) FROM "AWS/DynamoDB" GROUP BY TableName ORDER BY MAX() DESC`,
		},
	}
	ev.Mute = nil // the sample's mute is checked by TestAlarmMuteDetail's decoder
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("contributor event (-want +got):\n%s", diff)
	}
}

// With several GROUP BY attributes, the first by name (or the one the
// stakeout:feature tag names) is the feature and the others the segment.
func TestAlarmContributorAttributes(t *testing.T) {
	for _, tc := range []struct {
		name, attrs, tags, feature, segment string
	}{
		{"one attribute", ``, ``, "prod", ""},
		{"two attributes", `,"VariantName":"shadow"`, ``, "prod", "VariantName=shadow"},
		{"tag chooses the feature", `,"VariantName":"shadow"`, `"stakeout:feature":"VariantName"`, "shadow", "EndpointName=prod"},
		{"tag sets the segment", `,"VariantName":"shadow"`, `"stakeout:segment":"all"`, "prod", "all"},
		{"tag is the feature", ``, `"stakeout:feature":"latency"`, "latency", "EndpointName=prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"detail-type":"CloudWatch Alarm Contributor State Change","id":"1","detail":{"alarmName":"a",` +
				`"state":{"value":"ALARM","reason":"The most recent datapoint which crossed the threshold: [140000.5 (01/03/26 10:05:00)].","timestamp":"2026-03-01T10:06:00.000+0000"},` +
				`"alarmTags":{` + tc.tags + `},"alarmContributor":{"id":"1","attributes":{"EndpointName":"prod"` + tc.attrs + `}}}}`
			in, err := Parse([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
			if err != nil {
				t.Fatal(err)
			}
			if ev.Feature != tc.feature || ev.Segment != tc.segment || ev.Value != 140000.5 {
				t.Errorf("feature %q segment %q value %v, want %q %q 140000.5", ev.Feature, ev.Segment, ev.Value, tc.feature, tc.segment)
			}
		})
	}
}

// Of several datapoints in the reason, the latest is the value; a reason
// without one is refused naming the field, since there is nothing to
// evaluate.
func TestAlarmContributorDatapoint(t *testing.T) {
	contributorIn := func(state, reason string) (Event, error) {
		raw := `{"detail-type":"CloudWatch Alarm Contributor State Change","id":"1","detail":{"alarmName":"a",` +
			`"state":{"value":"` + state + `","reason":` + reason + `,"timestamp":"2026-03-01T10:06:00.000+0000"},` +
			`"alarmContributor":{"id":"1","attributes":{"k":"v"}}}}`
		in, err := Parse([]byte(raw))
		if err != nil {
			return Event{}, err
		}
		return in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
	}
	contributor := func(reason string) (Event, error) { return contributorIn("OK", reason) }
	ev, err := contributor(`"Threshold Crossed: 2 out of the last 2 datapoints [0.5 (01/03/26 10:00:00), 0.25 (01/03/26 10:05:00)] were not greater than the threshold (1.5e2)."`)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Value != 0.25 || !ev.ObservedAt.Equal(time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)) || ev.Labels["threshold"] != "1.5e2" {
		t.Errorf("value %v at %v threshold %q, want 0.25 at 10:05 threshold 1.5e2", ev.Value, ev.ObservedAt, ev.Labels["threshold"])
	}
	// Should CloudWatch add reasonData to contributors, it is read first.
	in, err := Parse([]byte(`{"detail-type":"CloudWatch Alarm Contributor State Change","id":"1","detail":{"alarmName":"a",` +
		`"state":{"value":"ALARM","reason":"[9.0 (01/03/26 10:05:00)]","reasonData":"{\"evaluatedDatapoints\":[{\"timestamp\":\"2026-03-01T10:04:00.000+0000\",\"value\":7}]}","timestamp":"2026-03-01T10:06:00.000+0000"},` +
		`"alarmContributor":{"id":"1","attributes":{"k":"v"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} }); err != nil || ev.Value != 7 {
		t.Errorf("a contributor with reasonData: value %v (%v), want reasonData's 7", ev.Value, err)
	}
	// In OK, no datapoint is the usual news: the state clears the series.
	ev, err = contributor(`"Threshold Crossed: no datapoints were received."`)
	if err != nil || ev.Cleared == "" || ev.Labels["datapoint"] != "none" || !ev.ObservedAt.Equal(time.Date(2026, 3, 1, 10, 6, 0, 0, time.UTC)) {
		t.Errorf("OK without a datapoint: %+v (%v), want a cleared state at state.timestamp", ev, err)
	}
	_, err = contributorIn("ALARM", `"Threshold Crossed: no datapoints were received."`)
	if err == nil || !strings.Contains(err.Error(), `CloudWatch alarm "a" contributor 1`) || !strings.Contains(err.Error(), "state.reason") {
		t.Errorf("ALARM without a datapoint: %v, want an error naming the alarm, contributor and state.reason", err)
	}
	if _, err := Parse([]byte(`{"detail-type":"CloudWatch Alarm Contributor State Change","id":"1","detail":{"alarmName":"a","state":{"value":"OK"}}}`)); err == nil ||
		!strings.Contains(err.Error(), "alarmContributor") {
		t.Errorf("a contributor event without alarmContributor: %v, want an error naming it", err)
	}
}

// A composite alarm has no datapoint: its state is the signal, 1 in ALARM
// and 0 otherwise, and the children that triggered it are named.
func TestCompositeAlarmStateIsTheSignal(t *testing.T) {
	ev := resolveSample(t, "cloudwatch-composite-alarm-state-change.json")
	want := Event{
		Model: "m", Kind: "operational", Metric: "alarm_state", Segment: "ServiceAggregatedAlarm", Value: 1,
		ObservedAt: time.Date(2022, 7, 22, 15, 57, 45, 394e6, time.UTC),
		Labels: map[string]string{
			"alarm_name": "ServiceAggregatedAlarm", "alarm_state": "ALARM", "previous_state": "OK", "alarm_type": "composite", "source": "cloudwatch",
			"alarm_rule":            "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)",
			"triggering_alarms":     "ServerCpuTooHigh",
			"actions_suppressed_by": "WaitPeriod",
		},
	}
	ev.Mute = nil
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("composite event (-want +got):\n%s", diff)
	}
}

// The parent of a multi-time-series alarm says only how many series are in
// ALARM: a state signal like a composite's, not a datapoint, so it is
// neither refused nor mixed into its contributors' series.
func TestMultiTimeSeriesParentIsAStateSignal(t *testing.T) {
	ev := resolveSample(t, "cloudwatch-multi-time-series-parent-state-change.json")
	want := Event{
		Model: "m", Kind: "operational", Metric: "alarm_state", Segment: "DynamoDBInsightsAlarm", Value: 1,
		ObservedAt: time.Date(2025, 12, 1, 13, 42, 4, 919e6, time.UTC),
		Labels: map[string]string{
			"alarm_name": "DynamoDBInsightsAlarm", "alarm_state": "ALARM", "previous_state": "INSUFFICIENT_DATA",
			"alarm_type": "multi_time_series", "source": "cloudwatch",
			"time_series_in_alarm": "6", "time_series_evaluated": "6", "namespace": "AWS/DynamoDB",
			"expression": `SELECT AVG(ConsumedWriteCapacityUnits) FROM "AWS/DynamoDB" GROUP BY TableName ORDER BY MAX() DESC`,
		},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("parent event (-want +got):\n%s", diff)
	}
}

// OK and INSUFFICIENT_DATA are 0 (the alarm is not firing, so a rule on
// ALARM resolves); a state CloudWatch does not have is refused.
func TestCompositeAlarmStates(t *testing.T) {
	composite := func(state, reasonData string) (Event, error) {
		raw := `{"detail-type":"CloudWatch Alarm State Change","id":"1","detail":{"alarmName":"c","configuration":{"alarmRule":"ALARM(a)"},` +
			`"state":{"value":"` + state + `","reasonData":` + reasonData + `,"timestamp":"2026-03-01T10:06:00.000+0000"}}}`
		in, err := Parse([]byte(raw))
		if err != nil {
			return Event{}, err
		}
		return in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
	}
	for state, want := range map[string]float64{"ALARM": 1, "OK": 0, "INSUFFICIENT_DATA": 0} {
		ev, err := composite(state, `""`)
		if err != nil || ev.Value != want || ev.Labels["alarm_state"] != state {
			t.Errorf("%s: value %v labels %v (%v), want %v", state, ev.Value, ev.Labels, err, want)
		}
	}
	if _, err := composite("ALARMED", `""`); err == nil || !strings.Contains(err.Error(), "state.value") {
		t.Errorf("unknown state: %v, want an error naming state.value", err)
	}
	if _, err := composite("ALARM", `"{not json"`); err == nil || !strings.Contains(err.Error(), "state.reasonData") {
		t.Errorf("bad reasonData: %v, want an error naming state.reasonData", err)
	}
	// Hundreds of triggering children stay within one label.
	var arns []string
	for range 300 {
		arns = append(arns, `{\"arn\":\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:child-alarm-with-a-long-name\"}`)
	}
	ev, err := composite("ALARM", `"{\"triggeringAlarms\":[`+strings.Join(arns, ",")+`]}"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Labels["triggering_alarms"]; len(got) > maxListLabel || !strings.HasSuffix(got, "more") {
		t.Errorf("triggering_alarms is %d bytes (%q…), want at most %d ending in a count of the rest", len(got), got[:40], maxListLabel)
	}
}
