package state

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKeyPartKeepsWhatFits(t *testing.T) {
	for _, s := range []string{"", "m/r/feature=income", strings.Repeat("a", 100)} {
		if got := KeyPart(s, 100); got != s {
			t.Errorf("KeyPart(%q, 100) = %q, want it unchanged", s, got)
		}
	}
}

func TestKeyPartBoundsWithAReadablePrefixAndAHash(t *testing.T) {
	for name, s := range map[string]string{
		"slashes":   url.QueryEscape(strings.Repeat("/", 200)),
		"non-ascii": url.QueryEscape(strings.Repeat("é", 100)),
		"raw utf-8": strings.Repeat("日本", 200),
		"ascii":     strings.Repeat("x", 3000),
	} {
		t.Run(name, func(t *testing.T) {
			got := KeyPart(s, 100)
			if len(got) > 100 {
				t.Errorf("KeyPart is %d bytes, want at most 100", len(got))
			}
			prefix, hashed := Hashed(got)
			if !hashed || prefix == "" || !strings.HasPrefix(s, prefix) {
				t.Errorf("KeyPart = %q, want a prefix of the part, the mark and a hash", got)
			}
			if !utf8.ValidString(got) {
				t.Errorf("KeyPart = %q cuts a character", got)
			}
			if _, err := url.QueryUnescape(prefix); err != nil {
				t.Errorf("prefix %q does not unescape: %v", prefix, err)
			}
			if again := KeyPart(s, 100); again != got {
				t.Errorf("KeyPart is not deterministic: %q, then %q", got, again)
			}
		})
	}
}

func TestKeyPartKeepsPartsApart(t *testing.T) {
	a, b := strings.Repeat("x", 500)+"a", strings.Repeat("x", 500)+"b"
	if KeyPart(a, 100) == KeyPart(b, 100) {
		t.Errorf("two parts that differ only past the prefix share a key part")
	}
	// A part kept whole never carries the mark an escaped id cannot.
	if _, hashed := Hashed(url.QueryEscape("a…b")); hashed {
		t.Errorf("an escaped part reads as hashed")
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short", 100); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	long := strings.Repeat("é", 1000)
	got := Clip(long, 200)
	if len(got) > 200 || !utf8.ValidString(got) || !strings.Contains(got, "truncated: 2000 bytes in all") {
		t.Errorf("Clip = %q (%d bytes), want at most 200 valid bytes saying how long it was", got, len(got))
	}
}

func TestBoundLineage(t *testing.T) {
	small := map[string]any{"training_data": "s3://bucket/train.parquet"}
	if got := BoundLineage(small); len(got) != 1 {
		t.Errorf("BoundLineage(small) = %v, want it unchanged", got)
	}
	big := map[string]any{"a": strings.Repeat("x", 10<<10), "b": strings.Repeat("y", 10<<10), "c": "small"}
	got := BoundLineage(big)
	data, _ := json.Marshal(got)
	if len(data) > MaxLineageBytes {
		t.Errorf("bounded lineage is %d bytes, want at most %d", len(data), MaxLineageBytes)
	}
	if got["a"] == nil || got["b"] != nil || got["c"] != "small" || got[LineageCut] == nil {
		t.Errorf("bounded lineage keeps %v, want a and c, and the mark", got)
	}
}

func TestSubjectOfAHashedPart(t *testing.T) {
	id := "m/r/feature=" + KeyPart(url.QueryEscape(strings.Repeat("/", 200)), 240)
	got := Subject(id)
	v, _ := strings.CutPrefix(got, "feature=")
	if !strings.HasPrefix(v, "///") || strings.Trim(v, "/") != "…" {
		t.Errorf("Subject(%q) = %q, want the feature's unescaped prefix and …", id, got)
	}
}
