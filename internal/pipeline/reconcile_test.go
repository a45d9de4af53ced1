package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

const day = 24 * time.Hour

// labels is a quality event measured over [from, to) days after t0,
// arriving at days after t0.
func labels(id string, auc float64, from, to, at int) []byte {
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"m","kind":"quality","metric":"auc","value":%v,"observed_at":%q,"window_start":%q,"window_end":%q}}`,
		id, auc, t0.Add(time.Duration(at)*day).Format(time.RFC3339), t0.Add(time.Duration(from)*day).Format(time.RFC3339),
		t0.Add(time.Duration(to)*day).Format(time.RFC3339)))
}

// failLabelsOnce fails one commit that records a labels verdict, the
// first after `after` of them succeeded, as a throttled table would: the
// event is retried whole.
type failLabelsOnce struct {
	*memstore.Store
	failed bool
	after  int
}

func (f *failLabelsOnce) Commit(ctx context.Context, c *state.Commit) error {
	if !f.failed && slices.ContainsFunc(c.Audit, func(r audit.Record) bool { return strings.HasPrefix(r.Action, "labels-") }) {
		if f.after == 0 {
			f.failed = true
			return errors.New("throttled")
		}
		f.after--
	}
	return f.Store.Commit(ctx, c)
}

func newLabelsProcessor(t *testing.T) (*Processor, *failLabelsOnce) {
	now := func() time.Time { return t0.Add(30 * day) }
	st := &failLabelsOnce{Store: memstore.New(now), failed: true}
	return &Processor{Config: testConfig(t), Store: st, Now: now}, st
}

// verdicts are the labels records on alert id's trail.
func verdicts(t *testing.T, st *memstore.Store, id string) []audit.Record {
	t.Helper()
	recs, err := st.AlertRecords(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(recs); err != nil {
		t.Errorf("trail of %s: %v", id, err)
	}
	return slices.DeleteFunc(recs, func(r audit.Record) bool { return !strings.HasPrefix(r.Action, "labels-") })
}

func TestLateLabelsJudgeTheDriftAlertsTheirWindowCovers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		auc    float64
		action string
	}{
		{"quality dropped: confirmed", 0.6, audit.LabelsConfirmed},
		{"quality held: not confirmed", 0.9, audit.LabelsNotConfirmed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newLabelsProcessor(t)
			process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
			process(t, p, event("d2", "drift", "psi", "tenure", 0.4, 9*day)) // after the window
			out := process(t, p, labels("q1", tc.auc, 0, 7, 21))
			if len(out.Judged) != 1 || out.Judged[0].Alert != "m/psi/feature=income" || !out.Judged[0].Opened.Equal(t0.Add(2*day)) {
				t.Fatalf("Judged = %+v, want income's opening alone", out.Judged)
			}
			got := verdicts(t, st.Store, "m/psi/feature=income")
			if len(got) != 1 || got[0].Action != tc.action || !got[0].Covers.Equal(t0.Add(2*day)) {
				t.Fatalf("verdicts = %+v, want one %s covering day 2", got, tc.action)
			}
			if want := "labels for 2026-03-01 – 2026-03-07 arrived: auc"; !strings.HasPrefix(got[0].Detail, want) {
				t.Errorf("detail = %q, want it to start %q", got[0].Detail, want)
			}
			i := slices.IndexFunc(out.Queued, func(n *state.Notification) bool { return n.Kind == state.NoticeLabels })
			if i < 0 || !slices.Equal(out.Queued[i].Channels, []string{"slack"}) || out.Queued[i].Lifecycle.Note != got[0].Detail {
				t.Errorf("queued = %+v, want a labels reply to slack alone saying the verdict", out.Queued)
			}
			if v := verdicts(t, st.Store, "m/psi/feature=tenure"); len(v) != 0 {
				t.Errorf("tenure, opened after the window, was judged: %+v", v)
			}
		})
	}
}

// At least once in, exactly once out: a verdict whose commit failed is
// recorded when the event is redelivered, and a redelivery after it
// records nothing more.
func TestLateLabelsJudgeOnceUnderRedelivery(t *testing.T) {
	p, st := newLabelsProcessor(t)
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	st.failed = false
	if _, err := p.Process(context.Background(), labels("q1", 0.6, 0, 7, 21)); err == nil {
		t.Fatal("Process succeeded though the verdict's commit failed")
	}
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != 0 {
		t.Fatalf("verdicts after a failed commit = %+v", v)
	}
	for range 2 {
		out := process(t, p, labels("q1", 0.6, 0, 7, 21))
		if !out.Duplicate {
			t.Errorf("redelivery not seen as a duplicate")
		}
	}
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != 1 {
		t.Errorf("verdicts after redeliveries = %d, want 1", len(v))
	}
	// Labels of another window covering the same opening judge it again.
	process(t, p, labels("q2", 0.6, 0, 14, 22))
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != 2 {
		t.Errorf("verdicts after a second window = %d, want 2", len(v))
	}
}

// A flapping alert opened more often in one window than an alert keeps
// verdict marks for (state.MaxJudged): each opening is judged once, a
// redelivery judges nothing again and tells Slack nothing again, and a
// redelivery after a failed verdict records the rest and is done.
func TestLateLabelsJudgeEachOpeningOfAFlappingAlertOnce(t *testing.T) {
	const openings = state.MaxJudged + 4
	for _, failAt := range []int{-1, state.MaxJudged + 1} {
		t.Run(fmt.Sprintf("failing verdict %d", failAt), func(t *testing.T) {
			p, st := newLabelsProcessor(t)
			for i := range openings {
				at := time.Duration(i) * 8 * time.Hour
				process(t, p, event(fmt.Sprintf("up%d", i), "drift", "psi", "income", 0.4, at))
				process(t, p, event(fmt.Sprintf("down%d", i), "drift", "psi", "income", 0.1, at+4*time.Hour))
			}
			if failAt >= 0 {
				st.failed, st.after = false, failAt
				if _, err := p.Process(context.Background(), labels("q1", 0.6, 0, 7, 21)); err == nil {
					t.Fatal("Process succeeded though a verdict's commit failed")
				}
			} else {
				process(t, p, labels("q1", 0.6, 0, 7, 21))
			}
			before := labelsReplies(t, st.Store)
			for i := range 2 {
				if i == 1 {
					before = labelsReplies(t, st.Store) // the first redelivery told the rest
				}
				out, err := p.Process(context.Background(), labels("q1", 0.6, 0, 7, 21))
				if err != nil {
					t.Fatalf("redelivery: %v (the event would be retried until dead-lettered)", err)
				}
				// After a failed verdict the first redelivery judges the
				// openings left; every other judges none.
				if (failAt < 0 || i == 1) && (len(out.Judged) != 0 || labelsRepliesIn(out.Queued) != 0) {
					t.Errorf("redelivery %d judged %d openings and queued %d replies, want none", i+1, len(out.Judged), labelsRepliesIn(out.Queued))
				}
				if failAt >= 0 && i == 0 && len(out.Judged) != openings-failAt {
					t.Errorf("redelivery after the failed verdict judged %d openings, want the %d left", len(out.Judged), openings-failAt)
				}
			}
			got := verdicts(t, st.Store, "m/psi/feature=income")
			covers := map[time.Time]int{}
			for _, v := range got {
				covers[v.Covers]++
			}
			if len(got) != openings || len(covers) != openings {
				t.Errorf("%d verdicts on %d openings, want one on each of %d", len(got), len(covers), openings)
			}
			if after := labelsReplies(t, st.Store); after != before {
				t.Errorf("Slack replies queued: %d after the last redelivery, %d before", after, before)
			}
		})
	}
}

// A redelivery arriving after more than state.MaxJudged other windows and
// series judged the same opening (its mark on the alert pushed out) finds
// that opening's Slack reply stored: it judges nothing again, tells
// nothing again, and is acknowledged rather than retried until
// dead-lettered.
func TestLateLabelsRedeliveredAfterTheirMarkWasPushedOutJudgeNothing(t *testing.T) {
	p, st := newLabelsProcessor(t)
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	process(t, p, labels("q1", 0.6, 0, 7, 21))
	for i := range state.MaxJudged {
		process(t, p, labelsOf(fmt.Sprintf("s%d", i), "auc", fmt.Sprintf("seg%d", i), 0.6, 0, 7, 21))
	}
	const judged = state.MaxJudged + 1
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != judged {
		t.Fatalf("verdicts before the redelivery = %d, want %d", len(v), judged)
	}
	before := labelsReplies(t, st.Store)
	if before != judged {
		t.Fatalf("Slack replies before the redelivery = %d, want %d", before, judged)
	}
	out, err := p.Process(context.Background(), labels("q1", 0.6, 0, 7, 21))
	if err != nil {
		t.Fatalf("redelivery: %v (the event would be retried until dead-lettered)", err)
	}
	if !out.Duplicate || len(out.Judged) != 0 || labelsRepliesIn(out.Queued) != 0 {
		t.Errorf("redelivery: duplicate %v, judged %d openings, queued %d replies; want a duplicate judging none",
			out.Duplicate, len(out.Judged), labelsRepliesIn(out.Queued))
	}
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != judged {
		t.Errorf("verdicts after the redelivery = %d, want %d", len(v), judged)
	}
	if after := labelsReplies(t, st.Store); after != before {
		t.Errorf("Slack replies: %d after the redelivery, %d before", after, before)
	}
}

func labelsRepliesIn(ns []*state.Notification) int {
	n := 0
	for _, x := range ns {
		if x.Kind == state.NoticeLabels {
			n++
		}
	}
	return n
}

// labelsReplies counts the labels replies in st's outbox.
func labelsReplies(t *testing.T, st *memstore.Store) int {
	t.Helper()
	pending, err := st.Pending(context.Background(), farFuture, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return labelsRepliesIn(pending)
}

// labelsOf is a quality event of metric over [from, to) days after t0 in
// segment seg ("" none), arriving at days after t0.
func labelsOf(id, metric, seg string, value float64, from, to, at int) []byte {
	s := ""
	if seg != "" {
		s = fmt.Sprintf(`,"segment":%q`, seg)
	}
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"test","detail":{"model":"m","kind":"quality","metric":%q,"value":%v,"observed_at":%q,"window_start":%q,"window_end":%q%s}}`,
		id, metric, value, t0.Add(time.Duration(at)*day).Format(time.RFC3339), t0.Add(time.Duration(from)*day).Format(time.RFC3339),
		t0.Add(time.Duration(to)*day).Format(time.RFC3339), s))
}

