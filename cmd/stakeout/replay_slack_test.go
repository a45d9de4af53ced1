package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/notifytest"
)

// TestReplayPostsToSlack: with a bot token, replay really posts — here to
// a server speaking Slack's Web API — each group's message once, updated
// in place, all in the --slack-channel given.
func TestReplayPostsToSlack(t *testing.T) {
	slack := notifytest.NewSlack(t, notifytest.WithChannels("C0TRYITOUT"))
	t.Setenv("SLACK_BOT_TOKEN", slack.Token())
	t.Setenv("STAKEOUT_SLACK_API_URL", slack.URL())
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	code := run([]string{"replay", "--slack-channel", "C0TRYITOUT", "testdata/scenarios/credit-feed-break.jsonl"}, stdio{out: &out, err: &errOut})
	if code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	msgs := slack.Messages("C0TRYITOUT")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "bureau-feed-stale") {
		t.Fatalf("%d messages posted, want the feed-break group's one", len(msgs))
	}
	// Nobody acknowledges in a replay: the group escalates from
	// data-platform to head-of-ml, who is then re-notified at growing
	// intervals (7 steps in all), each an update in place and a reply,
	// until the feed recovers and the message says resolved.
	if len(msgs[0].Revisions) != 9 || !strings.Contains(string(msgs[0].Blocks), "Resolved") {
		t.Errorf("the message was not updated in place through 7 escalations to resolved (%d revisions)", len(msgs[0].Revisions))
	}
	replies := slack.Replies("C0TRYITOUT", msgs[0].TS)
	if len(replies) != 8 || !strings.Contains(string(replies[0].Blocks), "Escalated to") || !strings.Contains(string(replies[7].Blocks), "Resolved") {
		t.Errorf("%d thread replies, want 8 (7 escalations, the resolution)", len(replies))
	}
	for _, r := range slack.Rejections() {
		t.Errorf("Slack refused: %s", r)
	}
	if !strings.Contains(out.String(), "slack → C0TRYITOUT, new message "+msgs[0].TS) {
		t.Errorf("replay does not show the posted message's ts:\n%s", out.String())
	}
}

func TestReplaySlackChannelNeedsAToken(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "")
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "--slack-channel", "C0TRYITOUT", "testdata/scenarios/credit-feed-break.jsonl"}, stdio{out: &out, err: &errOut}); code != 2 ||
		!strings.Contains(errOut.String(), "SLACK_BOT_TOKEN") {
		t.Errorf("replay --slack-channel without a token exited %d: %s", code, errOut.String())
	}
}
