package kmsmac_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
)

func keys(t testing.TB, s *kmstest.Server, client *kms.Client, arn string) (*kmsmac.Key, *kmsmac.Verifier) {
	t.Helper()
	k, err := kmsmac.New(client, arn)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kmsmac.NewVerifier(client, arn)
	if err != nil {
		t.Fatal(err)
	}
	return k, v
}

func TestMACsVerifyUnderTheKeyOnly(t *testing.T) {
	s := kmstest.New(t)
	client := s.Client(t)
	arn, other := s.CreateKey(), s.CreateKey()
	k, v := keys(t, s, client, arn)
	_, wrong := keys(t, s, client, other)
	ctx := context.Background()
	mac, err := k.MAC(ctx, []byte("chain hash"))
	if err != nil || len(mac) != 32 {
		t.Fatalf("MAC = %x, %v; want 32 bytes", mac, err)
	}
	if ok, err := v.VerifyMAC(ctx, []byte("chain hash"), mac); !ok || err != nil {
		t.Errorf("VerifyMAC(same message) = %v, %v; want true", ok, err)
	}
	// KMS answers KMSInvalidMacException: a MAC that does not verify, not an error.
	if ok, err := v.VerifyMAC(ctx, []byte("chain hash rewritten"), mac); ok || err != nil {
		t.Errorf("VerifyMAC(other message) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := wrong.VerifyMAC(ctx, []byte("chain hash"), mac); ok || err != nil {
		t.Errorf("VerifyMAC under another key = %v, %v; want false, nil", ok, err)
	}
	if k.KeyID() != arn || s.Calls("GenerateMac") != 1 || s.Calls("VerifyMac") != 3 {
		t.Errorf("KeyID %s, calls %d/%d", k.KeyID(), s.Calls("GenerateMac"), s.Calls("VerifyMac"))
	}
}

// The forger who can write the table rewrites a record and recomputes the
// chain; without GenerateMac on the key their MACs are missing or wrong.
func TestRechainedHistoryIsDetectedThroughKMS(t *testing.T) {
	s := kmstest.New(t)
	k, v := keys(t, s, s.Client(t), s.CreateKey())
	ctx := context.Background()
	var trail []audit.Record
	seq, head := 0, ""
	for range 2 { // two writes of two records each
		var recs []audit.Record
		for range 2 {
			r := audit.Record{Alert: "m/r", Action: audit.Updated, Model: "m", Rule: "r", Owner: "team"}
			seq, head = r.Seal(seq, head)
			recs = append(recs, r)
		}
		heads, err := audit.Sign(ctx, k, recs)
		if err != nil {
			t.Fatal(err)
		}
		head = heads["m/r"]
		trail = append(trail, recs...)
	}
	trusted := audit.Keys{v.KeyID(): v}
	if rep, err := audit.Check(ctx, trail, trusted); err != nil || rep.Vouched != 4 {
		t.Fatalf("Check(intact) = %+v, %v", rep, err)
	}
	// Rewrite record 1 and rechain with a local key of the forger's, under
	// the real key's name.
	forger, _ := audit.NewLocalKey([]byte(strings.Repeat("f", 32)))
	forged := append([]audit.Record(nil), trail...)
	forged[0].Owner = "someone-else"
	for i := range forged {
		forged[i].MAC = ""
	}
	seq, head = 0, ""
	for i := range forged {
		seq, head = forged[i].Seal(seq, head)
	}
	if _, err := audit.Sign(ctx, named{forger, k.KeyID()}, forged); err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(forged); err != nil {
		t.Fatalf("Verify(forged) = %v; the unkeyed checks should pass", err)
	}
	_, err := audit.Check(ctx, forged, trusted)
	var b *audit.Broken
	if !errors.As(err, &b) || b.Seq != 4 || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("Check(forged) = %v, want record 4's MAC not to verify", err)
	}
}

// named is a forger's key that claims another key's id.
type named struct {
	*audit.LocalKey
	id string
}

func (n named) KeyID() string { return n.id }

func TestAKeyThatCannotBeUsedIsAnErrorNotAFinding(t *testing.T) {
	s := kmstest.New(t)
	client := s.Client(t)
	arn := s.CreateKey()
	k, v := keys(t, s, client, arn)
	ctx := context.Background()
	mac, err := k.MAC(ctx, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	s.Disable(arn)
	if _, err := k.MAC(ctx, []byte("m")); err == nil || !strings.Contains(err.Error(), "DisabledException") {
		t.Errorf("MAC with a disabled key = %v, want DisabledException", err)
	}
	s.ScheduleDeletion(arn)
	if ok, err := v.VerifyMAC(ctx, []byte("m"), mac); ok || err == nil || !strings.Contains(err.Error(), "KMSInvalidStateException") {
		t.Errorf("VerifyMAC with a key pending deletion = %v, %v; want KMSInvalidStateException", ok, err)
	}
	gone, _ := keys(t, s, client, "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000")
	if _, err := gone.MAC(ctx, []byte("m")); err == nil || !strings.Contains(err.Error(), "NotFoundException") {
		t.Errorf("MAC with no such key = %v, want NotFoundException", err)
	}
}

func TestThrottlingIsRetriedByTheSDK(t *testing.T) {
	s := kmstest.New(t)
	quick := func(o *kms.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = time.Millisecond })
	}
	k, _ := keys(t, s, s.Client(t, quick), s.CreateKey())
	s.FailCalls(1, http.StatusBadRequest)
	if _, err := k.MAC(context.Background(), []byte("m")); err != nil {
		t.Errorf("MAC after one throttled call = %v, want the retry to succeed", err)
	}
	s.FailCalls(10, http.StatusBadRequest)
	if _, err := k.MAC(context.Background(), []byte("m")); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("MAC throttled throughout = %v, want ThrottlingException", err)
	}
}

func TestKeysAreNamedByARN(t *testing.T) {
	for _, id := range []string{"alias/stakeout-audit", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-east-1:111122223333:alias/x", ""} {
		if _, err := kmsmac.New(nil, id); err == nil || !strings.Contains(err.Error(), "not a KMS key ARN") {
			t.Errorf("New(%q) = %v, want refused", id, err)
		}
	}
	if _, err := kmsmac.New(nil, "arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234abcd"); err != nil {
		t.Errorf("New(China multi-Region key ARN) = %v", err)
	}
}

// BenchmarkSignCommit is what a commit waits for its MACs with KMS 5 ms
// away: one alert with four records (the router's usual write) and four
// alerts (a group's join).
// Target: one round trip per commit whatever it holds, ≤ 1.5 × the KMS
// latency (7.5 ms here); a call per record would cost 20 ms.
func BenchmarkSignCommit(b *testing.B) {
	const latency = 5 * time.Millisecond
	s := kmstest.New(b, kmstest.WithLatency(latency))
	k, _ := keys(b, s, s.Client(b), s.CreateKey())
	for _, alerts := range []int{1, 4} {
		b.Run(map[int]string{1: "1 alert, 4 records", 4: "4 alerts, 4 records each"}[alerts], func(b *testing.B) {
			calls := s.Calls("GenerateMac")
			for b.Loop() {
				var recs []audit.Record
				for a := range alerts {
					seq, head := 0, ""
					for range 4 {
						r := audit.Record{Alert: string(rune('a' + a)), Action: audit.Updated}
						seq, head = r.Seal(seq, head)
						recs = append(recs, r)
					}
				}
				if _, err := audit.Sign(context.Background(), k, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.Calls("GenerateMac")-calls)/float64(b.N), "kms-calls/op")
		})
	}
}
