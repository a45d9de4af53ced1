package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The late-labels scenarios (testdata/scenarios/README.md): drift and
// score-drift alerts in the first week of June, the labels of that week
// on 22 June. Replayed into a state file, the drift alert's trail ends
// with the verdict and its thread reply, and `stakeout noise` counts the
// verdicts as the rules' precision: 100% when accuracy dropped, 0% when
// it held.
func TestLateLabelsReachTheTrailAndTheNoiseReport(t *testing.T) {
	t.Chdir("../..")
	for _, scenario := range []string{"credit-labels-confirm", "credit-labels-hold"} {
		t.Run(scenario, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state.json")
			var out, errOut bytes.Buffer
			if code := run([]string{"replay", "--state", state, "testdata/scenarios/" + scenario + ".jsonl"}, stdio{out: &out, err: &errOut}); code != 0 {
				t.Fatalf("replay exited %d: %s", code, errOut.String())
			}
			for _, tc := range []testCase{
				{name: "audit-" + scenario, args: []string{"audit", "--state", state, "credit-approval/key-feature-drift/feature=income"}},
				{name: "noise-" + scenario, args: []string{"noise", "--state", state, "--since", "30d"}},
			} {
				tc.scrub = dir
				t.Run(tc.name, func(t *testing.T) { checkGolden(t, tc) })
			}
		})
	}
}

// The verdicts above come from the quality rule that evaluates the
// labels' reading (accuracy-loss reads accuracy with a baseline): the
// same labels as a metric no quality rule reads judge nothing.
func TestLateLabelsNoQualityRuleReadsGiveNoVerdict(t *testing.T) {
	t.Chdir("../..")
	events := strings.Replace(string(mustRead(t, "testdata/scenarios/credit-labels-confirm.jsonl")), `"metric":"accuracy"`, `"metric":"recall"`, 1)
	if !strings.Contains(events, `"metric":"recall"`) {
		t.Fatal("the scenario's quality event has no accuracy metric to replace")
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "-"}, stdio{in: strings.NewReader(events), out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "LABELS-") || strings.Contains(out.String(), "labels for") {
		t.Errorf("replay judged alerts from a reading no quality rule evaluated:\n%s", out.String())
	}
}
