package servebench

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/notifytest"
)

// The counts the benchmark reads off stakeout's Slack messages are in the
// words slacknotify renders: its golden files of a group of three.
func TestGroupCountsReadFromSlacknotifysMessages(t *testing.T) {
	for file, re := range map[string]*regexp.Regexp{"updated-group.json.golden": groupMembers, "updated-reply.json.golden": groupHas} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "internal", "slacknotify", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if n := lastCount(re, string(data)); n != 3 {
			t.Errorf("%s: read %d alerts in the group, want 3", file, n)
		}
	}
}

// A group of one has no member line; a group told of later joins counts
// the most its message or thread says; other rules' messages and other
// channels are not counted.
func TestSlackDeliveredCountsTheRulesGroupMembers(t *testing.T) {
	s := notifytest.NewSlack(t, notifytest.WithChannels(benchChannel, "C0OTHER"))
	api := slack.New(s.Token(), slack.OptionAPIURL(s.URL()))
	post := func(channel, text, section string, opts ...slack.MsgOption) string {
		t.Helper()
		opts = append(opts, slack.MsgOptionText(text, false),
			slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, section, false, false), nil, nil)))
		_, ts, err := api.PostMessage(channel, opts...)
		if err != nil {
			t.Fatalf("chat.postMessage: %v", err)
		}
		return ts
	}
	if got := slackDelivered(s); got != 0 {
		t.Fatalf("before any post: %d delivered, want 0", got)
	}
	ts := post(benchChannel, "[HIGH] churn-prediction/scoring-lag: stale", "Churn scores are stale")
	if got := slackDelivered(s); got != 1 {
		t.Fatalf("a group of one: %d delivered, want 1", got)
	}
	post(benchChannel, "joined", "➕ 37 alerts joined (f00002 … and 27 more). The group has 38 alert(s) now.", slack.MsgOptionTS(ts))
	if _, _, _, err := api.UpdateMessage(benchChannel, ts, slack.MsgOptionText("[HIGH] churn-prediction/scoring-lag: stale", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, "12 alerts in this group: f00001, and 11 more", false, false), nil, nil))); err != nil {
		t.Fatalf("chat.update: %v", err)
	}
	post(benchChannel, "[HIGH] churn-prediction/auc-floor: low", "5 alerts in this group")
	post("C0OTHER", "[HIGH] churn-prediction/scoring-lag: stale", "7 alerts in this group")
	if got := slackDelivered(s); got != 38 {
		t.Errorf("after a reply of 38 and an edit of 12: %d delivered, want 38", got)
	}
}

// Alertmanager repeats a group's alerts in every payload: each counts
// once, resolved ones and other models' not at all, and a payload that is
// not Alertmanager's JSON is answered 400 and kept as the sink's error.
func TestWebhookSinkCountsDistinctFiringAlerts(t *testing.T) {
	s := newWebhookSink(t)
	for _, payload := range []string{
		`{"alerts":[{"status":"firing","labels":{"model":"churn-prediction","feature":"f00001"}}]}`,
		`{"alerts":[{"status":"firing","labels":{"model":"churn-prediction","feature":"f00001"}},` +
			`{"status":"firing","labels":{"model":"churn-prediction","feature":"f00002"}},` +
			`{"status":"resolved","labels":{"model":"churn-prediction","feature":"f00003"}},` +
			`{"status":"firing","labels":{"model":"credit-approval","feature":"f00004"}}]}`,
	} {
		resp, err := http.Post(s.srv.URL, "application/json", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", payload, resp.Status)
		}
	}
	if got := s.delivered(); got != 2 {
		t.Errorf("delivered %d, want 2 (f00001, f00002)", got)
	}
	resp, err := http.Post(s.srv.URL, "application/json", strings.NewReader(`{"alerts":[`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if resp.StatusCode != http.StatusBadRequest || s.bad == nil {
		t.Errorf("a truncated payload: %s, sink error %v; want 400 and an error", resp.Status, s.bad)
	}
}