// A reading no quality rule of the model evaluated (the auc rule reads
// metric auc alone) says nothing of the alerts: no verdict.
func TestLateLabelsNoQualityRuleEvaluatedGiveNoVerdict(t *testing.T) {
	p, st := newLabelsProcessor(t)
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	out := process(t, p, labelsOf("q1", "recall", "", 0.1, 0, 7, 21))
	if len(out.Judged) != 0 {
		t.Errorf("Judged = %+v, want none: no quality rule evaluated recall", out.Judged)
	}
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != 0 {
		t.Errorf("verdicts = %+v, want none", v)
	}
}

// Only quality rules (their condition tests kind == "quality") decide: a
// rule of no kind that fires on the same reading confirms nothing.
func TestLateLabelsOnlyQualityRulesDecide(t *testing.T) {
	model := testModel + `  - name: anything-low
    when: metric == "auc" && value < 0.8
    severity: warning
    owner: model
`
	now := func() time.Time { return t0.Add(30 * day) }
	st := memstore.New(now)
	p := &Processor{Config: configFrom(t, model), Store: st, Now: now}
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	out := process(t, p, labels("q1", 0.75, 0, 7, 21)) // anything-low fires, auc holds
	got := verdicts(t, st, "m/psi/feature=income")
	if len(got) != 1 || got[0].Action != audit.LabelsNotConfirmed || len(out.Judged) != 1 || out.Judged[0].Confirmed {
		t.Fatalf("verdicts = %+v, want one not confirmed: the quality rule auc held", got)
	}
	if strings.Contains(got[0].Detail, "anything-low") {
		t.Errorf("detail %q names a rule that is not a quality rule", got[0].Detail)
	}
}

