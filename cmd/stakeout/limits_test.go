package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/pipeline"
)

// TestAuditFindsAnAlertOfLongNames: an alert whose id keeps a hash of
// its feature and segment (too long to keep whole in a key) is found by
// `stakeout audit <alert id>`, the id replay printed.
func TestAuditFindsAnAlertOfLongNames(t *testing.T) {
	t.Chdir("../..")
	statePath := filepath.Join(t.TempDir(), "state.json")
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "--state", statePath, "testdata/scenarios/long-names.jsonl"},
		stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
	id := pipeline.AlertID("churn-prediction", "feature-drift", strings.Repeat("/", 200), strings.Repeat("é", 100))
	if !strings.Contains(out.String(), "OPENED      "+id) {
		t.Fatalf("replay did not open %s:\n%s", id, out.String())
	}
	out.Reset()
	if code := run([]string{"audit", "--state", statePath, "--verify", id}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("audit exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "opened") || !strings.Contains(out.String(), strings.Repeat("/", 200)) {
		t.Errorf("audit of %s does not show its opening and its feature whole:\n%s", id, out.String())
	}
}
