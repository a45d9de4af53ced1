package noise

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stakeout-ml/stakeout/internal/audit"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// step is one record of a trail: an action so many minutes after t0.
type step struct {
	min    int
	action string
}

// trail builds the records of the alert model/rule, numbered from 1 as the
// store keeps them.
func trail(model, rule string, steps ...step) []audit.Record {
	return featureTrail(model, rule, "", steps...)
}

// featureTrail builds the records of one of a rule's alerts per feature.
func featureTrail(model, rule, feature string, steps ...step) []audit.Record {
	id := model + "/" + rule
	if feature != "" {
		id += "/feature=" + feature
	}
	var recs []audit.Record
	kind := "quality"
	if strings.Contains(rule, "drift") {
		kind = "drift"
	}
	for i, s := range steps {
		recs = append(recs, audit.Record{Alert: id, Seq: i + 1, At: t0.Add(time.Duration(s.min) * time.Minute),
			Action: s.action, Actor: "router", Model: model, Rule: rule, Kind: kind})
	}
	return recs
}

func concat(trails ...[]audit.Record) []audit.Record {
	var out []audit.Record
	for _, t := range trails {
		out = append(out, t...)
	}
	return out
}

func TestReport(t *testing.T) {
	since, until := t0, t0.Add(30*24*time.Hour)
	for _, tc := range []struct {
		name    string
		records []audit.Record
		want    []RuleStats
	}{
		{
			name: "a reopened alert counts each opening, with its own acknowledgement",
			records: trail("credit", "drift",
				step{0, audit.Opened}, step{10, audit.Acknowledged}, step{20, audit.Acknowledged}, step{60, audit.Resolved},
				step{120, audit.Opened}, step{150, audit.Acknowledged}, step{200, audit.Resolved},
				step{300, audit.Opened}),
			want: []RuleStats{{Model: "credit", Rule: "drift", Alerts: 3, Acknowledged: 2, Unacknowledged: 1,
				MedianAck: 10 * time.Minute, P90Ack: 30 * time.Minute}},
		},
		{
			name: "an occurrence opened before the window is not counted, nor its acknowledgement",
			records: trail("credit", "drift",
				step{-60, audit.Opened}, step{-30, audit.Escalated}, step{5, audit.Acknowledged}, step{10, audit.FalseAlarm},
				step{100, audit.Opened}, step{107, audit.Acknowledged}),
			want: []RuleStats{{Model: "credit", Rule: "drift", Alerts: 1, Acknowledged: 1, MedianAck: 7 * time.Minute, P90Ack: 7 * time.Minute}},
		},
		{
			// What a store's range query returns: the trail cut at since,
			// starting with the old occurrence's acknowledgement.
			name: "a trail cut mid-occurrence starts counting at its next opening",
			records: trail("credit", "drift",
				step{-60, audit.Opened}, step{5, audit.Acknowledged}, step{100, audit.Opened}, step{103, audit.Acknowledged})[1:],
			want: []RuleStats{{Model: "credit", Rule: "drift", Alerts: 1, Acknowledged: 1, MedianAck: 3 * time.Minute, P90Ack: 3 * time.Minute}},
		},
		{
			name:    "a false alarm without acknowledgement is a false alarm never acknowledged",
			records: trail("credit", "drift", step{0, audit.Opened}, step{30, audit.Escalated}, step{45, audit.Escalated}, step{50, audit.FalseAlarm}),
			want: []RuleStats{{Model: "credit", Rule: "drift", Alerts: 1, Unacknowledged: 1, FalseAlarms: 1, Escalations: 1,
				FalseAlarmRate: 1}},
		},
		{
			name:    "a snooze acknowledges",
			records: trail("credit", "drift", step{0, audit.Opened}, step{4, audit.Snoozed}, step{64, audit.SnoozeEnded}, step{70, audit.Acknowledged}),
			want:    []RuleStats{{Model: "credit", Rule: "drift", Alerts: 1, Acknowledged: 1, MedianAck: 4 * time.Minute, P90Ack: 4 * time.Minute}},
		},
		{
			name: "a suppressed opening is no occurrence; its release is",
			records: trail("credit", "drift",
				step{0, audit.Opened}, step{10, audit.Resolved},
				step{20, audit.Suppressed}, step{25, audit.Acknowledged}, step{40, audit.Opened}, step{42, audit.Acknowledged}),
			want: []RuleStats{{Model: "credit", Rule: "drift", Alerts: 2, Acknowledged: 1, Unacknowledged: 1,
				MedianAck: 2 * time.Minute, P90Ack: 2 * time.Minute}},
		},
		{
			name:    "records after until are ignored",
			records: trail("credit", "drift", step{0, audit.Opened}, step{30*24*60 + 5, audit.Acknowledged}, step{30*24*60 + 10, audit.Opened}),
			want:    []RuleStats{{Model: "credit", Rule: "drift", Alerts: 1, Unacknowledged: 1}},
		},
		{
			name: "percentiles are nearest-rank over the acknowledged occurrences",
			records: concat(
				featureTrail("m", "r", "a", step{0, audit.Opened}, step{1, audit.Acknowledged}),
				featureTrail("m", "r", "b", step{0, audit.Opened}, step{2, audit.Acknowledged}),
				featureTrail("m", "r", "c", step{0, audit.Opened}, step{3, audit.Acknowledged}),
				featureTrail("m", "r", "d", step{0, audit.Opened}, step{4, audit.Acknowledged}),
				featureTrail("m", "r", "e", step{0, audit.Opened}, step{5, audit.Acknowledged}),
				featureTrail("m", "r", "f", step{0, audit.Opened}, step{6, audit.Acknowledged}),
				featureTrail("m", "r", "g", step{0, audit.Opened}, step{7, audit.Acknowledged}),
				featureTrail("m", "r", "h", step{0, audit.Opened}, step{8, audit.Acknowledged}),
				featureTrail("m", "r", "i", step{0, audit.Opened}, step{9, audit.Acknowledged}),
				featureTrail("m", "r", "j", step{0, audit.Opened}, step{180, audit.Acknowledged}),
				featureTrail("m", "r", "k", step{0, audit.Opened}),
			),
			want: []RuleStats{{Model: "m", Rule: "r", Alerts: 11, Acknowledged: 10, Unacknowledged: 1,
				MedianAck: 5 * time.Minute, P90Ack: 9 * time.Minute}},
		},
		{
			name: "noisiest first: false-alarm rate, then alerts",
			records: concat(
				trail("credit", "quiet", step{0, audit.Opened}),
				trail("credit", "busy", step{0, audit.Opened}, step{1, audit.Resolved}, step{2, audit.Opened}, step{3, audit.FalseAlarm}),
				trail("fraud", "loud", step{0, audit.Opened}, step{1, audit.FalseAlarm}),
				trail("fraud", "busier", step{0, audit.Opened}, step{1, audit.Resolved}, step{2, audit.Opened}, step{3, audit.Resolved}, step{4, audit.Opened}),
			),
			want: []RuleStats{
				{Model: "fraud", Rule: "loud", Alerts: 1, Unacknowledged: 1, FalseAlarms: 1, FalseAlarmRate: 1},
				{Model: "credit", Rule: "busy", Alerts: 2, Unacknowledged: 2, FalseAlarms: 1, FalseAlarmRate: 0.5},
				{Model: "fraud", Rule: "busier", Alerts: 3, Unacknowledged: 3},
				{Model: "credit", Rule: "quiet", Alerts: 1, Unacknowledged: 1},
			},
		},
		{
			name:    "no openings, no rules",
			records: trail("credit", "drift", step{-10, audit.Opened}, step{5, audit.Resolved}),
			want:    []RuleStats{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Report(tc.records, since, until)
			// Labels are TestReportPrecision's.
			labels := cmpopts.IgnoreFields(RuleStats{}, "Kind", "Covered", "Confirmed", "NotCovered")
			if diff := cmp.Diff(tc.want, got, labels); diff != "" {
				t.Errorf("Report() differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	m := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, x := range n {
			d = append(d, time.Duration(x)*time.Minute)
		}
		return d
	}
	for _, tc := range []struct {
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{m(7), 0.5, 7 * time.Minute},
		{m(7), 0.9, 7 * time.Minute},
		{m(1, 2), 0.5, 1 * time.Minute},
		{m(1, 2), 0.9, 2 * time.Minute},
		{m(1, 2, 3), 0.5, 2 * time.Minute},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Minute},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 0.9, 10 * time.Minute},
	} {
		if got := Percentile(tc.d, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.d, tc.p, got, tc.want)
		}
	}
}