// Two series of one model (segments) judged by the same window are two
// verdicts, each once.
func TestLateLabelsOfTwoSeriesJudgeTwice(t *testing.T) {
	p, st := newLabelsProcessor(t)
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	process(t, p, labelsOf("q1", "auc", "north", 0.6, 0, 7, 21))
	process(t, p, labelsOf("q2", "auc", "south", 0.9, 0, 7, 21))
	process(t, p, labelsOf("q2", "auc", "south", 0.9, 0, 7, 21)) // redelivered
	got := verdicts(t, st.Store, "m/psi/feature=income")
	if len(got) != 2 || got[0].Action != audit.LabelsConfirmed || got[1].Action != audit.LabelsNotConfirmed {
		t.Fatalf("verdicts = %+v, want north's confirmed then south's not confirmed", got)
	}
}

// The verdict is told in the thread of the group the judged opening was
// told in, not in that of a group the alert opened in since.
func TestLateLabelsReplyInTheThreadOfTheJudgedOpening(t *testing.T) {
	p, st := newLabelsProcessor(t)
	first := process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	process(t, p, event("d2", "drift", "psi", "income", 0.1, 3*day))
	again := process(t, p, event("d3", "drift", "psi", "income", 0.4, 9*day))
	if len(first.Queued) == 0 || len(again.Queued) == 0 || first.Queued[0].Group == again.Queued[0].Group {
		t.Fatalf("want the alert to open in two groups: %+v then %+v", first.Queued, again.Queued)
	}
	want := first.Queued[0].Group
	out := process(t, p, labels("q1", 0.6, 0, 7, 21))
	i := slices.IndexFunc(out.Queued, func(n *state.Notification) bool { return n.Kind == state.NoticeLabels })
	if i < 0 || out.Queued[i].Group != want {
		t.Fatalf("queued = %+v, want a labels reply to group %s", out.Queued, want)
	}
	if got := verdicts(t, st.Store, "m/psi/feature=income"); len(got) != 1 || got[0].Group != want {
		t.Errorf("verdicts = %+v, want one recorded on group %s", got, want)
	}
}

