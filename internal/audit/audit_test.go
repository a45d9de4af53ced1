package audit

import (
	"strings"
	"testing"
	"time"
)

func chain(n int) []Record {
	var out []Record
	seq, hash := 0, ""
	v := 0.3
	for i := range n {
		r := Record{Alert: "m/r", At: time.Date(2026, 3, 1, i, 0, 0, 0, time.UTC), Action: Updated, Actor: "router",
			Model: "m", Rule: "r", Value: &v, ConfigDigest: "abc", Lineage: map[string]any{"training_data": "s3://x"}}
		seq, hash = r.Seal(seq, hash)
		out = append(out, r)
	}
	return out
}

func TestVerify(t *testing.T) {
	if err := Verify(chain(4)); err != nil {
		t.Fatalf("Verify(intact chain) = %v", err)
	}
	for _, tc := range []struct {
		name   string
		tamper func([]Record) []Record
		want   string
	}{
		{"edited value", func(rs []Record) []Record { v := 0.1; rs[1].Value = &v; return rs }, "record 2 (updated"},
		{"edited owner", func(rs []Record) []Record { rs[2].Owner = "someone-else"; return rs }, "does not match its hash"},
		{"removed record", func(rs []Record) []Record { return append(rs[:1], rs[2:]...) }, "missing or out of order"},
		{"rehashed edit", func(rs []Record) []Record {
			rs[1].Owner = "x"
			rs[1].Hash = rs[1].digest() // the forger recomputes the edited record's hash…
			return rs
		}, "does not link to record 2"}, // …but the next record still names the old one
		{"another alert's records, rechained", func(rs []Record) []Record {
			for i := 2; i < len(rs); i++ {
				rs[i].Alert, rs[i].PrevHash = "m/other", rs[i-1].Hash
				rs[i].Hash = rs[i].digest()
			}
			return rs
		}, "records of another trail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.tamper(chain(4)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestHashIgnoresTimeZone(t *testing.T) {
	rs := chain(1)
	rs[0].At = rs[0].At.In(time.FixedZone("CET", 3600))
	if err := Verify(rs); err != nil {
		t.Errorf("Verify after a time zone change = %v, want nil (same instant)", err)
	}
}
