package looptest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// TestEscalatorsRace: two escalator runs at once (a slow run overlapping
// the next minute's) take each step once.
func TestEscalatorsRace(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 9, 6, 0, 5, 0, time.UTC)
	w := newWorld(t, t0)
	for _, e := range scenario(t, "credit-accuracy-collapse.jsonl")[:3] {
		w.event(e)
	}
	g := w.group("credit-approval", "accuracy-loss")
	w.set(t0.Add(15 * time.Minute))
	const runs = 4
	reps := make([]escalator.Report, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			e := &escalator.Escalator{Config: w.cfg, Store: w.st, Now: w.clock, Signals: []string{}}
			rep, err := e.Tick(context.Background())
			if err != nil {
				t.Error(err)
			}
			reps[i] = rep
		})
	}
	wg.Wait()
	escalated := 0
	for _, r := range reps {
		escalated += r.Escalated
	}
	if escalated != 1 {
		t.Fatalf("%d runs racing escalated %d times, want once", runs, escalated)
	}
	steps := 0
	for _, r := range w.trail(g.Members[0]) {
		if r.Action == audit.Escalated {
			steps++
		}
	}
	if steps != 1 {
		t.Errorf("%d escalation records, want 1", steps)
	}
	// The run that escalated "crashed" before delivering: the next run
	// does not escalate again, and its drain delivers the one message.
	if rep := w.tick(); rep.Escalated != 0 {
		t.Fatalf("the next run escalated again")
	}
	if msgs := w.slack.Messages("C0MLPLATFM"); len(msgs) != 1 {
		t.Fatalf("%d messages to ml-platform, want exactly 1", len(msgs))
	}
	if n, err := w.st.GetNotice(context.Background(), g.ID+"#3"); err != nil || n != nil {
		t.Errorf("a second escalation notification exists: %v %v", n, err)
	}
}

func driftEvent(id string, at time.Time) string {
	return fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"com.example.monitoring","account":"123456789012","time":%q,"region":"eu-west-1","resources":[],"detail":{"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.05,"observed_at":%q,"version":"2026.03.1"}}`,
		id, at.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
}

// TestSilence: credit-approval expects a drift signal every 24h (grace 2h
// by default): 26 h after the last one, at that minute's run, its platform
// owner gets "no drift signal for credit-approval for 26h"; the next
// signal resolves it at the run after it arrives.
func TestSilence(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	w := newWorld(t, t0)
	w.esc.Signals = []string{"credit-approval/drift"}
	w.tick() // the first run starts watching
	w.set(t0.Add(time.Minute))
	w.event(driftEvent("drift-1", w.clock()))
	last := w.clock()

	w.set(last.Add(26*time.Hour - time.Second))
	if rep := w.tick(); rep.SilenceOpened != 0 {
		t.Fatalf("silence opened %s early", time.Second)
	}
	w.set(last.Add(26 * time.Hour))
	if rep := w.tick(); rep.SilenceOpened != 1 {
		t.Fatalf("silence not opened 26h after the last signal (report %+v)", rep)
	}
	g := w.group("credit-approval", escalator.SilenceRule("drift", ""))
	a, err := w.st.GetAlert(context.Background(), g.Members[0])
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	if a.Owner != "ml-platform" || a.Summary != "no drift signal for credit-approval for 26h" || a.Severity != "high" {
		t.Errorf("silence alert: owner %s severity %s summary %q", a.Owner, a.Severity, a.Summary)
	}
	msgs := w.slack.Messages("C0MLPLATFM")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "no drift signal for credit-approval for 26h") {
		t.Fatalf("ml-platform was not told: %d messages", len(msgs))
	}
	// Still silent: no second alert, whatever the runs.
	for _, d := range []time.Duration{time.Minute, time.Hour, 5 * time.Hour} {
		w.set(last.Add(26*time.Hour + d))
		if rep := w.tick(); rep.SilenceOpened != 0 {
			t.Fatalf("a second silence alert at +%s", d)
		}
	}
	// The signal returns: resolved at the next run.
	back := last.Add(31*time.Hour + 30*time.Second)
	w.set(back)
	w.event(driftEvent("drift-2", back))
	w.set(back.Add(30 * time.Second))
	if rep := w.tick(); rep.SilenceResolved != 1 {
		t.Fatalf("silence not resolved when the signal came back (report %+v)", rep)
	}
	a, _ = w.st.GetAlert(context.Background(), a.ID)
	if a.Status != state.Resolved {
		t.Fatalf("silence alert %s", a.Status)
	}
	if m := w.slack.Messages("C0MLPLATFM")[0]; !strings.Contains(string(m.Blocks), "Resolved") {
		t.Error("the message does not show it resolved")
	}
	// And it watches again: 26 h after the new signal, a new alert.
	w.set(back.Add(26 * time.Hour))
	if rep := w.tick(); rep.SilenceOpened != 1 {
		t.Fatalf("no new silence alert 26h after the signal came back (report %+v)", rep)
	}
}

