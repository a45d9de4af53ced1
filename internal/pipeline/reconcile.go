package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Late labels. A quality event measures outcomes (labels) over its window,
// often weeks after drift and prediction alerts guessed at them from proxy
// signals. When it arrives, every drift or prediction alert of the model
// that opened inside its window gets a verdict from the model's quality
// rules (those whose condition tests kind == "quality") on that very
// reading: confirmed if one of them fired on it, not confirmed if they
// evaluated it and all held. A reading no quality rule evaluated (another
// metric, a field a rule needs missing), or on which one is still pending
// its for:, gives no verdict: it says nothing either way. Other rules
// firing on the reading, or alerts left open by earlier readings, decide
// nothing. The verdict is recorded on the alert's audit trail, told in the
// Slack thread of the group its opening belonged to (never paged), and
// counted by `stakeout noise` as the rule's precision.
//
// The verdict is its own commit per alert, after the event's: conditioned
// on the alert's version and marked on the alert (Alert.Judged: the
// window, the labels' series and the latest opening judged), so that a redelivered event — whose own
// commit is then a duplicate, and which judges from the evaluation kept
// on its series (Series.Labels) — judges what its first delivery did not,
// and nothing twice: once the mark is pushed out (state.MaxJudged), the
// verdict's stored Slack reply says it was judged (replyStored).

// Judgement is a verdict late labels gave an alert's opening.
type Judgement struct {
	Alert     string
	Opened    time.Time
	Confirmed bool
}

// opening is one opening of an alert that a window covers, and the group
// it was told in ("" none): its verdict is told in that group's thread,
// whatever group the alert is in since.
type opening struct {
	alert string
	at    time.Time
	group string
	owner string // the group's owner and role then (its thread is in
	role  string // that owner's channel)
	slack bool   // it was told on Slack
}

// Bounds on what one quality event judges: its window's latest
// MaxLabelsSpan (a quarter: labels matured over a longer window say little
// of one drift alert), and the latest MaxLabelsRecords of the model's
// audit records in it (a bounded read, whatever the model's traffic).
// Beyond them it judges what fits and says so, in the log and on each
// verdict.
const (
	MaxLabelsSpan    = 92 * 24 * time.Hour
	MaxLabelsRecords = 5000
)

// reconcile judges the openings that ev's window covers, when ev is a
// quality event with a window that was applied (or had been) and its
// model's quality rules reached a verdict on it (labels, nil: none).
func (p *Processor) reconcile(ctx context.Context, m *config.Model, ev *signal.Event, labels *state.LabelsReading, out *Outcome) error {
	if labels == nil || ev.Kind != "quality" || ev.WindowStart == nil || ev.WindowEnd == nil || out.Late != "" || out.Quarantined != "" {
		return nil
	}
	covered, cut, err := p.covered(ctx, m.ID, *ev.WindowStart, *ev.WindowEnd)
	if err != nil {
		return err
	}
	if cut != "" {
		p.logWarn(ctx, "late labels judge part of their window", "event_id", out.EventID, "model", m.ID, "reason", cut)
	}
	for _, o := range covered {
		if err := p.judge(ctx, ev, out, o, labels.Fired, cut); err != nil {
			return fmt.Errorf("judge alert %s opened %s by labels of event %s: %w", o.alert, o.at.Format(time.RFC3339), out.EventID, err)
		}
	}
	return nil
}

// labelsReading is what the model's quality rules made of the quality
// reading ev with a window (nil for any other event): the ones that fired,
// or how many evaluated it and held. Nil too when none evaluated it, or
// none fired and one is pending its for:: no verdict.
func labelsReading(id string, ev *signal.Event, results []engine.Result) *state.LabelsReading {
	if ev.Kind != "quality" || ev.WindowStart == nil || ev.WindowEnd == nil {
		return nil
	}
	r := state.LabelsReading{Event: id}
	pending := false
	for i := range results {
		res := &results[i]
		if res.Rule.When == nil || !slices.Contains(res.Rule.When.Kinds(), "quality") {
			continue
		}
		switch res.Status {
		case engine.Firing:
			r.Evaluated++
			if len(r.Fired) < state.MaxLabelsFired {
				r.Fired = append(r.Fired, res.Rule.Name)
			}
		case engine.Pending:
			r.Evaluated++
			pending = true
		case engine.Clear:
			r.Evaluated++
		}
	}
	if r.Evaluated == 0 || (pending && len(r.Fired) == 0) {
		return nil
	}
	return &r
}

