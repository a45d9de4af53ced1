package setup

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/awsjsontest"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/bustest"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// secretsManagerAnswering is a Secrets Manager endpoint answering every
// GetSecretValue with a placeholder value (not a credential), counting
// the calls.
func secretsManagerAnswering(t *testing.T) (url string, calls func() int) {
	var mu sync.Mutex
	n := 0
	srv := awsjsontest.Start(t, func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", awsjsontest.ContentType)
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": in.SecretId, "SecretString": "placeholder",
			"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId + "-AbCdEf"})
	})
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// The clients a function may never need (KMS, Secrets Manager,
// EventBridge: a container whose events open no alert calls none) are
// not built by Load, which a cold start waits for, but at their first
// call; once, whichever calls come first and together. A client is
// built when its endpoint variable is read (its options are applied then),
// so the reads of those variables, through Load's own getenv, say when.
func TestLoadBuildsTheOptionalClientsAtTheirFirstCall(t *testing.T) {
	kms := kmstest.New(t)
	arn := kms.CreateKey()
	events := bustest.New(t, bustest.WithBuses("stakeout"))
	sm, smCalls := secretsManagerAnswering(t)
	var mu sync.Mutex
	reads := map[string]int{}
	read := func(name string) { mu.Lock(); reads[name]++; mu.Unlock() }
	built := func(name string) int { mu.Lock(); defer mu.Unlock(); return reads[name] }
	d := loadReading(t, map[string]string{EnvSecrets: "", EnvAuditKeyID: arn, EnvKMSEndpoint: kms.URL(),
		EnvSecretsManager: sm, EnvEventBus: "stakeout", EnvEventBridgeURL: events.URL()}, read)
	for _, name := range []string{EnvKMSEndpoint, EnvSecretsManager, EnvEventBridgeURL, EnvEndpoint} {
		if n, want := built(name), map[bool]int{true: 1}[name == EnvEndpoint]; n != want {
			t.Errorf("after Load, %s read %d times, want %d (DynamoDB's client at start, the others not yet)", name, n, want)
		}
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if err := commitRecords(d, &state.Alert{ID: "m/r" + string(rune('a'+i))}, 1); err != nil {
				t.Error(err)
			}
			if _, err := d.Secrets.Resolve(ctx, "secret:stakeout/slack/bot-token"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	err := d.Sender.Notifiers[deliver.Events].(*bus.Notifier).Bus.Publish(ctx, bus.Entry{DetailType: "Alert Opened", Detail: map[string]string{"alert": "m/r"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{EnvKMSEndpoint, EnvSecretsManager, EnvEventBridgeURL} {
		if n := built(name); n != 1 {
			t.Errorf("after the first calls, %s read %d times, want 1 (one client, built once)", name, n)
		}
	}
	if kms.Calls("GenerateMac") != 4 || smCalls() == 0 || events.Calls() != 1 {
		t.Errorf("calls: %d GenerateMac, %d GetSecretValue, %d PutEvents; want every first call to reach its endpoint",
			kms.Calls("GenerateMac"), smCalls(), events.Calls())
	}
}
