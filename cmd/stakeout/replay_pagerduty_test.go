package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/notifytest"
)

// unreachable returns the address of a port nothing listens on.
func unreachable(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/api/"
}

// TestReplayPagesThroughPagerDutyWhileSlackIsUnreachable: with a routing
// key, every page goes as a real Events API v2 event to that one key; with
// Slack unreachable, the replay still finishes at once, the page is sent,
// and --json records Slack's failure.
func TestReplayPagesThroughPagerDutyWhileSlackIsUnreachable(t *testing.T) {
	pd := notifytest.NewPagerDuty(t)
	t.Setenv("STAKEOUT_PAGERDUTY_ROUTING_KEY", pd.RoutingKey())
	t.Setenv("STAKEOUT_PAGERDUTY_EVENTS_URL", pd.URL())
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-test-replay")
	t.Setenv("STAKEOUT_SLACK_API_URL", unreachable(t))
	dir := t.TempDir()
	events := filepath.Join(dir, "one.jsonl")
	if err := os.WriteFile(events, []byte(`{"model":"credit-approval","kind":"quality","metric":"accuracy","value":0.81,"baseline":0.9,"observed_at":"2026-03-02T06:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	start := time.Now()
	if code := run([]string{"replay", "--json", events}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("replay with Slack unreachable took %v, want seconds", took)
	}
	evs := pd.Events()
	if len(evs) != 1 || evs[0].EventAction != "trigger" || !strings.Contains(evs[0].Payload.Summary, "accuracy-loss") {
		t.Fatalf("PagerDuty received %+v, want the accuracy-loss trigger", evs)
	}
	var failing []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("--json printed %q: %v", line, err)
		}
		if m["delivery"] != nil {
			failing = append(failing, m)
		}
	}
	if len(failing) != 1 || failing[0]["channel"] != "slack" || failing[0]["delivery"] != "failing" || failing[0]["error"] != "no answer" {
		t.Errorf("--json delivery records %v, want Slack failing with no answer", failing)
	}
}
