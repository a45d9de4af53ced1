package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// A test key, not a credential.
var testAuditKey = strings.Repeat("c3", 32)

const collapse = "credit-approval/accuracy-loss"

func replayInto(t *testing.T, statePath string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run([]string{"replay", "--state", statePath, "testdata/scenarios/credit-accuracy-collapse.jsonl"}, stdio{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("replay exited %d: %s", code, errOut.String())
	}
}

func verify(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"audit", "--verify"}, args...), stdio{out: &out, err: &errOut})
	return code, out.String() + errOut.String()
}

// forge is the forger with write access to the state file: record seq of
// the alert gets another detail and every hash from it on is recomputed,
// so the unkeyed chain holds. With strip, they also drop the keyed fields
// (chain, key, MAC), making the trail look like a legacy unkeyed one.
func forge(t *testing.T, statePath string, seq int, strip bool) {
	t.Helper()
	var snap map[string]json.RawMessage
	if err := json.Unmarshal(mustRead(t, statePath), &snap); err != nil {
		t.Fatal(err)
	}
	var trails map[string][]audit.Record
	if err := json.Unmarshal(snap["audit"], &trails); err != nil {
		t.Fatal(err)
	}
	trails[collapse] = rechain(trails[collapse], seq, strip)
	snap["audit"], _ = json.Marshal(trails)
	data, _ := json.Marshal(snap)
	if err := os.WriteFile(statePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func rechain(recs []audit.Record, seq int, strip bool) []audit.Record {
	recs[seq-1].Detail = "Accuracy fine, nothing to see"
	from := seq - 1
	if strip {
		from = 0
	}
	head, prev := 0, ""
	for i := range recs {
		if strip {
			recs[i].Chain, recs[i].Key, recs[i].MAC = 0, "", ""
		}
		if i >= from {
			mac := recs[i].MAC
			recs[i].Seal(head, prev)
			recs[i].MAC = mac // the forger cannot compute a new one
		}
		head, prev = recs[i].Seq, recs[i].Hash
	}
	return recs
}

// An unkeyed trail, rewritten and rechained, still verifies: the old
// weakness, which verify now names. A keyed trail rewritten the same way
// does not; stripped down to an unkeyed one it verifies as unkeyed, which
// --require-keyed refuses.
func TestAuditVerifyWithAKey(t *testing.T) {
	t.Chdir("../..")
	t.Run("unkeyed trail: the rewrite goes unnoticed, and verify says why", func(t *testing.T) {
		t.Setenv(envAuditKey, "")
		path := filepath.Join(t.TempDir(), "state.json")
		replayInto(t, path)
		forge(t, path, 2, false)
		code, out := verify(t, "--state", path, collapse)
		if code != 0 || !strings.Contains(out, "hash chain intact, UNKEYED: records 1-93 carry no MAC") {
			t.Errorf("verify of a rechained unkeyed trail = %d:\n%s", code, tail(out))
		}
		if code, out := verify(t, "--state", path, "--require-keyed", collapse); code != 1 || !strings.Contains(out, "93 records are unkeyed and --require-keyed was given") {
			t.Errorf("verify --require-keyed = %d:\n%s", code, tail(out))
		}
	})
	t.Run("keyed trail", func(t *testing.T) {
		t.Setenv(envAuditKey, testAuditKey)
		path := filepath.Join(t.TempDir(), "state.json")
		replayInto(t, path)
		key, _ := audit.ParseLocalKey(testAuditKey)
		code, out := verify(t, "--state", path, collapse)
		if code != 0 || !strings.Contains(out, "hash chain intact, keyed: records 1-93 vouched for by MACs under "+key.KeyID()) {
			t.Fatalf("verify of the replayed keyed trail = %d:\n%s", code, tail(out))
		}
		if strings.Contains(out, testAuditKey) {
			t.Error("the key is in the output")
		}
		forge(t, path, 2, false)
		code, out = verify(t, "--state", path, collapse)
		if code != 1 || !strings.Contains(out, "VERIFY FAILED: alert "+collapse+": record ") || !strings.Contains(out, "MAC does not verify under "+key.KeyID()) {
			t.Errorf("verify of a rechained keyed trail = %d, want it to name the record whose MAC fails:\n%s", code, tail(out))
		}
		t.Setenv(envAuditKey, "")
		if code, out := verify(t, "--state", path, collapse); code != 1 || !strings.Contains(out, "not a key given to verify with") || !strings.Contains(out, envAuditKey) {
			t.Errorf("verify without the key = %d, want the MACs refused as unvouched, with a hint:\n%s", code, tail(out))
		}
	})
	t.Run("keyed trail stripped to look unkeyed", func(t *testing.T) {
		t.Setenv(envAuditKey, testAuditKey)
		path := filepath.Join(t.TempDir(), "state.json")
		replayInto(t, path)
		forge(t, path, 2, true)
		if code, out := verify(t, "--state", path, collapse); code != 0 || !strings.Contains(out, "UNKEYED") {
			t.Errorf("verify of a stripped trail = %d, want it reported unkeyed:\n%s", code, tail(out))
		}
		if code, _ := verify(t, "--state", path, "--require-keyed", collapse); code != 1 {
			t.Errorf("verify --require-keyed of a stripped trail = %d, want 1", code)
		}
	})
}

// A trail written before chains were keyed (internal/audit/testdata, by
// that code) verifies as unkeyed.
func TestAuditVerifyLegacyTrail(t *testing.T) {
	f, err := os.Open("../../internal/audit/testdata/v1-trail.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []audit.Record
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	id := recs[0].Alert
	data, _ := json.Marshal(map[string]any{"audit": map[string][]audit.Record{id: recs}})
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envAuditKey, testAuditKey)
	code, out := verify(t, "--state", path, id)
	if code != 0 || !strings.Contains(out, "verified: 3 records of "+id+", hash chain intact, UNKEYED: records 1-3 carry no MAC (chain v1)") {
		t.Errorf("verify of the legacy trail = %d:\n%s", code, out)
	}
}

// The router writes through the functions' store, keyed with a KMS key;
// `stakeout audit --table --verify --kms-key` checks the MACs with KMS.
func TestAuditVerifyTableWithKMS(t *testing.T) {
	ctx := context.Background()
	kms := kmstest.New(t)
	arn := kms.CreateKey()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(ctx, dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	// DynamoDB Local and kmstest take any credentials: placeholders.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_ENDPOINT_URL_KMS", kms.URL())
	t.Setenv(envAuditKey, "")
	env := map[string]string{setup.EnvConfigDir: "../..", setup.EnvTable: table, setup.EnvEndpoint: dynamotest.Endpoint(),
		setup.EnvSecrets: "env", setup.EnvAuditKeyID: arn, setup.EnvKMSEndpoint: kms.URL()}
	d, err := setup.Load(ctx, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	p := &pipeline.Processor{Config: d.Config, Store: d.Store, Now: func() time.Time { return now }}
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
	store := []string{"--table", table, "--endpoint", dynamotest.Endpoint()}
	code, out := verify(t, append(store, "--kms-key", arn, collapse)...)
	if code != 0 || !strings.Contains(out, "keyed: records 1-5 vouched for by MACs under "+arn) {
		t.Fatalf("verify --kms-key = %d:\n%s", code, tail(out))
	}
	if code, out := verify(t, append(store, collapse)...); code != 1 || !strings.Contains(out, "not a key given") {
		t.Errorf("verify without --kms-key = %d, want the MACs refused as unvouched:\n%s", code, tail(out))
	}
	forgeInTable(t, table, collapse, 3)
	if code, out := verify(t, append(store, "--kms-key", arn, collapse)...); code != 1 || !strings.Contains(out, "MAC does not verify under "+arn) {
		t.Errorf("verify of a table rewritten and rechained = %d:\n%s", code, tail(out))
	}
	kms.ScheduleDeletion(arn)
	if code, out := verify(t, append(store, "--kms-key", arn, collapse)...); code != 2 || !strings.Contains(out, "CANNOT VERIFY") || !strings.Contains(out, "KMSInvalidStateException") {
		t.Errorf("verify with the key pending deletion = %d, want 2 saying why:\n%s", code, tail(out))
	}
	if code, out := verify(t, append(store, "--kms-key", "alias/stakeout-audit", collapse)...); code != 2 || !strings.Contains(out, "not a KMS key ARN") {
		t.Errorf("verify --kms-key alias = %d:\n%s", code, out)
	}
}

// forgeInTable rewrites the alert's trail in the table from record seq on,
// as someone with write access to it can: every item holding one of its
// records is found by scanning (whatever its key) and put back rechained.
func forgeInTable(t *testing.T, table, alert string, seq int) {
	t.Helper()
	ctx := context.Background()
	db := dynamotest.Client(t)
	items := map[int]map[string]types.AttributeValue{}
	var recs []audit.Record
	pages := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			data, ok := it["data"].(*types.AttributeValueMemberS)
			var r audit.Record
			if !ok || json.Unmarshal([]byte(data.Value), &r) != nil || r.Alert != alert || r.Hash == "" {
				continue
			}
			items[r.Seq], recs = it, append(recs, r)
		}
	}
	sorted := make([]audit.Record, len(recs))
	for _, r := range recs {
		sorted[r.Seq-1] = r
	}
	for _, r := range rechain(sorted, seq, false)[seq-1:] {
		b, _ := json.Marshal(r)
		it := items[r.Seq]
		it["data"] = &types.AttributeValueMemberS{Value: string(b)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, "\n")
}
