package slackapp_test

import (
	"net/http"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// Every answer the app gives Slack — a slash command's reply and an
// ephemeral message to a button's response_url — reads back through
// slack-go's slack.Msg with nothing lost, as written on the wire. The app
// sends no blocks and opens no modals: these two are all it says.
func TestRepliesRoundTripThroughSlackGo(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ user, text string }{
		{outsider, ""}, {outsider, "who credit-approval"}, {credit1, "open"}, {outsider, "open"},
		{credit1, "retrain credit-approval accuracy keeps falling"}, {outsider, "rollback credit-approval"}, {credit1, "bogus"},
	} {
		w := e.commandAnswer(c.user, c.text)
		if w.Code != http.StatusOK {
			t.Fatalf("/stakeout %s: status %d", c.text, w.Code)
		}
		if diff, err := notifytest.SlackGoLoses(w.Body.Bytes()); err != nil || diff != "" {
			t.Errorf("/stakeout %s: slack-go does not read back %s: %v (-sent +read back):\n%s", c.text, w.Body.Bytes(), err, diff)
		}
	}

	for _, p := range []press{
		{user: outsider, action: slacknotify.ActionAcknowledge},
		{user: headOfML, action: slacknotify.ActionMore, option: slacknotify.OptionRollback},
	} {
		_, resp := e.click(p)
		if len(resp) == 0 {
			t.Fatalf("%s by %s: no ephemeral reply", p.action, p.user)
		}
		for _, r := range resp {
			if diff, err := notifytest.SlackGoLoses(r.Raw); err != nil || diff != "" {
				t.Errorf("%s by %s: slack-go does not read back %s: %v (-sent +read back):\n%s", p.action, p.user, r.Raw, err, diff)
			}
		}
	}
}
