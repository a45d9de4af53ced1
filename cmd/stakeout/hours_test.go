package main

import (
	"bytes"
	"strings"
	"testing"
)

// The working-hours scenario (testdata/scenarios/README.md): its owner
// works 09:00-18:00 in London, Monday to Friday; at 03:00 there a warning
// opens (outside_hours: hold), a high alert (outside_hours: slack) and a
// critical one (as in hours).
func TestReplayHoldsAWarningToWorkingHoursAndPagesACritical(t *testing.T) {
	args := []string{"replay", "--dir", "testdata/working-hours", "--until", "2026-06-02T09:05:00Z", "testdata/scenarios/working-hours.jsonl"}
	t.Run("golden", func(t *testing.T) {
		t.Chdir("../..")
		checkGolden(t, testCase{name: "replay-working-hours", args: args})
	})
	t.Run("golden-json", func(t *testing.T) {
		t.Chdir("../..")
		checkGolden(t, testCase{name: "replay-working-hours-json", args: append([]string{"replay", "--json"}, args[1:]...)})
	})
	t.Run("order", func(t *testing.T) {
		t.Chdir("../..")
		var out, errOut bytes.Buffer
		if code := run(args, stdio{out: &out, err: &errOut}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		text := out.String()
		at := func(s string) int {
			t.Helper()
			i := strings.Index(text, s)
			if i < 0 {
				t.Fatalf("output lacks %q:\n%s", s, text)
			}
			return i
		}
		// The critical pages at once, at 03:05 in London.
		if at("pagerduty trigger → routing key secret:stakeout/pagerduty/credit-ds, dedup_key stakeout/credit-approval/accuracy-collapse") > at("2026-06-02 02:20Z") {
			t.Errorf("the critical alert did not page before its first escalation")
		}
		// The high one posts to Slack, and does not page.
		if strings.Contains(text, "pagerduty trigger → routing key secret:stakeout/pagerduty/credit-ds, dedup_key stakeout/credit-approval/score-shift") {
			t.Errorf("the high alert paged outside working hours (outside_hours: slack)")
		}
		// The warning reaches Slack at 09:00 London (08:00Z), not before,
		// and escalates an ack_within (1h) after that.
		released := at("2026-06-02 08:00Z  RELEASED    credit-approval/feature-drift@")
		if posted := at("│ 🟡 Warning · credit-approval · feature-drift"); posted < released {
			t.Errorf("the warning was posted before working hours")
		}
		if at("2026-06-02 09:00Z  ESCALATED   credit-approval/feature-drift@") < released {
			t.Errorf("the held warning escalated before it was delivered")
		}
	})
}

// A warning held to working hours that resolves before they start is
// dropped then, and replay says so (DROPPED, with why) instead of telling
// of a release that sends nothing (scenario working-hours-over).
func TestReplayShowsAHeldOpeningDroppedWhenItsGroupIsOver(t *testing.T) {
	args := []string{"replay", "--dir", "testdata/working-hours", "--until", "2026-06-02T08:05:00Z", "testdata/scenarios/working-hours-over.jsonl"}
	t.Run("golden", func(t *testing.T) {
		t.Chdir("../..")
		checkGolden(t, testCase{name: "replay-working-hours-over", args: args})
	})
	t.Run("golden-json", func(t *testing.T) {
		t.Chdir("../..")
		checkGolden(t, testCase{name: "replay-working-hours-over-json", args: append([]string{"replay", "--json"}, args[1:]...)})
	})
	t.Run("line", func(t *testing.T) {
		t.Chdir("../..")
		var out, errOut bytes.Buffer
		if code := run(args, stdio{out: &out, err: &errOut}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		text := out.String()
		want := "2026-06-02 08:00Z  DROPPED     credit-approval/feature-drift@20260602T020000Z.1  opened → credit-ds via slack, events\n" +
			"                   not sent: held until 2026-06-02T08:00:00Z (outside credit-ds's working hours), and the group was over by then\n"
		if !strings.Contains(text, want) {
			t.Errorf("output lacks the DROPPED line %q:\n%s", want, text)
		}
		if strings.Contains(text, "RELEASED") || strings.Contains(text, "Warning · credit-approval") || strings.Contains(text, "not delivered yet") {
			t.Errorf("a dropped opening was shown as released, posted or left in the outbox:\n%s", text)
		}
	})
}
