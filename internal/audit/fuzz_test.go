package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzCheck feeds Check trails read from untrusted bytes (a table anyone
// with write access may have edited): it never panics, and a trail it
// vouches for wholly is one whose every record a MAC under the trusted key
// covers — so a change to any record's content is caught.
func FuzzCheck(f *testing.F) {
	legacy, err := os.ReadFile("testdata/v1-trail.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy)
	k, _ := NewLocalKey(bytes.Repeat([]byte{'k'}, 32))
	var keyed []Record
	for _, r := range legacyRecords(legacy) {
		r.Chain, r.Key, r.MAC = 0, "", ""
		keyed = append(keyed, r)
	}
	if _, err := Sign(context.Background(), k, keyed); err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	for _, r := range keyed {
		line, _ := json.Marshal(r)
		b.Write(append(line, '\n'))
	}
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := legacyRecords(data)
		rep, err := Check(context.Background(), recs, Keys{k.KeyID(): k})
		var broken *Broken
		if err != nil && !errors.As(err, &broken) {
			t.Fatalf("Check with a local key = %v, want a finding or nil", err)
		}
		if err != nil || rep.Unkeyed() > 0 || len(recs) == 0 {
			return
		}
		// Wholly vouched: editing any record's content must be caught.
		for i := range recs {
			edited := append([]Record(nil), recs...)
			edited[i].Detail += "!"
			if _, err := Check(context.Background(), edited, Keys{k.KeyID(): k}); err == nil {
				t.Fatalf("record %d edited, yet the trail checks out", i+1)
			}
		}
	})
}

func legacyRecords(data []byte) []Record {
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}