// covering sets the opening (minutes after t0) that record seq of the
// trail, a labels verdict, judges.
func covering(recs []audit.Record, seq, openedMin int) []audit.Record {
	recs[seq-1].Covers = t0.Add(time.Duration(openedMin) * time.Minute)
	return recs
}

func TestReportPrecision(t *testing.T) {
	since, until := t0, t0.Add(30*24*time.Hour)
	const day = 24 * 60
	records := concat(
		// Reopened before the labels of its first opening came: the
		// verdict is the first opening's; the second is never covered.
		covering(featureTrail("credit", "drift", "income", step{0, audit.Opened}, step{60, audit.Resolved},
			step{2 * day, audit.Opened}, step{3 * day, audit.LabelsConfirmed}), 4, 0),
		// Covered twice (a daily and a weekly label window, or two
		// segments' labels): one verdict confirmed it, so it counts as
		// confirmed, once, whichever came last.
		covering(covering(featureTrail("credit", "drift", "tenure", step{10, audit.Opened}, step{20, audit.LabelsConfirmed},
			step{30, audit.LabelsNotConfirmed}), 2, 10), 3, 10),
		covering(covering(featureTrail("credit", "drift", "region", step{10, audit.Opened}, step{20, audit.LabelsNotConfirmed},
			step{30, audit.LabelsConfirmed}), 2, 10), 3, 10),
		// Covered twice, confirmed by neither.
		covering(covering(featureTrail("credit", "drift", "city", step{10, audit.Opened}, step{20, audit.LabelsNotConfirmed},
			step{30, audit.LabelsNotConfirmed}), 2, 10), 3, 10),
		// A verdict after the report's end is not counted yet.
		covering(featureTrail("credit", "drift", "age", step{40, audit.Opened}, step{31 * day, audit.LabelsConfirmed}), 2, 40),
		trail("credit", "accuracy", step{0, audit.Opened}),
	)
	got := Report(records, since, until)
	want := map[string][3]int{ // covered, confirmed, not covered
		"drift":    {4, 3, 2},
		"accuracy": {0, 0, 0}, // quality: labels do not judge it
	}
	for _, s := range got {
		if w := want[s.Rule]; [3]int{s.Covered, s.Confirmed, s.NotCovered} != w {
			t.Errorf("%s: covered, confirmed, not covered = %d, %d, %d; want %v", s.Rule, s.Covered, s.Confirmed, s.NotCovered, w)
		}
	}
	if p, ok := got[0].Precision(); got[0].Rule != "drift" || !ok || p != 0.75 {
		t.Errorf("precision of %s = %v, %v; want drift's 0.75", got[0].Rule, p, ok)
	}
	if _, ok := got[1].Precision(); ok {
		t.Errorf("precision of %s, never covered, is defined", got[1].Rule)
	}
}

func TestRetune(t *testing.T) {
	for _, tc := range []struct {
		covered, confirmed int
		want               bool
	}{
		{MinCovered, 0, true},
		{MinCovered - 1, 0, false}, // too few to judge
		{10, 4, true},
		{10, 5, false}, // at the threshold: kept
		{0, 0, false},
	} {
		s := RuleStats{Covered: tc.covered, Confirmed: tc.confirmed}
		if got := s.Retune(); got != tc.want {
			t.Errorf("Retune() with %d of %d confirmed = %v; want %v", tc.confirmed, tc.covered, got, tc.want)
		}
	}
}
