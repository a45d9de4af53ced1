package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// The router writes a scenario into DynamoDB; `stakeout audit --table`
// reads one alert's trail back from it and verifies the chain.
func TestAuditTable(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(ctx, dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	p := &pipeline.Processor{Config: cfg, Store: dynamostore.New(dynamotest.Client(t), table, func() time.Time { return now }),
		Now: func() time.Time { return now }}
	f, err := os.Open("../../testdata/scenarios/credit-accuracy-collapse.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if _, err := p.Process(ctx, sc.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	var out, errOut bytes.Buffer
	code := run([]string{"audit", "--table", table, "--endpoint", dynamotest.Endpoint(), "--verify", "credit-approval/accuracy-loss"},
		stdio{out: &out, err: &errOut})
	if code != 0 {
		t.Fatalf("audit --table exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{"#1   2026-03-09 06:00Z  opened", "model version 2026.03.2", "verified: 5 records of credit-approval/accuracy-loss, hash chain intact"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("audit output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"audit", "--table", table, "--endpoint", dynamotest.Endpoint(), "--model", "credit-approval",
		"--since", "2026-03-16T00:00:00Z", "--until", "2026-03-17T00:00:00Z"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("audit --model exited %d: %s", code, errOut.String())
	}
	if n := strings.Count(out.String(), "  #"); n != 1 || !strings.Contains(out.String(), "#3 ") {
		t.Errorf("audit --model for 16 March shows %d records, want record #3 only:\n%s", n, out.String())
	}
}