// covered lists the openings of the model's drift and prediction alerts
// from start to end, both included, from the audit trail (the store's
// index of a model's records by time), within MaxLabelsSpan and
// MaxLabelsRecords; cut says what was left out ("" nothing).
func (p *Processor) covered(ctx context.Context, model string, start, end time.Time) (_ []opening, cut string, err error) {
	var cuts []string
	if end.Sub(start) > MaxLabelsSpan {
		start = end.Add(-MaxLabelsSpan)
		cuts = append(cuts, fmt.Sprintf("the window is longer than %d days: openings from %s on were judged",
			MaxLabelsSpan/(24*time.Hour), start.UTC().Format(time.RFC3339)))
	}
	limit := cmp.Or(p.LabelsRecords, MaxLabelsRecords)
	recs, more, err := p.Store.LatestModelRecords(ctx, model, start, end.Add(time.Nanosecond), limit)
	if err != nil {
		return nil, "", fmt.Errorf("read the audit trail of %s from %s to %s: %w", model, start.Format(time.RFC3339), end.Format(time.RFC3339), err)
	}
	if more && len(recs) > 0 {
		// The oldest instant read may be missing records of its commit
		// (an opening's notice): judged from the next one on.
		oldest := recs[0].At
		recs = slices.DeleteFunc(recs, func(r audit.Record) bool { return r.At.Equal(oldest) })
		cuts = append(cuts, fmt.Sprintf("only the latest %d records of the model in the window were read: openings after %s were judged",
			limit, oldest.UTC().Format(time.RFC3339)))
	}
	return openings(recs), strings.Join(cuts, "; "), nil
}

// openings are the openings of drift and prediction alerts in recs, each
// with the group it joined. An opened record carries the group the alert
// was in before (it joins one after it is recorded): the group is the one
// of the first notification queued for it in the same commit (same alert,
// same time, a later record).
func openings(recs []audit.Record) []opening {
	type at struct {
		alert string
		at    time.Time
	}
	queued := map[at][]audit.Record{}
	for _, r := range recs {
		if r.Action == audit.Queued && r.Group != "" {
			k := at{r.Alert, r.At.UTC()}
			queued[k] = append(queued[k], r)
		}
	}
	var out []opening
	for _, r := range recs {
		if r.Action != audit.Opened || !slices.Contains(audit.JudgedKinds, r.Kind) {
			continue
		}
		o := opening{alert: r.Alert, at: r.At.UTC(), slack: slices.Contains(r.Notify, "slack")}
		var told *audit.Record
		for i, q := range queued[at{r.Alert, r.At.UTC()}] {
			if q.Seq > r.Seq && (told == nil || q.Seq < told.Seq) {
				told = &queued[at{r.Alert, r.At.UTC()}][i]
			}
		}
		if told != nil {
			o.group, o.owner, o.role = told.Group, told.Owner, told.Role
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b opening) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.alert, b.alert)) })
	return slices.CompactFunc(out, func(a, b opening) bool { return a.alert == b.alert && a.at.Equal(b.at) })
}

// judgedKey names a verdict on an alert: its opening, the window and the
// labels' series (two series of a model judged by one window are two
// verdicts), the series hashed to keep the key short. Its notification's
// id derives from it.
func judgedKey(o opening, ev *signal.Event) string {
	return o.at.Format(time.RFC3339Nano) + "|" + labelsWindow(ev)
}

// labelsWindow names the labels' window and series.
func labelsWindow(ev *signal.Event) string {
	sum := sha256.Sum256([]byte(ev.Series().ID()))
	return ev.WindowStart.UTC().Format(time.RFC3339Nano) + "|" + ev.WindowEnd.UTC().Format(time.RFC3339Nano) + "|" +
		hex.EncodeToString(sum[:8])
}

// The mark in Alert.Judged of a labels window and series is its name and
// the latest opening of the alert it judged: one event judges an alert's
// openings oldest first, one commit each, so those up to the mark are
// judged and a retry resumes after it. One mark per window, however often
// the alert opened in it (a flapping alert opens dozens of times), so an
// event never pushes out its own marks (Alert.Judged keeps the latest
// state.MaxJudged). An opening older than the mark that the first delivery
// did not judge (it read fewer records) is not judged later: nothing is
// judged twice.
func judged(a *state.Alert, o opening, ev *signal.Event) bool {
	prefix, key := labelsWindow(ev)+"|", judgedKey(o, ev)
	for _, j := range a.Judged {
		if j == key {
			return true // a mark of the earlier form: one per opening
		}
		if rest, ok := strings.CutPrefix(j, prefix); ok {
			latest, err := time.Parse(time.RFC3339Nano, rest)
			return err == nil && !o.at.After(latest)
		}
	}
	return false
}

// markJudged moves the mark of ev's window on a to o, last in a.Judged:
// the marks dropped beyond state.MaxJudged are those written longest ago.
func markJudged(a *state.Alert, o opening, ev *signal.Event) {
	prefix := labelsWindow(ev) + "|"
	a.Judged = slices.DeleteFunc(a.Judged, func(j string) bool { return strings.HasPrefix(j, prefix) })
	a.Judged = append(a.Judged, prefix+o.at.Format(time.RFC3339Nano))
	if n := len(a.Judged); n > state.MaxJudged {
		a.Judged = slices.Delete(a.Judged, 0, n-state.MaxJudged)
	}
}

