// Package noise measures, from the audit trail, how each rule's alerts were
// received: how many opened in a window, how many owners acknowledged,
// marked as false alarms or let escalate, how long acknowledging took, and,
// where late labels judged them, how many the labels confirmed (precision).
// Owners tune a threshold with these numbers (`stakeout noise`) rather than
// with their memory of the loudest week.
package noise

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
)

// RuleStats is what one rule's alerts opened in a window came to.
type RuleStats struct {
	Model, Rule string
	// Kind is the kind of the rule's alerts (of their first opening).
	Kind string
	// Alerts counts occurrences: an alert that resolved and opened again
	// is two, because it interrupted its owner twice.
	Alerts int
	// Acknowledged counts occurrences someone acknowledged (or snoozed,
	// which acknowledges until a time); Unacknowledged the rest, including
	// false alarms dismissed without acknowledging first.
	Acknowledged, Unacknowledged int
	FalseAlarms                  int
	// Escalations counts occurrences escalated at least once, not the
	// steps: an alert that climbed two owners is one alert nobody took.
	Escalations int
	// MedianAck and P90Ack are times from opening to the first
	// acknowledgement, over the acknowledged occurrences (zero if none).
	MedianAck, P90Ack time.Duration
	// FalseAlarmRate is FalseAlarms / Alerts.
	FalseAlarmRate float64
	// Covered counts occurrences that late labels judged (a labels
	// verdict recorded before the report's end), Confirmed those at
	// least one verdict confirmed; NotCovered the rest, which no labels
	// have judged (yet): they count neither for nor against the rule.
	// All three are 0 for a rule of a kind labels do not judge.
	Covered, Confirmed, NotCovered int
}

// Judged reports whether late labels judge the rule's alerts
// (audit.JudgedKinds): only those have a precision to speak of.
func (s *RuleStats) Judged() bool { return slices.Contains(audit.JudgedKinds, s.Kind) }

// Precision is Confirmed / Covered: of the rule's alerts that labels
// later covered, the share they confirmed. ok is false when labels
// covered none: a rule nobody could check has no precision.
func (s *RuleStats) Precision() (p float64, ok bool) {
	if s.Covered == 0 {
		return 0, false
	}
	return float64(s.Confirmed) / float64(s.Covered), true
}

// MinCovered and MinPrecision decide when a rule is a candidate to
// retune: at least MinCovered of its alerts covered by labels (fewer say
// little: two unlucky weeks are not a pattern), and fewer than
// MinPrecision of them confirmed (most of its alerts were wrong).
const (
	MinCovered   = 5
	MinPrecision = 0.5
)

// Retune reports whether the rule's precision stays low enough, over
// enough covered alerts, to flag it as a candidate to retune.
func (s *RuleStats) Retune() bool {
	p, ok := s.Precision()
	return ok && s.Covered >= MinCovered && p < MinPrecision
}

// occurrence is one opening of an alert and what followed it, up to the
// next opening.
type occurrence struct {
	model, rule, kind     string
	opened                time.Time
	acked                 bool
	ack                   time.Duration
	falseAlarm, escalated bool
	// covered: a labels verdict judged it; confirmed: at least one did so.
	covered, confirmed bool
}

// Report counts the occurrences opened in [since, until) in records (the
// trails of any number of alerts, whole or cut to a time range), per model
// and rule, ordered noisiest first: by false-alarm rate, then by alerts.
// Rules without an occurrence in the window are left out.
//
// Records of an occurrence opened before since are ignored, so that a
// window starting mid-trail neither counts an old alert nor credits its
// late acknowledgement to the window; records at or after until are
// ignored, so that the report reads the same whenever it is run.
//
// An occurrence several label windows (or the labels of several series)
// judged counts as confirmed if any of them confirmed it: one window's
// outcomes bore the alert out, and a wider or other segment's that held
// does not make it wrong. One no labels judged counts apart (NotCovered).
func Report(records []audit.Record, since, until time.Time) []RuleStats {
	var occs []*occurrence
	for _, trail := range trails(records) {
		occs = append(occs, occurrences(trail, since, until)...)
	}
	return tally(occs)
}

