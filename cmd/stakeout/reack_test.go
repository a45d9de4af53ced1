package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// The credit-acked-forgotten scenario (testdata/scenarios/README.md): the
// critical accuracy-loss alert pages credit-ds at 06:00 and ana
// acknowledges it at 06:05, as the Slack button would (a replay has nobody
// to press it: the test acknowledges on the saved state through the
// lifecycle, as the Slack handler does). Still open 4h later (the critical
// tier's default reack_after), ana is asked again at 10:05, and as nobody
// answers within ack_within (15m) it escalates at 10:20.
func TestReplayAsksTheAcknowledgerAgainWhenAnAcknowledgedAlertStaysOpen(t *testing.T) {
	t.Chdir("../..")
	t.Setenv(envAuditKey, "") // the golden shows the unkeyed trail's hint
	lines := strings.SplitAfter(string(mustRead(t, "testdata/scenarios/credit-acked-forgotten.jsonl")), "\n")
	first, rest := lines[0], strings.Join(lines[1:], "")
	for _, tc := range []struct {
		golden string
		flags  []string
	}{{"replay-credit-acked-forgotten", nil}, {"replay-credit-acked-forgotten-json", []string{"--json"}}} {
		t.Run(tc.golden, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			replay := func(stdin string, flags ...string) string {
				t.Helper()
				args := append(append([]string{"replay", "--state", path}, tc.flags...), flags...)
				args = append(args, "-")
				var out, errOut bytes.Buffer
				if code := run(args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut}); code != 0 {
					t.Fatalf("stakeout %s exited %d:\n%s", strings.Join(args, " "), code, errOut.String())
				}
				return strings.ReplaceAll(out.String(), path, "$STATE")
			}
			got := replay(first)
			acknowledge(t, path, time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC))
			got += "--- 2026-03-09 06:05Z: ana (slack:U012ABCDE) acknowledges credit-approval/accuracy-loss ---\n"
			got += replay(rest, "--until", "2026-03-09T10:30:00Z")
			compareGolden(t, filepath.Join("testdata", "golden", tc.golden+".txt"), got)
			if tc.flags != nil {
				return
			}
			reack := strings.Index(got, "still open 4h after ana (slack:U012ABCDE) acknowledged it: asked again")
			escalated := strings.Index(got, "2026-03-09 10:20Z  ESCALATED   credit-approval/accuracy-loss@")
			if reack < 0 || escalated < reack {
				t.Errorf("want ana asked again 4h after acknowledging, then the escalation 15m later:\n%s", got)
			}
		})
	}
}

// acknowledge acknowledges the open accuracy-loss group of the state at
// path at time at, through the lifecycle on the signed store, as the Slack
// handler does, and saves the state.
func acknowledge(t *testing.T, path string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	clock := func() time.Time { return at }
	st, err := memstore.Open(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.GetGroup(ctx, "credit-approval", "accuracy-loss")
	if err != nil || g == nil {
		t.Fatalf("the accuracy-loss group: %v, %v", g, err)
	}
	m := &lifecycle.Manager{Config: cfg, Store: setup.NewStore(st, nil), Now: clock}
	res, err := m.Apply(ctx, lifecycle.Change{Action: lifecycle.Acknowledge, Group: g.ID, By: lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}})
	if err != nil || !res.Done {
		t.Fatalf("acknowledge: %+v, %v", res, err)
	}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
}
