// Package signature checks that an inbound request really comes from Slack
// or PagerDuty before stakeout acts on it: a Slack button press can
// acknowledge an alert and a PagerDuty webhook can resolve one, so an
// unauthenticated request must never reach the handlers. Both vendors sign
// the raw body with HMAC-SHA256 under a secret shared with stakeout.
//
// Slack: https://api.slack.com/authentication/verifying-requests-from-slack
// PagerDuty: https://developer.pagerduty.com/docs/ZG9jOjExMDI5NTkz-verifying-signatures
// (source: github.com/PagerDuty/developer-docs, docs/webhooks/04-Signatures.md)
//
// Errors wrap one of the sentinels below so that a handler can answer 401
// (ErrMissing, ErrStale, ErrMismatch) or 500 (ErrNoSecret, a fault of ours)
// without reading messages. Messages name the problem but never carry the
// secret or the signature we expected: that would hand a forger the answer.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names. http.Header canonicalises on lookup, so the letter case
// Slack and PagerDuty happen to send does not matter.
const (
	SlackSignatureHeader     = "X-Slack-Signature"
	SlackTimestampHeader     = "X-Slack-Request-Timestamp"
	PagerDutySignatureHeader = "X-PagerDuty-Signature"
)

// MaxSkew is how far a Slack request timestamp may lie from our clock, in
// either direction: Slack's guide treats a timestamp more than five minutes
// from local time as a possible replay and tells apps to ignore the request.
// PagerDuty's v3 signature covers no timestamp, so there is nothing to check
// there: its redeliveries, and copies replayed by anyone, are deduplicated
// by the signed event.id and refused past an age (internal/pdsync).
const MaxSkew = 5 * time.Minute

var (
	// ErrMissing: the request carries no signature (or, for Slack, no
	// timestamp) at all.
	ErrMissing = errors.New("signature missing")
	// ErrStale: the Slack timestamp is more than MaxSkew away from now, as a
	// replayed request's is.
	ErrStale = errors.New("request timestamp outside the allowed window")
	// ErrMismatch: a signature is present but malformed, of an unknown
	// version, or not the one the secret produces for this body.
	ErrMismatch = errors.New("signature mismatch")
	// ErrNoSecret: stakeout has no secret to verify with. An empty key would
	// let anyone compute a valid signature, so it never verifies anything.
	ErrNoSecret = errors.New("no signing secret configured")
)

const (
	slackVersion     = "v0"
	pagerDutyVersion = "v1"
	hexLen           = 2 * sha256.Size
	// maxTimestampDigits keeps the parsed Slack timestamp far from int64
	// overflow; ten digits last until the year 2286.
	maxTimestampDigits = 18
)

// SignSlack returns the X-Slack-Signature value Slack would send for body
// at the given Unix timestamp: "v0=" + hex(HMAC-SHA256(secret,
// "v0:<timestamp>:<body>")). It exists for tests and local tools that
// replay requests against a handler.
func SignSlack(secret []byte, timestamp int64, body []byte) string {
	return slackVersion + "=" + hex.EncodeToString(slackMAC(secret, strconv.FormatInt(timestamp, 10), body))
}

