package slacknotify

import (
	"context"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Every message stakeout posts — each golden kind and each lifecycle phase
// and reply — reads back through slack-go's slack.Msg, the model of a
// message that conversations.history gives find, with nothing lost: a
// field slack-go drops or changes is one Slack's own schema does not have
// either. What is compared is what Client.Post put on the wire (text,
// blocks, metadata), as the Slack test server received it.
func TestEveryMessageRoundTripsThroughSlackGo(t *testing.T) {
	msgs := goldenMessages(t)
	maps.Copy(msgs, lifecycleMessages(t))
	const channel = "C0ROUNDTRIP"
	s := notifytest.NewSlack(t, notifytest.WithChannels(channel))
	c := NewClient(secret.New(s.Token()), s.URL())
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			ts, err := c.Post(context.Background(), channel, "", m, name, false)
			if err != nil {
				t.Fatal(err)
			}
			var sent *notifytest.Message
			for _, p := range s.Messages(channel) {
				if p.TS == ts {
					sent = &p
				}
			}
			if sent == nil || len(sent.Blocks) == 0 || len(sent.Metadata) == 0 {
				t.Fatalf("the test server has no message %s with blocks and metadata: %+v", ts, sent)
			}
			wire, err := json.Marshal(struct {
				Text     string          `json:"text"`
				Blocks   json.RawMessage `json:"blocks"`
				Metadata json.RawMessage `json:"metadata"`
			}{sent.Text, sent.Blocks, sent.Metadata})
			if err != nil {
				t.Fatal(err)
			}
			if diff, err := notifytest.SlackGoLoses(wire); err != nil || diff != "" {
				t.Errorf("slack-go does not read back what was sent: %v (-sent +read back):\n%s", err, diff)
			}
		})
	}
}

// lifecycleMessages are the messages and replies of a group's life after
// it opened: acknowledged, snoozed and back, escalated, reassigned, grown,
// resolved by a person or as a false alarm, and the requests.
func lifecycleMessages(t testing.TB) map[string]Message {
	cfg := exampleConfig(t)
	ns := notices()
	view := func(notice string, change func(v *notify.View)) *notify.View {
		v := notify.NewView(cfg, ns[notice])
		change(v)
		return v
	}
	at := t0.Add(20 * time.Minute)
	acked := view("opened-critical", func(v *notify.View) {
		v.Change, v.Phase, v.AckedBy, v.AckedAt, v.At = state.NoticeAcknowledged, notify.PhaseAcknowledged, "<@U0ALICE>", at, at
	})
	snoozed := view("opened-critical", func(v *notify.View) {
		v.Change, v.Phase, v.AckedBy, v.SnoozedUntil, v.At = state.NoticeSnoozed, notify.PhaseSnoozed, "<@U0ALICE>", at.Add(4*time.Hour), at
	})
	next := notify.Owner(cfg, "head-of-ml")
	escalated := view("opened-critical", func(v *notify.View) {
		v.Change, v.Step, v.Note, v.At = state.NoticeEscalated, 1, "not acknowledged within 15m", at
		v.EscalatesAt, v.EscalatesTo = at.Add(15*time.Minute), &next
	})
	snoozeOver := view("opened-critical", func(v *notify.View) {
		v.Change, v.EscalatesAt, v.At = state.NoticeSnoozeEnded, at.Add(15*time.Minute), at
	})
	reassigned := view("opened-critical", func(v *notify.View) {
		v.Change, v.Role, v.By, v.At = state.NoticeReassigned, "data", "<@U0ALICE>", at
	})
	joined := view("updated-group", func(v *notify.View) {
		v.Joins, v.Joined, v.At = 2, []string{"feature=age", "feature=debt_ratio"}, at
	})
	falseAlarm := view("resolved", func(v *notify.View) {
		v.Phase, v.ClosedBy, v.At = notify.PhaseFalseAlarm, "<@U0ALICE>", at
	})
	closed := view("resolved", func(v *notify.View) { v.Phase, v.ClosedBy, v.At = notify.PhaseResolved, "<@U0ALICE>", at })
	request := func(r state.Request) *notify.View {
		return view("opened-critical", func(v *notify.View) { v.Change, v.Request, v.At = state.NoticeRequest, &r, at })
	}
	return map[string]Message{
		"acknowledged":       Render(acked),
		"acknowledged-reply": Reply(acked),
		"snoozed":            Render(snoozed),
		"snoozed-reply":      Reply(snoozed),
		"snooze-ended-reply": Reply(snoozeOver),
		"escalated":          Render(escalated),
		"escalated-reply":    Reply(escalated),
		"reassigned-reply":   Reply(reassigned),
		"joined-reply":       Reply(joined),
		"false-alarm":        Render(falseAlarm),
		"false-alarm-reply":  Reply(falseAlarm),
		"closed-reply":       Reply(closed),
		"retrain-reply":      Reply(request(state.Request{Type: state.RequestRetrain, Version: "v42", Requester: "slack:U0ALICE", Name: "alice", Reason: "drift since Monday"})),
		"rollback-reply":     Reply(request(state.Request{Type: state.RequestRollback, Version: "v42", Target: "v41", Requester: "slack:U0ALICE", Name: "alice"})),
	}
}
