package signature

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slack's worked example in "Verifying requests from Slack"
// (https://api.slack.com/authentication/verifying-requests-from-slack): the
// signing secret, X-Slack-Request-Timestamp, slash-command body and the
// X-Slack-Signature the guide says they produce. The secret is the guide's
// placeholder, not a real one.
const (
	docSlackSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	docSlackTimestamp = 1531420618
	docSlackBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	docSlackSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

// PagerDuty's "Verifying Signatures" page
// (https://developer.pagerduty.com/docs/ZG9jOjExMDI5NTkz-verifying-signatures,
// github.com/PagerDuty/developer-docs docs/webhooks/04-Signatures.md) shows
// only a header, two v1 entries from a rotation, without the secret or body
// behind them, so it cannot be checked against. The vector below was
// computed outside Go instead:
//
//	printf '%s' "$body" | openssl dgst -sha256 -hmac stakeout-test-pagerduty-secret
//
// so the test pins the scheme, not SignPagerDuty's own output.
const (
	pdSecret    = "stakeout-test-pagerduty-secret"
	pdOldSecret = "stakeout-test-pagerduty-secret-old"
	pdBody      = `{"event":{"id":"01STAKEOUTPING0000000000001","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-03-01T06:00:00.000Z","agent":null,"client":null,"data":{"message":"Hello from your friend Pagey!","type":"ping"}}}`
	pdSignature = "v1=18b4fd6c7f45ef53d646a18a381942a25986badb52605819f93e16c87bdab11d"
	// pdOldSignature is the same body under pdOldSecret (openssl again).
	pdOldSignature = "v1=21ac3d5481b66304adca3aa4c557234e295c03ddc59e567607ed9fdff9a82653"
	// pdDocHeader is the documented example header, sent as one line.
	pdDocHeader = "v1=f03de6f61df6e454f3620c4d6aca17ad072d3f8bbb2760eac3b2ad391b5e8073,v1=130dcacb53a94d983a37cf2acba98e805a1c37185309ba56fdcccbcf00d6dd8b"
)

func slackHeader(sig, ts string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set(SlackSignatureHeader, sig)
	}
	if ts != "" {
		h.Set(SlackTimestampHeader, ts)
	}
	return h
}

func TestSignSlackReproducesSlacksExample(t *testing.T) {
	if got := SignSlack([]byte(docSlackSecret), docSlackTimestamp, []byte(docSlackBody)); got != docSlackSignature {
		t.Errorf("SignSlack(Slack's example) = %s, want %s", got, docSlackSignature)
	}
}

