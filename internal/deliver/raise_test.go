package deliver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// growingConfig is testdata/growing-group: feature-drift is a warning
// (Slack) raised to high (a page) when its group reaches 10 alerts.
func growingConfig(o *envOptions) { o.configDir = "../../testdata/growing-group" }

// An update window opened before its group is raised is told as the group
// is when it is sent: the window's edit of the Slack message shows the
// raised severity, never the warning it was queued at.
func TestAnUpdateWindowShowsTheGroupAsRaisedMeanwhile(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]option{"memstore": {growingConfig}, "dynamodb": {growingConfig, onDynamo}} {
		t.Run(name, func(t *testing.T) { updateWindowDuringRaise(t, opts...) })
	}
}

func updateWindowDuringRaise(t *testing.T, opts ...option) {
	e := newEnv(t, opts...)
	drift := func(i int) string {
		return fmt.Sprintf(`"model":"credit-approval","kind":"drift","metric":"psi","feature":"f%02d","value":0.3`, i)
	}
	e.deliver(e.observe(drift(0)))
	e.advance(time.Minute)
	for i := 1; i < 9; i++ {
		e.observe(drift(i)) // joins: the window opens at warning
	}
	raised := e.observe(drift(9)) // the 10th raises the group, the window still pending
	if len(raised) != 1 {
		t.Fatalf("the 10th alert queued %v, want the raise", raised)
	}
	e.deliver(raised)
	e.drainEvery(time.Minute, 2*time.Minute)
	msgs := e.slack.Messages(creditChannel)
	if len(msgs) != 1 || len(msgs[0].Revisions) != 3 {
		t.Fatalf("%d messages; want one, posted then edited by the raise and by the window", len(msgs))
	}
	for i, rev := range msgs[0].Revisions[1:] {
		if blocks := string(rev.Blocks); !strings.Contains(blocks, "High · credit-approval") || strings.Contains(blocks, "Warning") {
			t.Errorf("edit %d does not show the group at high:\n%s", i+1, blocks)
		}
	}
	if !strings.Contains(string(msgs[0].Blocks), "10 alerts in this group") {
		t.Errorf("the window's edit does not count the 10 alerts:\n%s", msgs[0].Blocks)
	}
}
