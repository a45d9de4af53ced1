package setup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// A test key, not a credential.
var localKey = strings.Repeat("5a", 32)

func TestTheAuditKeyComesFromTheEnvironment(t *testing.T) {
	kms := kmstest.New(t)
	arn := kms.CreateKey()
	client := kms.Client(t)
	for _, tc := range []struct {
		name   string
		env    map[string]string
		keyID  string // "" for unkeyed
		errHas string
	}{
		{"the stack's KMS key", map[string]string{EnvAuditKeyID: arn}, arn, ""},
		{"a local key", map[string]string{EnvAuditKey: localKey}, "local:", ""},
		{"unkeyed, said explicitly", map[string]string{EnvAuditKey: "unkeyed"}, "", ""},
		{"nothing said", nil, "", "AUDIT_KEY_ID is not set"},
		{"both", map[string]string{EnvAuditKeyID: arn, EnvAuditKey: localKey}, "", "both"},
		{"an alias", map[string]string{EnvAuditKeyID: "alias/stakeout-audit"}, "", "not a KMS key ARN"},
		{"a short local key", map[string]string{EnvAuditKey: localKey[:40]}, "", "at least 32 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			k, err := auditKey(func(n string) string { return tc.env[n] }, slog.New(slog.NewTextHandler(&logs, nil)), client)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("auditKey = %v, want an error containing %q", err, tc.errHas)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.errHas != "":
			case tc.keyID == "" && k != nil:
				t.Errorf("key = %v, want none", k)
			case tc.keyID != "" && (k == nil || !strings.HasPrefix(k.KeyID(), tc.keyID)):
				t.Errorf("key = %v, want %s…", k, tc.keyID)
			}
			if err != nil && strings.Contains(err.Error(), localKey[:40]) || strings.Contains(logs.String(), localKey[:40]) {
				t.Error("the local key's value was logged or put in an error")
			}
		})
	}
}

func loadWith(t *testing.T, extra map[string]string) *Deps {
	t.Helper()
	return loadReading(t, extra, func(string) {})
}

// loadReading is loadWith, calling read with the name of every variable
// Load's wiring reads, whenever it reads it.
func loadReading(t *testing.T, extra map[string]string, read func(name string)) *Deps {
	t.Helper()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	// DynamoDB Local and kmstest take any credentials: placeholders.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	env := map[string]string{EnvConfigDir: "../..", EnvTable: table, EnvEndpoint: dynamotest.Endpoint(), EnvSecrets: "env"}
	for k, v := range extra {
		env[k] = v
	}
	d, err := Load(context.Background(), func(k string) string { read(k); return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func commitRecords(d *Deps, a *state.Alert, n int) error {
	c := &state.Commit{}
	for range n {
		c.Record(a, audit.Record{Alert: a.ID, Action: audit.Updated, Model: "m", Rule: "r", At: time.Now()})
	}
	return d.Store.Commit(context.Background(), c)
}

// Every commit through the functions' store is keyed with the stack's KMS
// key, one GenerateMac per alert; a key KMS refuses fails the commit and
// nothing unkeyed is written.
func TestCommitsAreSignedWithTheStacksKMSKey(t *testing.T) {
	kms := kmstest.New(t)
	arn := kms.CreateKey()
	d := loadWith(t, map[string]string{EnvAuditKeyID: arn, EnvKMSEndpoint: kms.URL()})
	a := &state.Alert{ID: "m/r"}
	if err := commitRecords(d, a, 3); err != nil {
		t.Fatal(err)
	}
	recs, err := d.Store.Backend.(*dynamostore.Store).AlertRecords(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := kmsmac.NewVerifier(kms.Client(t), arn)
	rep, err := audit.Check(context.Background(), recs, audit.Keys{arn: v})
	if err != nil || rep.Vouched != 3 || kms.Calls("GenerateMac") != 1 {
		t.Fatalf("Check = %+v, %v after %d GenerateMac calls; want 3 records vouched for by 1 call", rep, err, kms.Calls("GenerateMac"))
	}
	kms.Disable(arn)
	err = commitRecords(d, a, 1)
	if err == nil || !strings.Contains(err.Error(), "DisabledException") || errors.Is(err, state.ErrConflict) {
		t.Errorf("Commit with the key disabled = %v, want the KMS error", err)
	}
	if recs, _ := d.Store.Backend.(*dynamostore.Store).AlertRecords(context.Background(), a.ID); len(recs) != 3 {
		t.Errorf("%d records after the failed commit, want the 3 before it", len(recs))
	}
}

func TestAnExplicitlyUnkeyedChainIsWrittenUnkeyed(t *testing.T) {
	d := loadWith(t, map[string]string{EnvAuditKey: audit.Unkeyed})
	a := &state.Alert{ID: "m/r"}
	if err := commitRecords(d, a, 2); err != nil {
		t.Fatal(err)
	}
	recs, _ := d.Store.Backend.(*dynamostore.Store).AlertRecords(context.Background(), a.ID)
	rep, err := audit.Check(context.Background(), recs, audit.Keys{})
	if err != nil || rep.Unkeyed() != 2 {
		t.Errorf("Check = %+v, %v; want 2 unkeyed records", rep, err)
	}
}

func TestRoutingKeysOutsideThePrefixAreRefused(t *testing.T) {
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	// Test values, not credentials.
	env := secret.NewEnv(func(k string) (string, bool) { return "test-routing-key-not-real", true })
	r := routingKeysUnder(env, "stakeout/pagerduty/", cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	for _, ref := range []string{"secret:stakeout/pagerduty/credit-ds", "secret:arn:aws:secretsmanager:eu-west-1:111122223333:secret:stakeout/pagerduty/x-AbCdEf"} {
		if _, err := r.Resolve(ctx, ref); err != nil {
			t.Errorf("Resolve(%s) = %v", ref, err)
		}
	}
	for _, ref := range []string{"secret:stakeout/slack/signing-secret", "secret:stakeout/pagerduty-webhook/signing-secret",
		"secret:arn:aws:secretsmanager:eu-west-1:111122223333:secret:stakeout/slack/signing-secret-AbCdEf"} {
		if _, err := r.Resolve(ctx, ref); err == nil || !strings.Contains(err.Error(), "outside "+EnvRoutingKeyPrefix) {
			t.Errorf("Resolve(%s) = %v, want it refused as outside the prefix", ref, err)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("the repository's owners all page under the prefix, yet: %s", logs.String())
	}
	routingKeysUnder(env, "elsewhere/", cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "routing key outside the stack's prefix") {
		t.Errorf("no owner's routing key is under elsewhere/, yet nothing was logged at start")
	}
}
