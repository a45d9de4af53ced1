package main

import (
	"strings"
	"testing"
)

// The case: the ranker's error rate oscillates around its
// threshold 20 times (rules/playlist-recommender.yaml's error-rate, with
// flapping.opens 2): one Slack message, updated in place, not 20.
func TestFlappingMetricMakesOneMessageNotTwenty(t *testing.T) {
	t.Chdir("../..")
	var out, errOut strings.Builder
	if code := run([]string{"replay", "testdata/scenarios/playlist-error-flapping.jsonl"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exit %d: %s", code, errOut.String())
	}
	text := out.String()
	if n := strings.Count(text, "new message"); n != 1 {
		t.Errorf("%d new Slack messages, want 1", n)
	}
	if !strings.Contains(text, "Flapping: opened 2 times in 6h") {
		t.Errorf("no thread reply says the alert is flapping")
	}
	if n := strings.Count(text, "RESOLVED"); n != 2 {
		t.Errorf("%d resolutions, want 2 (the first cycle, and once quiet)", n)
	}
}