// judge records one verdict, unless the alert has it already.
func (p *Processor) judge(ctx context.Context, ev *signal.Event, out *Outcome, o opening, fired []string, cut string) error {
	key := judgedKey(o, ev)
	return state.OnConflict(ctx, maxAttempts, func(int) error {
		a, err := p.Store.GetAlert(ctx, o.alert)
		if err != nil {
			return fmt.Errorf("read alert: %w", err)
		}
		if a == nil || judged(a, o, ev) {
			return nil
		}
		a = a.Clone()
		markJudged(a, o, ev)
		action, detail := labelsVerdict(ev, a, fired)
		if cut != "" {
			detail += " (" + cut + ")"
		}
		group := cmp.Or(o.group, a.Group)
		v := ev.Value
		rec := audit.Record{Alert: a.ID, At: ev.ObservedAt, Recorded: p.wallClock(ev.ObservedAt), Action: action, Actor: "router",
			EventID: out.EventID, Model: a.Model, Version: a.ModelVersion, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric,
			Feature: a.Feature, Segment: a.Segment, Value: &v, Severity: a.Severity, Role: a.Role, Owner: a.Owner,
			Notify: slices.Clone(a.Notify), Group: group, Detail: detail, Covers: o.at, ConfigDigest: p.Config.Digest}
		c := &state.Commit{}
		c.Record(a, rec)
		n := labelsNotice(a, o, key, detail, p.wallClock(ev.ObservedAt))
		if n != nil {
			c.Outbox = append(c.Outbox, n)
		}
		if err := p.Store.Commit(ctx, c); err != nil {
			if replyStored(n, err) {
				return nil
			}
			return err
		}
		ch := Change{At: ev.ObservedAt, Alert: a.ID, Model: a.Model, Rule: a.Rule, State: action, Severity: a.Severity,
			Owner: a.Owner, Notify: []string{}, Value: ev.Value, Group: group, Summary: detail}
		if n != nil {
			ch.Notify = n.Channels
			out.Queued = append(out.Queued, n)
		}
		out.Changes = append(out.Changes, ch)
		out.Judged = append(out.Judged, Judgement{Alert: a.ID, Opened: o.at, Confirmed: action == audit.LabelsConfirmed})
		return nil
	})
}

// replyStored says whether a verdict's commit failed because its reply n is
// stored: its id derives from the verdict, so an earlier delivery judged
// the opening and its mark was pushed out since (more than
// state.MaxJudged windows and series judged the alert after it). Skipped,
// the opening is judged and told once; retried, the commit would conflict
// every time until the event is dead-lettered.
func replyStored(n *state.Notification, err error) bool {
	var exists *state.NoticeExists
	return n != nil && errors.As(err, &exists) && exists.ID == n.ID
}

// labelsVerdict is the audit action and the words of a verdict: "labels
// for 2026-06-01 – 2026-06-07 arrived: loss_ratio 0.23 (loss-ratio-up
// fired): drift confirmed".
func labelsVerdict(ev *signal.Event, a *state.Alert, fired []string) (action, detail string) {
	what := fmt.Sprintf("labels for %s arrived: %s %s", span(*ev.WindowStart, *ev.WindowEnd), ev.Metric, expression.FormatNumber(ev.Value))
	if len(fired) == 0 {
		return audit.LabelsNotConfirmed, fmt.Sprintf("%s (quality held): %s not confirmed", what, a.Kind)
	}
	return audit.LabelsConfirmed, fmt.Sprintf("%s (%s fired): %s confirmed", what, strings.Join(fired, ", "), a.Kind)
}

// span is a window in words: by day when it is whole days, its end at
// midnight (exclusive) or in the last second of a day (inclusive).
func span(start, end time.Time) string {
	start, end = start.UTC(), end.UTC()
	midnight := func(t time.Time) bool { return t.Equal(t.Truncate(24 * time.Hour)) }
	last := end.Add(-time.Nanosecond) // an end at midnight is the day before's
	if !midnight(end) {
		last = end.Truncate(time.Second).Add(time.Second - time.Nanosecond) // 23:59:59 → that day
	}
	if !midnight(start) || !midnight(last.Add(time.Nanosecond)) {
		return start.Format("2006-01-02 15:04Z") + " – " + end.Format("2006-01-02 15:04Z")
	}
	return start.Format("2006-01-02") + " – " + last.Format("2006-01-02")
}

// labelsNotice is the thread reply telling the group the judged opening
// was told in of the verdict: to Slack only (a verdict on an old alert
// pages nobody), and only for an opening told in a group there.
func labelsNotice(a *state.Alert, o opening, key, detail string, at time.Time) *state.Notification {
	if o.group == "" || !o.slack {
		return nil
	}
	sum := sha256.Sum256([]byte(a.ID + "|" + key))
	n := &state.Notification{ID: o.group + "/labels/" + hex.EncodeToString(sum[:8]), Kind: state.NoticeLabels, Group: o.group,
		Model: a.Model, Rule: a.Rule, Owner: cmp.Or(o.owner, a.Owner), Role: cmp.Or(o.role, a.Role), Channels: []string{"slack"}, Alert: *a.Clone(),
		Members: 1, Created: at, Lifecycle: state.Lifecycle{Note: detail}}
	n.Alert.UpdatedAt, n.Alert.Group = at, o.group
	return n
}
