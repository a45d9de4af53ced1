package escalator_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// muteRig runs fraud-detection's Model Monitor alarms (fraud-muted-alarm's
// events, re-timed by alarmAt) through the router and, minute by minute,
// the escalator with the real senders at the Slack and PagerDuty fakes.
type muteRig struct {
	t        *testing.T
	now      time.Time
	st       *memstore.Store
	p        *pipeline.Processor
	r        *escalator.Runner
	slack    *notifytest.Slack
	pd       *notifytest.PagerDuty
	card, ok string // card_country's ALARM and OK events
}

func newMuteRig(t *testing.T) *muteRig {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../testdata/scenarios/fraud-muted-alarm.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	x := &muteRig{t: t, now: at(14, 50),
		card: lines[1], ok: strings.ReplaceAll(lines[2], "merchant_category", "card_country")}
	clock := func() time.Time { return x.now }
	x.st = memstore.New(clock)
	x.p = &pipeline.Processor{Config: cfg, Store: x.st, Now: clock}
	s, slack, pd := fakeChannels(t, cfg, x.st, clock)
	x.slack, x.pd = slack, pd
	x.r = escalator.NewRunner(cfg, x.st, s, metrics.New(&bytes.Buffer{}, metrics.Namespace, clock), slog.New(slog.DiscardHandler), clock)
	x.r.Escalator.Signals = []string{}
	return x
}

// at is 2026-03-02 h:m UTC.
func at(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }

// process routes ev now and wants its one change to be want.
func (x *muteRig) process(ev []byte, want string) {
	x.t.Helper()
	out, err := x.p.Process(context.Background(), ev)
	if err != nil || len(out.Changes) != 1 || out.Changes[0].State != want {
		x.t.Fatalf("at %s: %+v %v, want %s", x.now.Format("15:04"), out, err, want)
	}
}

// runTo runs the escalator every minute until `until`.
func (x *muteRig) runTo(until time.Time) {
	x.t.Helper()
	for ; !x.now.After(until); x.now = x.now.Add(time.Minute) {
		if err := x.r.Run(context.Background()); err != nil {
			x.t.Fatal(err)
		}
	}
	x.now = until
}

// group is the drift rule's current group.
func (x *muteRig) group() *state.Group {
	x.t.Helper()
	g, err := x.st.GetGroup(context.Background(), "fraud-detection", "monitor-feature-drift")
	if err != nil || g == nil {
		x.t.Fatalf("group: %v %v", g, err)
	}
	return g
}

// step is the escalation step of the rule's current group.
func (x *muteRig) step() int { return x.group().Step }

// A group open before a CloudWatch mute does not escalate while the mute
// holds every open alert of it back: its escalation, due at 15:20, waits
// for the mute's end (18:00), audited as deferred by the mute rule. One
// alert of the group that no mute holds back is enough for it to escalate
// on time: its owner still has something to answer.
func TestAMuteDefersTheEscalationOfAGroupOpenBeforeIt(t *testing.T) {
	const muteEnd = "2026-03-02T18:00:00.000+0000"
	t.Run("every open alert muted", func(t *testing.T) {
		x := newMuteRig(t)
		x.process(alarmAt(t, x.card, "open", x.now, ""), "opened")
		x.runTo(at(15, 5))
		x.process(alarmAt(t, x.card, "breach", x.now, muteEnd), "updated")
		x.runTo(at(17, 59))
		if s := x.step(); s != 0 {
			t.Fatalf("while muted: escalated to step %d, want none", s)
		}
		x.runTo(at(18, 1))
		if s := x.step(); s != 1 {
			t.Fatalf("after the mute: step %d, want 1 (escalated at its end)", s)
		}
		recs, _ := x.st.AlertRecords(context.Background(), "fraud-detection/monitor-feature-drift/feature=card_country")
		var deferred []string
		for _, rec := range recs {
			if rec.Action == audit.Silenced && rec.Actor == "escalator" {
				deferred = append(deferred, rec.At.Format("15:04")+" "+rec.Detail)
			}
		}
		if len(deferred) != 1 || !strings.HasPrefix(deferred[0], "15:20 CloudWatch alarm mute rule arn:aws:cloudwatch:") ||
			!strings.Contains(deferred[0], "until 2026-03-02T18:00:00Z: its escalation, due 2026-03-02T15:20:00Z, waits for then") {
			t.Errorf("deferrals on the alert's trail: %q", deferred)
		}
		if err := audit.Verify(recs); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
	t.Run("one open alert not muted", func(t *testing.T) {
		x := newMuteRig(t)
		x.process(alarmAt(t, x.card, "open", x.now, ""), "opened")
		merchant := strings.ReplaceAll(x.card, "card_country", "merchant_category")
		x.process(alarmAt(t, merchant, "open-2", x.now, ""), "opened")
		x.runTo(at(15, 5))
		x.process(alarmAt(t, x.card, "breach", x.now, muteEnd), "updated")
		x.runTo(at(15, 21))
		if s := x.step(); s != 1 {
			t.Fatalf("with merchant_category not muted: step %d at 15:21, want 1 (escalated at 15:20)", s)
		}
	})
}

// An alarm that recovers under a mute and fires again within it: its
// first group is over, its resolution held back by the mute; the new
// firing is silenced by the mute. At the mute's end both are told — the
// first group's message and incident say resolved, and the alarm still
// firing opens a new group, told once — and nothing of the first group
// is left open.
func TestAnAlarmFiringAgainWithinAMuteResolvesItsFirstGroupAtTheMutesEnd(t *testing.T) {
	const muteEnd = "2026-03-02T20:00:00.000+0000"
	x := newMuteRig(t)
	x.process(alarmAt(t, x.card, "open", x.now, ""), "opened")
	x.runTo(at(14, 51))
	first := firstGroup(t, x.st)
	msgs := x.slack.Messages("C0FRAUDDSX")
	if len(msgs) != 1 {
		t.Fatalf("%d message(s) in fraud-ds's channel, want 1", len(msgs))
	}
	resolved := func() (string, int) {
		inc, _ := x.pd.Incident("stakeout/" + first)
		n := 0
		for _, r := range x.slack.Replies("C0FRAUDDSX", msgs[0].TS) {
			if strings.HasPrefix(r.Text, "✅") {
				n++
			}
		}
		return inc.Status, n
	}
	x.runTo(at(15, 5))
	x.process(alarmAt(t, x.ok, "recovery", x.now, muteEnd), "resolved")
	x.runTo(at(16, 5))
	x.process(alarmAt(t, x.card, "again", x.now, muteEnd), "silenced")
	x.runTo(at(19, 59))
	if s, n := resolved(); s == "resolved" || n != 0 {
		t.Fatalf("while muted: first incident %s, %d resolution(s) told; want it open, none told", s, n)
	}
	x.runTo(at(20, 2))
	if s, n := resolved(); s != "resolved" || n != 1 {
		t.Errorf("after the mute: first incident %s, %d resolution(s) told; want resolved, one", s, n)
	}
	if g := x.group(); g.ID == first || g.Open != 1 {
		t.Errorf("after the mute: group %s (open %d), want a new one, open", g.ID, g.Open)
	}
	if n := len(x.slack.Messages("C0FRAUDDSX")); n != 2 {
		t.Errorf("%d message(s) in fraud-ds's channel, want 2 (the new group told once)", n)
	}
}