// A window longer than MaxLabelsSpan judges its latest MaxLabelsSpan, and
// says so on each verdict and in the log: never silently.
func TestLateLabelsOfALongWindowJudgeItsLatestDays(t *testing.T) {
	now := func() time.Time { return t0.Add(130 * day) }
	st := memstore.New(now)
	var log strings.Builder
	p := &Processor{Config: testConfig(t), Store: st, Now: now, Log: slog.New(slog.NewTextHandler(&log, nil))}
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	process(t, p, event("d2", "drift", "psi", "tenure", 0.4, 100*day))
	out := process(t, p, labels("q1", 0.6, 0, 120, 125))
	if len(out.Judged) != 1 || out.Judged[0].Alert != "m/psi/feature=tenure" {
		t.Fatalf("Judged = %+v, want tenure's opening alone (income's is over 92 days before the window's end)", out.Judged)
	}
	got := verdicts(t, st, "m/psi/feature=tenure")
	if len(got) != 1 || !strings.Contains(got[0].Detail, "longer than 92 days") {
		t.Errorf("verdicts = %+v, want one saying the window was cut", got)
	}
	if !strings.Contains(log.String(), "longer than 92 days") {
		t.Errorf("log = %q, want the cut said", log.String())
	}
}

// Past LabelsRecords records in the window, the latest are judged, and the
// verdicts say from when.
func TestLateLabelsReadAtMostTheRecordLimit(t *testing.T) {
	p, st := newLabelsProcessor(t)
	p.LabelsRecords = 3
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 1*day)) // opened, queued
	process(t, p, event("d2", "drift", "psi", "tenure", 0.4, 2*day))
	process(t, p, event("d3", "drift", "psi", "age", 0.4, 3*day))
	out := process(t, p, labels("q1", 0.6, 0, 7, 21))
	if len(out.Judged) != 1 || out.Judged[0].Alert != "m/psi/feature=age" {
		t.Fatalf("Judged = %+v, want the latest opening alone", out.Judged)
	}
	got := verdicts(t, st.Store, "m/psi/feature=age")
	if len(got) != 1 || !strings.Contains(got[0].Detail, "the latest 3 records") {
		t.Errorf("verdicts = %+v, want one saying the records were cut", got)
	}
}

// An attempt's reading of the labels is not kept by the next: a labels
// event decided with a verdict, whose commit conflicted with a delivery
// of the same event that kept no reading (a router on a configuration
// whose quality rules read another metric), judges nothing — as a
// redelivery of it would not.
func TestLateLabelsJudgeFromTheAttemptThatCounted(t *testing.T) {
	now := func() time.Time { return t0.Add(30 * day) }
	st := &racingStore{Store: memstore.New(now)}
	p := &Processor{Config: testConfig(t), Store: st, Now: now}
	kindless := strings.Replace(testModel, `kind == "quality" && metric == "auc"`, `metric == "auc"`, 1)
	other := &Processor{Config: configFrom(t, kindless), Store: st.Store, Now: now}
	process(t, p, event("d1", "drift", "psi", "income", 0.4, 2*day))
	st.race = func(commit int) error {
		if commit == 2 { // the labels event's first commit
			if out, err := other.Process(context.Background(), labels("q1", 0.6, 0, 7, 21)); err != nil || !out.Wrote || len(out.Judged) != 0 {
				t.Fatalf("the racing delivery: %+v, %v; want it written, judging nothing", out, err)
			}
			return errConflict // as a store reports a changed series
		}
		return nil
	}
	out := process(t, p, labels("q1", 0.6, 0, 7, 21))
	if out.Attempts != 2 || !out.Duplicate {
		t.Fatalf("Process = %d attempts, duplicate %v; want a second attempt that finds the event applied", out.Attempts, out.Duplicate)
	}
	if len(out.Judged) != 0 {
		t.Errorf("Judged = %+v, want none: the delivery that counted kept no reading", out.Judged)
	}
	if v := verdicts(t, st.Store, "m/psi/feature=income"); len(v) != 0 {
		t.Errorf("verdicts = %+v, want none", v)
	}
}
