package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testKey(t *testing.T, fill byte) *LocalKey {
	t.Helper()
	k, err := NewLocalKey([]byte(strings.Repeat(string(rune(fill)), 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// write appends n records for alert to trail the way a commit does: sealed
// on the head, then signed as one write.
func write(t *testing.T, k Signer, trail []Record, n int) []Record {
	t.Helper()
	seq, head, alert := 0, "", "m/r"
	if len(trail) > 0 {
		seq, head, alert = trail[len(trail)-1].Seq, trail[len(trail)-1].Hash, trail[0].Alert
	}
	var recs []Record
	for i := range n {
		r := Record{Alert: alert, At: time.Date(2026, 3, 1, seq+i, 0, 0, 0, time.UTC), Action: Updated, Actor: "router", Model: "m", Rule: "r", ConfigDigest: "abc"}
		seq, head = r.Seal(seq, head)
		recs = append(recs, r)
	}
	if _, err := Sign(context.Background(), k, recs); err != nil {
		t.Fatal(err)
	}
	return append(trail, recs...)
}

func legacyTrail(t *testing.T) []Record {
	t.Helper()
	f, err := os.Open("testdata/v1-trail.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// Records written before chains were keyed (testdata holds a trail written
// by that code) verify as they did, and are reported as unkeyed.
func TestLegacyTrailVerifiesAsUnkeyed(t *testing.T) {
	trail := legacyTrail(t)
	if len(trail) != 3 {
		t.Fatalf("testdata trail has %d records", len(trail))
	}
	rep, err := Check(context.Background(), trail, Keys{})
	if err != nil {
		t.Fatalf("Check(legacy trail) = %v", err)
	}
	if rep.Vouched != 0 || rep.Unkeyed() != 3 || len(rep.Keys) != 0 {
		t.Errorf("report = %+v (unkeyed %d), want 0 vouched, 3 unkeyed", rep, rep.Unkeyed())
	}
	// Once a keyed write follows, its MAC vouches for the legacy records too.
	k := testKey(t, 'k')
	trail = write(t, k, trail, 2)
	rep, err = Check(context.Background(), trail, Keys{k.KeyID(): k})
	if err != nil || rep.Vouched != 5 || rep.Legacy != 3 || rep.Unkeyed() != 0 {
		t.Errorf("Check(legacy + keyed) = %+v, %v; want all 5 vouched, 3 of them legacy", rep, err)
	}
}

// rechain is the forger with write access to the table: they edit a
// record and recompute every hash after it, so the unkeyed chain holds.
func rechain(trail []Record, at int, edit func(*Record)) []Record {
	out := append([]Record(nil), trail...)
	edit(&out[at])
	prev := ""
	if at > 0 {
		prev = out[at-1].Hash
	}
	for i := at; i < len(out); i++ {
		out[i].PrevHash = prev
		out[i].Hash = out[i].digest()
		prev = out[i].Hash
	}
	return out
}

func TestRewrittenHistoryIsDetectedWithTheKeyOnly(t *testing.T) {
	k := testKey(t, 'k')
	trail := write(t, k, nil, 3)
	trail = write(t, k, trail, 2)
	forged := rechain(trail, 1, func(r *Record) { r.Owner = "someone-else" })
	if err := Verify(forged); err != nil {
		t.Fatalf("Verify(rechained) = %v; the forgery should fool the unkeyed chain", err)
	}
	_, err := Check(context.Background(), forged, Keys{k.KeyID(): k})
	var b *Broken
	if !errors.As(err, &b) || b.Seq != 3 || !strings.Contains(err.Error(), "MAC does not verify") {
		t.Fatalf("Check(rechained) = %v, want the MAC of record 3 (the first after the edit) not to verify", err)
	}
	// The untouched trail checks out, every record vouched for.
	rep, err := Check(context.Background(), trail, Keys{k.KeyID(): k})
	if err != nil || rep.Vouched != 5 || rep.Keys[0] != k.KeyID() {
		t.Errorf("Check(intact) = %+v, %v", rep, err)
	}
}

func TestCheckFindings(t *testing.T) {
	k, other := testKey(t, 'k'), testKey(t, 'o')
	keys := Keys{k.KeyID(): k}
	trail := write(t, k, nil, 2)
	trail = write(t, k, trail, 3)
	for _, tc := range []struct {
		name string
		bad  func() []Record
		seq  int
		want string
	}{
		{"cut inside a write", func() []Record { return trail[:4] }, 3, "records 3-4 are keyed but no MAC vouches"},
		{"MAC removed", func() []Record {
			out := append([]Record(nil), trail...)
			out[4].MAC = ""
			return out
		}, 3, "no MAC vouches"},
		{"forged under the forger's own key", func() []Record {
			forged := rechain(trail, 0, func(r *Record) { r.Key = other.KeyID() })
			for i := range forged {
				forged[i].Key = other.KeyID()
			}
			forged = rechain(forged, 0, func(*Record) {})
			Sign(context.Background(), other, forged[3:])
			Sign(context.Background(), other, forged[:2])
			return forged
		}, 2, "not a key given to verify with"},
		{"downgraded in the middle", func() []Record {
			return rechain(trail, 3, func(r *Record) { r.Chain, r.Key = 0, "" })
		}, 4, "unkeyed (chain 1) after keyed record 3"},
		{"MAC not base64", func() []Record {
			out := append([]Record(nil), trail...)
			out[1].MAC = "%%%"
			return out
		}, 2, "not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(context.Background(), tc.bad(), keys)
			var b *Broken
			if !errors.As(err, &b) || b.Seq != tc.seq || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v (%+v), want a finding at record %d containing %q", err, b, tc.seq, tc.want)
			}
		})
	}
	// A trail cut at a write's boundary still checks out: the chain proves
	// what is there, not that nothing was removed from its end.
	if _, err := Check(context.Background(), trail[:2], keys); err != nil {
		t.Errorf("Check(first write only) = %v", err)
	}
}

// A key that cannot answer is not a finding about the trail: the error
// says the MAC was not checked, and why.
func TestCheckReportsAnUncheckableMAC(t *testing.T) {
	k := testKey(t, 'k')
	trail := write(t, k, nil, 1)
	gone := failingKey{id: k.KeyID(), err: errors.New("key is pending deletion")}
	_, err := Check(context.Background(), trail, Keys{k.KeyID(): gone})
	var b *Broken
	if err == nil || errors.As(err, &b) || !strings.Contains(err.Error(), "pending deletion") || !strings.Contains(err.Error(), "not checked") {
		t.Errorf("Check with a failing key = %v, want a non-finding error saying why", err)
	}
}

type failingKey struct {
	id  string
	err error
}

func (f failingKey) KeyID() string                                           { return f.id }
func (f failingKey) MAC(context.Context, []byte) ([]byte, error)             { return nil, f.err }
func (f failingKey) VerifyMAC(context.Context, []byte, []byte) (bool, error) { return false, f.err }

// countingKey counts MAC calls and holds each until two are in flight
// (or a second passes, or ctx ends), to show that calls for different
// alerts overlap.
type countingKey struct {
	*LocalKey
	calls    atomic.Int32
	inFlight atomic.Int32
	overlap  atomic.Bool
	// overlapped is closed when a call finds another in flight.
	overlapped chan struct{}
	once       sync.Once
}

func (c *countingKey) MAC(ctx context.Context, msg []byte) ([]byte, error) {
	c.calls.Add(1)
	if c.inFlight.Add(1) > 1 {
		c.overlap.Store(true)
		c.once.Do(func() { close(c.overlapped) })
	}
	defer c.inFlight.Add(-1)
	select {
	case <-c.overlapped:
	case <-time.After(time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.LocalKey.MAC(ctx, msg)
}

func TestSignMACsEachAlertsHeadOnceConcurrently(t *testing.T) {
	k := &countingKey{LocalKey: testKey(t, 'k'), overlapped: make(chan struct{})}
	var recs []Record
	heads := map[string][2]any{}
	for _, alert := range []string{"m/a", "m/b", "m/a", "m/b", "m/a"} {
		h := heads[alert]
		seq, _ := h[0].(int)
		prev, _ := h[1].(string)
		r := Record{Alert: alert, Action: Updated, Model: "m"}
		seq, prev = r.Seal(seq, prev)
		heads[alert] = [2]any{seq, prev}
		recs = append(recs, r)
	}
	got, err := Sign(context.Background(), k, recs)
	if err != nil {
		t.Fatal(err)
	}
	if n := k.calls.Load(); n != 2 {
		t.Errorf("MAC calls = %d, want 2 (one per alert)", n)
	}
	if !k.overlap.Load() {
		t.Error("the two alerts' MACs were computed one after the other")
	}
	for _, alert := range []string{"m/a", "m/b"} {
		var trail []Record
		for _, r := range recs {
			if r.Alert == alert {
				trail = append(trail, r)
			}
		}
		if got[alert] != trail[len(trail)-1].Hash {
			t.Errorf("head of %s = %s, want its last record's hash", alert, got[alert])
		}
		if rep, err := Check(context.Background(), trail, Keys{k.KeyID(): k.LocalKey}); err != nil || rep.Vouched != len(trail) {
			t.Errorf("Check(%s) = %+v, %v", alert, rep, err)
		}
		for _, r := range trail[:len(trail)-1] {
			if r.MAC != "" {
				t.Errorf("%s record %d has a MAC; only the write's last record of an alert needs one", alert, r.Seq)
			}
		}
	}
}

func TestSignFailsNamingTheKeyAndRecord(t *testing.T) {
	var r Record
	r.Alert = "m/a"
	r.Seal(0, "")
	_, err := Sign(context.Background(), failingKey{id: "arn:aws:kms:eu-west-1:111122223333:key/k1", err: errors.New("ThrottlingException")},
		[]Record{r})
	if err == nil || !strings.Contains(err.Error(), "key/k1") || !strings.Contains(err.Error(), "m/a record 1") || !strings.Contains(err.Error(), "Throttling") {
		t.Errorf("Sign = %v, want an error naming the key, the record and the cause", err)
	}
	if heads, err := Sign(context.Background(), nil, []Record{r}); err != nil || heads != nil {
		t.Errorf("Sign(unkeyed) = %v, %v; want nothing done", heads, err)
	}
}

func TestLocalKeyNeverShowsItsMaterial(t *testing.T) {
	material := strings.Repeat("ab", 32)
	k, err := ParseLocalKey(material)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), k.KeyID(), logged.String()} {
		if strings.Contains(s, material) || strings.Contains(s, string(mustHex(material))) {
			t.Errorf("%q shows the key", s)
		}
	}
	for _, bad := range []string{"zz" + material, material[:62]} {
		_, err := ParseLocalKey(bad)
		if err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("ParseLocalKey(bad) = %v, want an error that does not repeat the value", err)
		}
	}
	if k, err := ParseLocalKey(" unkeyed "); k != nil || err != nil {
		t.Errorf("ParseLocalKey(unkeyed) = %v, %v; want no key", k, err)
	}
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
