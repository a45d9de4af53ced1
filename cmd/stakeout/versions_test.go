package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
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

// The router, on DynamoDB, keeps the scenario's timeline and reads it with
// the alert it opens; `stakeout versions --table` reads it back.
func TestVersionsTable(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(ctx, dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	st := dynamostore.New(dynamotest.Client(t), table, func() time.Time { return now })
	p := &pipeline.Processor{Config: cfg, Store: st, Timelines: st, Now: func() time.Time { return now }}
	for _, line := range bytes.Split(bytes.TrimSpace(mustRead(t, "../../testdata/scenarios/credit-version-timeline.jsonl")), []byte("\n")) {
		if out, err := p.Process(ctx, line); err != nil || out.Quarantined != "" {
			t.Fatalf("Process: %v %s", err, out.Quarantined)
		}
	}
	a, err := st.GetAlert(ctx, "credit-approval/key-feature-drift/feature=income")
	if err != nil || a == nil {
		t.Fatalf("alert: %v, %v", a, err)
	}
	if a.ModelVersion != "8" || a.Release == nil || a.Release.Previous != "7" {
		t.Errorf("alert version %q, release %+v: want 8, previous 7", a.ModelVersion, a.Release)
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Chdir("../..")
	var out, errOut bytes.Buffer
	if code := run([]string{"versions", "credit-approval", "--table", table, "--endpoint", dynamotest.Endpoint()}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("versions --table exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{"2026-04-13T11:00:00Z  8        registry  approval Approved", "live since Tue 14 Apr 2026 09:30 UTC: 8 (production: prod), trained through 2026-03-31", "previous approved: 7",
		"live since Tue 14 Apr 2026 15:00 UTC: 9 (staging), trained through 2026-04-10\nprevious approved: 8"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("versions --table output lacks %q:\n%s", want, out.String())
		}
	}
}