func TestVerifySlack(t *testing.T) {
	docTS := strconv.Itoa(docSlackTimestamp)
	docNow := time.Unix(docSlackTimestamp, 0).Add(time.Minute)
	// A second request, signed by us, for cases that need another body or
	// timestamp than the documented one.
	now := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	secret := []byte("stakeout-test-slack-secret")
	body := []byte(`{"type":"block_actions","actions":[{"action_id":"ack"}]}`)
	sign := func(at time.Time) (string, string) {
		return SignSlack(secret, at.Unix(), body), strconv.FormatInt(at.Unix(), 10)
	}
	good, goodTS := sign(now)
	digest := strings.TrimPrefix(good, "v0=")

	tests := []struct {
		name   string
		secret []byte
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{name: "Slack's documented example verifies", secret: []byte(docSlackSecret),
			h: slackHeader(docSlackSignature, docTS), body: []byte(docSlackBody), now: docNow},
		{name: "a request signed now verifies", secret: secret, h: slackHeader(good, goodTS), body: body, now: now},
		{name: "header names are case-insensitive", secret: secret,
			h: http.Header{"X-Slack-Signature": {good}, "X-Slack-Request-Timestamp": {goodTS}}, body: body, now: now},
		{name: "upper-case hex digits are accepted", secret: secret,
			h: slackHeader("v0="+strings.ToUpper(digest), goodTS), body: body, now: now},
		{name: "a timestamp exactly five minutes old is still fresh", secret: secret,
			h: slackHeader(sign(now.Add(-MaxSkew))), body: body, now: now},
		{name: "a timestamp exactly five minutes ahead is still fresh", secret: secret,
			h: slackHeader(sign(now.Add(MaxSkew))), body: body, now: now},

		{name: "a replayed old request is stale", secret: []byte(docSlackSecret),
			h: slackHeader(docSlackSignature, docTS), body: []byte(docSlackBody), now: now, want: ErrStale},
		{name: "a timestamp one second past the window is stale", secret: secret,
			h: slackHeader(sign(now.Add(-MaxSkew - time.Second))), body: body, now: now, want: ErrStale},
		{name: "a timestamp more than five minutes in the future is stale", secret: secret,
			h: slackHeader(sign(now.Add(MaxSkew + time.Second))), body: body, now: now, want: ErrStale},
		{name: "an enormous timestamp is stale, not an overflow", secret: secret,
			h: slackHeader(good, "999999999999999999"), body: body, now: now, want: ErrStale},
		{name: "zero is stale", secret: secret, h: slackHeader(good, "0"), body: body, now: now, want: ErrStale},

		{name: "a tampered body does not match", secret: []byte(docSlackSecret),
			h: slackHeader(docSlackSignature, docTS), body: []byte(strings.Replace(docSlackBody, "text=", "text=rm", 1)),
			now: docNow, want: ErrMismatch},
		{name: "a wrong secret does not match", secret: []byte("some-other-secret"),
			h: slackHeader(docSlackSignature, docTS), body: []byte(docSlackBody), now: docNow, want: ErrMismatch},
		{name: "a signature for another timestamp does not match", secret: secret,
			h: slackHeader(good, strconv.FormatInt(now.Unix()+1, 10)), body: body, now: now, want: ErrMismatch},
		{name: "a v1 signature is the wrong version", secret: secret,
			h: slackHeader("v1="+digest, goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a digest without version prefix is malformed", secret: secret,
			h: slackHeader(digest, goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a non-hex digest is malformed", secret: secret,
			h: slackHeader("v0="+strings.Repeat("zz", 32), goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a short digest is malformed", secret: secret,
			h: slackHeader("v0="+digest[:62], goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a long digest is malformed", secret: secret,
			h: slackHeader(good+"00", goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a prefix with no digest is malformed", secret: secret,
			h: slackHeader("v0=", goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a non-numeric timestamp is malformed", secret: secret,
			h: slackHeader(good, "yesterday"), body: body, now: now, want: ErrMismatch},
		{name: "a signed timestamp is malformed", secret: secret,
			h: slackHeader(good, "+"+goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a negative timestamp is malformed", secret: secret,
			h: slackHeader(good, "-"+goodTS), body: body, now: now, want: ErrMismatch},
		{name: "a fractional timestamp is malformed", secret: secret,
			h: slackHeader(good, goodTS+".5"), body: body, now: now, want: ErrMismatch},

		{name: "a missing signature header is missing", secret: secret, h: slackHeader("", goodTS), body: body, now: now, want: ErrMissing},
		{name: "a missing timestamp header is missing", secret: secret, h: slackHeader(good, ""), body: body, now: now, want: ErrMissing},
		{name: "a blank signature header is missing", secret: secret,
			h: http.Header{SlackSignatureHeader: {"  "}, SlackTimestampHeader: {goodTS}}, body: body, now: now, want: ErrMissing},
		{name: "no headers at all is missing", secret: secret, h: nil, body: body, now: now, want: ErrMissing},

		{name: "an empty secret never verifies", secret: nil,
			h: slackHeader(SignSlack(nil, now.Unix(), body), goodTS), body: body, now: now, want: ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySlack(tt.secret, tt.h, tt.body, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifySlack() = %v, want %v", err, tt.want)
			}
			if err != nil {
				assertDiscreet(t, err, tt.secret, SignSlack(tt.secret, docSlackTimestamp, tt.body), SignSlack(tt.secret, now.Unix(), tt.body))
			}
		})
	}
}

func TestSignPagerDutyMatchesIndependentVector(t *testing.T) {
	if got := SignPagerDuty([]byte(pdSecret), []byte(pdBody)); got != pdSignature {
		t.Errorf("SignPagerDuty(vector) = %s, want %s", got, pdSignature)
	}
}

func TestVerifyPagerDuty(t *testing.T) {
	pdHeader := func(values ...string) http.Header {
		h := http.Header{}
		for _, v := range values {
			h.Add(PagerDutySignatureHeader, v)
		}
		return h
	}
	digest := strings.TrimPrefix(pdSignature, "v1=")

	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		want   error
	}{
		{name: "a single v1 signature verifies", secret: pdSecret, h: pdHeader(pdSignature), body: pdBody},
		{name: "during rotation the second of two signatures matches", secret: pdSecret,
			h: pdHeader(pdOldSignature + "," + pdSignature), body: pdBody},
		{name: "during rotation the first of two signatures matches", secret: pdOldSecret,
			h: pdHeader(pdOldSignature + "," + pdSignature), body: pdBody},
		{name: "spaces around commas are tolerated", secret: pdSecret,
			h: pdHeader("  " + pdOldSignature + " ,\t" + pdSignature + " "), body: pdBody},
		{name: "entries of other versions are ignored", secret: pdSecret,
			h: pdHeader("v2=" + strings.Repeat("ab", 40) + "," + pdSignature), body: pdBody},
		{name: "malformed entries are skipped when a good one follows", secret: pdSecret,
			h: pdHeader("v1=nothex,v1=abcd,garbage,,v1=," + pdSignature), body: pdBody},
		{name: "a header repeated on the wire is read whole", secret: pdSecret,
			h: pdHeader(pdOldSignature, pdSignature), body: pdBody},
		{name: "upper-case hex digits are accepted", secret: pdSecret,
			h: pdHeader("v1=" + strings.ToUpper(digest)), body: pdBody},

		{name: "PagerDuty's documented example header does not match our body", secret: pdSecret,
			h: pdHeader(pdDocHeader), body: pdBody, want: ErrMismatch},
		{name: "a tampered body does not match", secret: pdSecret,
			h: pdHeader(pdSignature), body: strings.Replace(pdBody, "pagey.ping", "incident.resolved", 1), want: ErrMismatch},
		{name: "a wrong secret does not match", secret: "some-other-secret",
			h: pdHeader(pdOldSignature + "," + pdSignature), body: pdBody, want: ErrMismatch},
		{name: "only other versions is a mismatch", secret: pdSecret,
			h: pdHeader("v0=" + digest + ",v2=" + digest), body: pdBody, want: ErrMismatch},
		{name: "a digest without version prefix is a mismatch", secret: pdSecret,
			h: pdHeader(digest), body: pdBody, want: ErrMismatch},
		{name: "a non-hex digest is a mismatch", secret: pdSecret,
			h: pdHeader("v1=" + strings.Repeat("g", 64)), body: pdBody, want: ErrMismatch},
		{name: "a short digest is a mismatch", secret: pdSecret,
			h: pdHeader("v1=" + digest[:63]), body: pdBody, want: ErrMismatch},
		{name: "a long digest is a mismatch", secret: pdSecret,
			h: pdHeader(pdSignature + "0"), body: pdBody, want: ErrMismatch},
		{name: "only commas is a mismatch", secret: pdSecret, h: pdHeader(" , ,"), body: pdBody, want: ErrMismatch},

		{name: "a missing header is missing", secret: pdSecret, h: http.Header{}, body: pdBody, want: ErrMissing},
		{name: "an empty header is missing", secret: pdSecret, h: pdHeader(""), body: pdBody, want: ErrMissing},
		{name: "no headers at all is missing", secret: pdSecret, h: nil, body: pdBody, want: ErrMissing},

		{name: "an empty secret never verifies", secret: "",
			h: pdHeader(SignPagerDuty(nil, []byte(pdBody))), body: pdBody, want: ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyPagerDuty([]byte(tt.secret), tt.h, []byte(tt.body))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyPagerDuty() = %v, want %v", err, tt.want)
			}
			if err != nil {
				assertDiscreet(t, err, []byte(tt.secret), SignPagerDuty([]byte(tt.secret), []byte(tt.body)))
			}
		})
	}
}

// assertDiscreet fails if err's message would help a forger: it must not
// contain the secret or the signature stakeout expected.
func assertDiscreet(t *testing.T, err error, secret []byte, expected ...string) {
	t.Helper()
	msg := err.Error()
	if len(secret) > 0 && strings.Contains(msg, string(secret)) {
		t.Errorf("error %q contains the secret", msg)
	}
	for _, e := range expected {
		_, digest, _ := strings.Cut(e, "=")
		if strings.Contains(strings.ToLower(msg), digest[:16]) {
			t.Errorf("error %q contains the expected signature", msg)
		}
	}
}

// One verification per inbound request, on a body of about 4 KiB. Target:
// under 50µs and a dozen allocations, most of it SHA-256 over the body;
// invisible next to the Lambda invocation around it.
func BenchmarkVerifySlack(b *testing.B) {
	secret := []byte("stakeout-bench-slack-secret")
	body := []byte(strings.Repeat("payload=%7B%22type%22%3A%22block_actions%22%7D&", 80))
	now := time.Unix(1_770_000_000, 0)
	h := slackHeader(SignSlack(secret, now.Unix(), body), strconv.FormatInt(now.Unix(), 10))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifySlack(secret, h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPagerDuty(b *testing.B) {
	body := []byte(strings.Repeat(pdBody, 16))
	h := http.Header{}
	h.Set(PagerDutySignatureHeader, SignPagerDuty([]byte(pdOldSecret), body)+","+SignPagerDuty([]byte(pdSecret), body))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyPagerDuty([]byte(pdSecret), h, body); err != nil {
			b.Fatal(err)
		}
	}
}
