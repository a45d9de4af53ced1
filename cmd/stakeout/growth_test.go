package main

import (
	"strings"
	"testing"
)

// The growing-group scenario (testdata/scenarios/README.md): feature-drift
// (a warning, escalate_when members 10) opens on 2 features at 02:00 and
// 10 more join at 03:00. The group is told again once, raised to high (a
// page), when its 10th alert joins; the 11th and 12th join quietly.
func TestReplayRaisesAGroupGrowingFrom2To12FeaturesOnce(t *testing.T) {
	t.Chdir("../..")
	var out, errOut strings.Builder
	args := []string{"replay", "--dir", "testdata/growing-group", "testdata/scenarios/growing-group.jsonl"}
	if code := run(args, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exit %d: %s", code, errOut.String())
	}
	text := out.String()
	if n := strings.Count(text, "RAISED"); n != 1 {
		t.Errorf("%d raises, want 1:\n%s", n, text)
	}
	if n := strings.Count(text, "pagerduty trigger"); n != 1 {
		t.Errorf("%d pages, want 1 (the raise)", n)
	}
	if !strings.Contains(text, "RAISED      credit-approval/feature-drift/feature=housing_status  high") {
		t.Errorf("the 10th alert (housing_status) did not raise the group to high")
	}
}
