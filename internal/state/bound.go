package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrRejected: the store refused a write (or a read) as it was given — a
// key or an item over the store's limits, say — and will refuse it again
// however often it is retried. An event whose commit is rejected is
// quarantined with the store's reason rather than retried into the
// dead-letter queue. Stores wrap their own error in it (DynamoDB's
// ValidationException; the embedded store's equivalent, worded alike).
var ErrRejected = errors.New("rejected by the store")

// hashMark separates a bounded key part's readable prefix from the hash of
// the whole. url.QueryEscape escapes every non-ASCII character, so "…"
// never appears in an escaped id: a part cut by KeyPart can never equal
// one kept whole.
const hashMark = "…"

// hashDigits is how many hex digits of the SHA-256 of a part KeyPart
// keeps: 128 bits, far beyond any chance collision.
const hashDigits = 32

// MinKeyPart is the smallest limit KeyPart can honour.
const MinKeyPart = len(hashMark) + hashDigits

// KeyPart bounds a part of a storage key or id: s itself when it is at
// most limit bytes long; otherwise as much of s as fits (whole characters,
// and never half a %XX escape), "…", and a hash of the whole, limit bytes
// in all. Two parts differ after it whenever they differed before, and a
// part within limit is kept as it is, so the keys of everything written
// before it existed stay the same. limit must be at least MinKeyPart.
func KeyPart(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	tail := hashMark + hex.EncodeToString(sum[:])[:hashDigits]
	cut := cutPoint(s, limit-len(tail))
	// An escape ("%2F") cut in two would unescape to nonsense.
	if i := strings.LastIndexByte(s[max(cut-2, 0):cut], '%'); i >= 0 {
		cut = max(cut-2, 0) + i
	}
	return s[:cut] + tail
}

// Hashed reports whether a key part was cut by KeyPart, and returns the
// readable prefix it kept.
func Hashed(part string) (prefix string, hashed bool) {
	prefix, _, hashed = strings.Cut(part, hashMark)
	return prefix, hashed
}

// Clip bounds a text kept for people (a summary, a reason, a quarantined
// body): s itself when it is at most limit bytes long; otherwise its first
// whole characters and a marker saying how long it was, limit bytes in all.
func Clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	mark := fmt.Sprintf("… (truncated: %d bytes in all)", len(s))
	return strings.ToValidUTF8(s[:cutPoint(s, limit-len(mark))], "") + mark
}

// cutPoint is the largest n ≤ limit (and ≥ 0) at which s can be cut
// between two characters.
func cutPoint(s string, limit int) int {
	n := min(max(limit, 0), len(s))
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// MaxLineageBytes bounds the lineage an alert, its audit records and its
// notifications keep of an event (encoded as JSON): lineage names the
// training data and registry entry, and a monitor that sends more must not
// push those records towards DynamoDB's 400 KB item limit.
const MaxLineageBytes = 16 << 10

// LineageCut is the lineage entry that says a lineage was cut.
const LineageCut = "_truncated"

// BoundLineage returns l when its JSON is at most MaxLineageBytes long;
// otherwise the entries that fit (by key, in order) and, under
// LineageCut, how much there was.
func BoundLineage(l map[string]any) map[string]any { return boundLineage(l, MaxLineageBytes) }

// boundLineage is BoundLineage to at most max bytes.
func boundLineage(l map[string]any, max int) map[string]any {
	whole, err := json.Marshal(l)
	if err != nil || len(whole) <= max {
		return l
	}
	out := map[string]any{}
	mark := fmt.Sprintf("lineage of %d bytes cut to %d", len(whole), max)
	used := len(`{"":""}`) + len(LineageCut) + len(mark)
	for _, k := range slices.Sorted(maps.Keys(l)) {
		entry, err := json.Marshal(map[string]any{k: l[k]})
		if err != nil || used+len(entry) > max {
			continue
		}
		out[k] = l[k]
		used += len(entry)
	}
	out[LineageCut] = mark
	return out
}
