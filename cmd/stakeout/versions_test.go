package main

import (
	"bytes"
	"path/filepath"
	"testing"
)

// The version-timeline scenario (testdata/scenarios/README.md): registry
// approvals and deploys, then a drift alert without a version. `stakeout
// versions` reads back what the replay recorded, and names what it cannot.
func TestVersionsReadsTheTimelineAReplayRecorded(t *testing.T) {
	t.Chdir("../..")
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "--state", state, "testdata/scenarios/credit-version-timeline.jsonl"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	for _, tc := range []testCase{
		{name: "versions-credit-approval", args: []string{"versions", "credit-approval", "--state", state}},
		{name: "versions-credit-approval-json", args: []string{"versions", "--json", "--state", state, "credit-approval"}},
		{name: "versions-no-events", args: []string{"versions", "fraud-detection", "--state", state}},
		{name: "versions-unknown-model", args: []string{"versions", "credit-aproval", "--state", state}, wantExit: 2},
		{name: "versions-no-model", args: []string{"versions", "--state", state}, wantExit: 2},
		{name: "versions-no-store", args: []string{"versions", "credit-approval"}, wantExit: 2},
	} {
		tc.scrub = dir
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc) })
	}
}