// VerifySlack checks the X-Slack-Signature and X-Slack-Request-Timestamp
// headers against the raw body, exactly as received (Slack signs the bytes,
// not a re-encoding of them). now is injected so tests and replays control
// the clock.
func VerifySlack(secret []byte, h http.Header, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return fmt.Errorf("slack: %w", ErrNoSecret)
	}
	sig := strings.TrimSpace(h.Get(SlackSignatureHeader))
	if sig == "" {
		return fmt.Errorf("slack: %s header is absent or empty: %w", SlackSignatureHeader, ErrMissing)
	}
	ts := strings.TrimSpace(h.Get(SlackTimestampHeader))
	if ts == "" {
		return fmt.Errorf("slack: %s header is absent or empty: %w", SlackTimestampHeader, ErrMissing)
	}
	// Digits only: the timestamp is signed as the string it is, and
	// strconv would also take a sign that Slack never sends.
	if len(ts) > maxTimestampDigits || strings.TrimLeft(ts, "0123456789") != "" {
		return fmt.Errorf("slack: %s is not a Unix time in seconds: %w", SlackTimestampHeader, ErrMismatch)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("slack: %s is not a Unix time in seconds: %w", SlackTimestampHeader, ErrMismatch)
	}
	// Bounds in whole seconds, computed from now, so that no subtraction
	// involving an attacker's number can overflow.
	if sec < now.Add(-MaxSkew).Unix() {
		return fmt.Errorf("slack: %s is more than %v in the past: %w", SlackTimestampHeader, MaxSkew, ErrStale)
	}
	if sec > now.Add(MaxSkew).Unix() {
		return fmt.Errorf("slack: %s is more than %v in the future: %w", SlackTimestampHeader, MaxSkew, ErrStale)
	}
	got, err := decodeSignature(sig, slackVersion)
	if err != nil {
		return fmt.Errorf("slack: %s %v: %w", SlackSignatureHeader, err, ErrMismatch)
	}
	if !hmac.Equal(got, slackMAC(secret, ts, body)) {
		return fmt.Errorf("slack: %s does not match the body: %w", SlackSignatureHeader, ErrMismatch)
	}
	return nil
}

// SignPagerDuty returns an X-PagerDuty-Signature value for body:
// "v1=" + hex(HMAC-SHA256(secret, body)). PagerDuty joins one such entry per
// active secret with commas while a secret is being rotated.
func SignPagerDuty(secret []byte, body []byte) string {
	return pagerDutyVersion + "=" + hex.EncodeToString(mac(secret, body))
}

// VerifyPagerDuty checks the X-PagerDuty-Signature header against the raw
// body. Following PagerDuty's algorithm, the header is split on commas,
// entries of versions other than v1 are ignored, and one matching v1 entry
// is enough: during a secret rotation PagerDuty signs with both secrets and
// stakeout knows only one of them.
func VerifyPagerDuty(secret []byte, h http.Header, body []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("pagerduty: %w", ErrNoSecret)
	}
	// A header repeated on the wire means the same as its values joined
	// with commas (RFC 9110, section 5.3), so read every line of it.
	value := strings.Join(h.Values(PagerDutySignatureHeader), ",")
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("pagerduty: %s header is absent or empty: %w", PagerDutySignatureHeader, ErrMissing)
	}
	want := mac(secret, body)
	var entries, checked int
	matched := false
	for entry := range strings.SplitSeq(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		entries++
		if version, _, _ := strings.Cut(entry, "="); version != pagerDutyVersion {
			continue // malformed, or a future scheme we cannot check
		}
		got, err := decodeSignature(entry, pagerDutyVersion)
		if err != nil {
			continue
		}
		checked++
		// Compare every entry rather than stopping at the first match, so
		// the time taken does not depend on where the match sits.
		if hmac.Equal(got, want) {
			matched = true
		}
	}
	switch {
	case matched:
		return nil
	case checked == 0:
		return fmt.Errorf("pagerduty: %s holds no well-formed v1 signature among %d entries: %w",
			PagerDutySignatureHeader, entries, ErrMismatch)
	default:
		return fmt.Errorf("pagerduty: none of the %d v1 signatures in %s matches the body: %w",
			checked, PagerDutySignatureHeader, ErrMismatch)
	}
}

// decodeSignature takes "<version>=<64 hex digits>" apart. Its errors
// describe the shape only, never the value.
func decodeSignature(s, version string) ([]byte, error) {
	v, digest, ok := strings.Cut(s, "=")
	if !ok {
		return nil, errors.New("has no version prefix")
	}
	if v != version {
		return nil, fmt.Errorf("is not version %s", version)
	}
	if len(digest) != hexLen {
		return nil, fmt.Errorf("digest has %d characters, want %d", len(digest), hexLen)
	}
	b, err := hex.DecodeString(digest)
	if err != nil {
		return nil, errors.New("digest is not hexadecimal")
	}
	return b, nil
}

func slackMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(slackVersion + ":" + ts + ":"))
	m.Write(body)
	return m.Sum(nil)
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}