// TestDigest: an owner's digest is posted once, at digest_at (default
// 09:00) in the owner's time zone — 08:00 UTC for Stockholm in March —
// with what was kept for it since the last one.
func TestDigest(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 7, 6, 0, 0, 0, time.UTC)
	w := newWorld(t, t0)
	w.tick() // the first run creates every owner's schedule
	w.set(time.Date(2026, 3, 7, 6, 5, 0, 0, time.UTC))
	for _, e := range scenario(t, "playlist-drift.jsonl") {
		w.event(e)
		if strings.Contains(e, `"observed_at":"2026-03-07T06:05:00Z"`) {
			break // skip-rate-high opened: a warning, kept for listening-product's digest
		}
	}
	w.set(time.Date(2026, 3, 7, 7, 59, 0, 0, time.UTC))
	if rep := w.tick(); rep.Digests != 0 {
		t.Fatalf("%d digests before 09:00 Stockholm", rep.Digests)
	}
	w.set(time.Date(2026, 3, 7, 8, 0, 0, 0, time.UTC))
	w.tick()
	w.tick() // a second run at the same minute posts nothing more
	msgs := w.slack.Messages("C0LISTENPM")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "Daily digest") || !strings.Contains(string(msgs[0].Blocks), "skip-rate-high") {
		t.Fatalf("%d messages in listening-product's channel, want its one digest", len(msgs))
	}
	// Owners with nothing kept get no message.
	if msgs := w.slack.Messages("C0CREDITDS"); len(msgs) != 0 {
		t.Errorf("credit-ds got %d messages with nothing to digest", len(msgs))
	}
	// The next day's digest covers only the next day.
	w.set(time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC))
	w.tick()
	if msgs := w.slack.Messages("C0LISTENPM"); len(msgs) != 1 {
		t.Errorf("%d messages after the next day's run, want still 1 (nothing new)", len(msgs))
	}
}

// TestSnoozeEnds: a snooze acknowledges until its end; then the group is
// unacknowledged again, its owner re-notified and paged, and it escalates
// ack_within later if still nobody acknowledges.
func TestSnoozeEnds(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 9, 6, 0, 5, 0, time.UTC)
	w := newWorld(t, t0)
	for _, e := range scenario(t, "credit-accuracy-collapse.jsonl")[:3] {
		w.event(e)
	}
	g := w.group("credit-approval", "accuracy-loss")
	w.set(t0.Add(5 * time.Minute))
	if rec := w.press("U012ABCDE", "stakeout.more", "", "snooze:1h", g.ID, "snooze"); rec.Code != 200 {
		t.Fatalf("press: %d", rec.Code)
	}
	snoozed := t0.Add(5*time.Minute + time.Hour)
	if g = w.group("credit-approval", "accuracy-loss"); !g.SnoozedUntil.Equal(snoozed) {
		t.Fatalf("snoozed until %s, want %s", g.SnoozedUntil, snoozed)
	}
	// The original deadline passes: no escalation while snoozed.
	w.set(t0.Add(15 * time.Minute))
	if rep := w.tick(); rep.Escalated != 0 {
		t.Fatal("escalated while snoozed")
	}
	w.set(snoozed.Add(-time.Second))
	if rep := w.tick(); rep.SnoozesEnded != 0 {
		t.Fatal("snooze ended early")
	}
	w.set(snoozed)
	if rep := w.tick(); rep.SnoozesEnded != 1 {
		t.Fatal("snooze did not end on time")
	}
	g = w.group("credit-approval", "accuracy-loss")
	if g.Acked() || !g.EscalateAt.Equal(snoozed.Add(15*time.Minute)) {
		t.Fatalf("after the snooze: acked %v, escalates at %s", g.Acked(), g.EscalateAt)
	}
	triggers := 0
	for _, e := range w.pd.Events() {
		if e.EventAction == "trigger" {
			triggers++
		}
	}
	if triggers != 2 {
		t.Errorf("%d PagerDuty triggers, want 2 (the opening, the snooze's end)", triggers)
	}
	w.set(snoozed.Add(15 * time.Minute))
	if rep := w.tick(); rep.Escalated != 1 {
		t.Fatal("no escalation ack_within after the snooze ended")
	}
	var actions []string
	for _, r := range w.trail(g.Members[0]) {
		if r.Action != audit.Queued && r.Action != audit.Notified {
			actions = append(actions, r.Action+" by "+r.Actor)
		}
	}
	want := "opened by router, snoozed by slack:U012ABCDE, snooze-ended by escalator, escalated by escalator"
	if got := strings.Join(actions, ", "); got != want {
		t.Errorf("trail: %s\nwant:  %s", got, want)
	}
}
