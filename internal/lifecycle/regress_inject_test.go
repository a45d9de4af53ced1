package lifecycle_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestPagerDutyAgentNameInjectsMrkdwn(t *testing.T) {
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	evil := "<!channel> <https://evil.example/login|Re-authenticate stakeout>"
	at := time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC)
	for _, kind := range []string{state.NoticeAcknowledged, state.NoticeResolved} {
		n := &state.Notification{ID: "credit-approval/accuracy-loss@x.1#2", Kind: kind, Group: "credit-approval/accuracy-loss@x.1",
			Model: "credit-approval", Rule: "accuracy-loss", Owner: "credit-ds", Role: "model", Created: at,
			Alert: state.Alert{ID: "credit-approval/accuracy-loss", Model: "credit-approval", Rule: "accuracy-loss", Severity: "critical", OpenedAt: at},
			Lifecycle: state.Lifecycle{Owner: "credit-ds", Base: "credit-ds", AckedBy: "pagerduty:P1B2C3D", AckedName: evil, AckedAt: at,
				By: "pagerduty:P1B2C3D", ByName: evil}}
		if kind == state.NoticeResolved {
			n.Lifecycle.Resolution, n.Lifecycle.ClosedBy, n.Lifecycle.ClosedName, n.Lifecycle.ClosedAt = state.ResolvedByPerson, "pagerduty:P1B2C3D", evil, at
		}
		v := notify.NewView(cfg, n)
		for name, m := range map[string]slacknotify.Message{"reply": slacknotify.Reply(v), "message": slacknotify.Render(v)} {
			b, _ := json.Marshal(m.Blocks)
			if strings.Contains(string(b), `\u003c!channel\u003e`) || strings.Contains(m.Text, "<!channel>") {
				t.Errorf("%s %s carries a live <!channel> and link from a PagerDuty user's name: text=%q", kind, name, m.Text)
			}
		}
	}
}