// trails splits records by alert, each in the trail's own order (Seq): At
// can tie or, for a person's action on a replayed alert, run behind.
func trails(records []audit.Record) map[string][]audit.Record {
	byAlert := map[string][]audit.Record{}
	for _, r := range records {
		byAlert[r.Alert] = append(byAlert[r.Alert], r)
	}
	for _, recs := range byAlert {
		slices.SortStableFunc(recs, func(a, b audit.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	return byAlert
}

// occurrences are the openings in [since, until) on one alert's trail and
// what followed each.
func occurrences(trail []audit.Record, since, until time.Time) []*occurrence {
	var occs []*occurrence
	var cur *occurrence
	byOpening := map[time.Time]*occurrence{}
	for _, r := range trail {
		if !r.At.Before(until) {
			continue
		}
		switch r.Action {
		case audit.Opened:
			cur = nil
			if !r.At.Before(since) {
				cur = &occurrence{model: r.Model, rule: r.Rule, kind: r.Kind, opened: r.At}
				occs = append(occs, cur)
				byOpening[r.At.UTC()] = cur
			}
		case audit.LabelsConfirmed, audit.LabelsNotConfirmed:
			// Labels judge the opening they cover, which may not be the
			// latest: the alert can reopen before they come.
			if o := byOpening[r.Covers.UTC()]; o != nil {
				o.covered, o.confirmed = true, o.confirmed || r.Action == audit.LabelsConfirmed
			}
		case audit.Suppressed:
			// The router records an inhibited opening as suppressed
			// instead of opened: nobody was told, so it is no occurrence,
			// and what follows is not the previous one's.
			cur = nil
		default:
			if cur != nil {
				cur.follow(r)
			}
		}
	}
	return occs
}

// follow counts what people and the escalator did with the occurrence.
func (o *occurrence) follow(r audit.Record) {
	switch r.Action {
	case audit.Acknowledged, audit.Snoozed:
		if !o.acked {
			o.acked, o.ack = true, max(r.At.Sub(o.opened), 0)
		}
	case audit.FalseAlarm:
		o.falseAlarm = true
	case audit.Escalated:
		o.escalated = true
	}
}

// tally adds the occurrences up per model and rule, noisiest first.
func tally(occs []*occurrence) []RuleStats {
	type key struct{ model, rule string }
	stats := map[key]*RuleStats{}
	acks := map[key][]time.Duration{}
	for _, o := range occs {
		k := key{o.model, o.rule}
		s := stats[k]
		if s == nil {
			s = &RuleStats{Model: o.model, Rule: o.rule, Kind: o.kind}
			stats[k] = s
		}
		s.add(o)
		if o.acked {
			acks[k] = append(acks[k], o.ack)
		}
	}
	out := make([]RuleStats, 0, len(stats))
	for k, s := range stats {
		s.FalseAlarmRate = float64(s.FalseAlarms) / float64(s.Alerts)
		if d := acks[k]; len(d) > 0 {
			slices.Sort(d)
			s.MedianAck, s.P90Ack = Percentile(d, 0.5), Percentile(d, 0.9)
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b RuleStats) int {
		return cmp.Or(cmp.Compare(b.FalseAlarmRate, a.FalseAlarmRate), cmp.Compare(b.Alerts, a.Alerts),
			cmp.Compare(a.Model, b.Model), cmp.Compare(a.Rule, b.Rule))
	})
	return out
}

// add counts one occurrence of the rule: its reception and, for a kind
// labels judge, its verdict (or that it had none).
func (s *RuleStats) add(o *occurrence) {
	s.Alerts++
	if o.acked {
		s.Acknowledged++
	} else {
		s.Unacknowledged++
	}
	if o.falseAlarm {
		s.FalseAlarms++
	}
	if o.escalated {
		s.Escalations++
	}
	switch {
	case !s.Judged():
	case !o.covered:
		s.NotCovered++
	case o.confirmed:
		s.Covered++
		s.Confirmed++
	default:
		s.Covered++
	}
}

// Percentile is the nearest-rank percentile of sorted, non-empty d: a time
// someone actually took, which an owner can find in the trail, rather than
// an interpolation between two of a handful of alerts.
func Percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(i, 0)]
}
