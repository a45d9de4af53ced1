package bustest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stakeout-ml/stakeout/internal/bustest"
)

func entry(detail string) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{Source: aws.String("stakeout"), DetailType: aws.String("Alert Opened"), Detail: aws.String(detail)}
}

func entries(n int) []types.PutEventsRequestEntry {
	out := make([]types.PutEventsRequestEntry, n)
	for i := range out {
		out[i] = entry(`{"id":"a1"}`)
	}
	return out
}

// noRetries shows the test every answer the server gives, instead of the
// SDK retrying 5xx and throttling behind its back.
func noRetries(o *eventbridge.Options) { o.RetryMaxAttempts = 1 }

func put(t *testing.T, s *bustest.Server, es ...types.PutEventsRequestEntry) (*eventbridge.PutEventsOutput, error) {
	t.Helper()
	return s.Client(t, noRetries).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: es})
}

// results is the response's entries as code or "ok", for comparison.
func results(out *eventbridge.PutEventsOutput) []string {
	var r []string
	for _, e := range out.Entries {
		switch {
		case e.ErrorCode != nil:
			r = append(r, *e.ErrorCode+": "+aws.ToString(e.ErrorMessage))
		case e.EventId != nil && *e.EventId != "":
			r = append(r, "ok")
		default:
			r = append(r, "neither id nor error")
		}
	}
	return r
}

func TestAcceptsEventsFromTheSDK(t *testing.T) {
	s := bustest.New(t, bustest.WithBuses("alerts"))
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	out, err := put(t, s,
		types.PutEventsRequestEntry{
			Source: aws.String("stakeout"), DetailType: aws.String("Alert Opened"), Detail: aws.String(`{"id":"a1","note":"<b>&</b>"}`),
			EventBusName: aws.String("alerts"), Resources: []string{"arn:aws:sagemaker:us-east-1:123456789012:endpoint/credit"}, Time: aws.Time(at),
		},
		types.PutEventsRequestEntry{
			Source: aws.String("stakeout"), DetailType: aws.String("Alert Resolved"), Detail: aws.String(`{"id":"a1"}`),
			EventBusName: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/alerts"), Time: aws.Time(at),
		},
		types.PutEventsRequestEntry{Source: aws.String("stakeout"), DetailType: aws.String("Retrain Requested"), Detail: aws.String(`{}`)},
	)
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 0 || len(out.Entries) != 3 {
		t.Fatalf("PutEvents = %d failed of %d entries, want 0 of 3", out.FailedEntryCount, len(out.Entries))
	}
	got := s.Events()
	want := []bustest.Event{
		{Bus: "alerts", Source: "stakeout", DetailType: "Alert Opened", Detail: json.RawMessage(`{"id":"a1","note":"<b>&</b>"}`),
			Resources: []string{"arn:aws:sagemaker:us-east-1:123456789012:endpoint/credit"}, Time: at},
		{Bus: "alerts", Source: "stakeout", DetailType: "Alert Resolved", Detail: json.RawMessage(`{"id":"a1"}`), Time: at},
		{Bus: "default", Source: "stakeout", DetailType: "Retrain Requested", Detail: json.RawMessage(`{}`)},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(bustest.Event{}, "ID"), cmpopts.IgnoreFields(bustest.Event{}, "Time"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Events() mismatch (-want +got):\n%s", diff)
	}
	for i, e := range got[:2] {
		if !e.Time.Equal(at) {
			t.Errorf("Events()[%d].Time = %v, want %v", i, e.Time, at)
		}
	}
	if since := time.Since(got[2].Time); since < 0 || since > time.Minute {
		t.Errorf("Events()[2].Time = %v, want the time of the call, as EventBridge stamps an entry without Time", got[2].Time)
	}
	for i, e := range got {
		if e.ID != aws.ToString(out.Entries[i].EventId) {
			t.Errorf("Events()[%d].ID = %q, want the EventId answered, %q", i, e.ID, aws.ToString(out.Entries[i].EventId))
		}
	}
	if got := s.Calls(); got != 1 {
		t.Errorf("Calls() = %d, want 1", got)
	}
}

func TestRejectsCalls(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 256*1024) + `"}`
	for _, tc := range []struct {
		name    string
		entries []types.PutEventsRequestEntry
		code    string
		msg     string
	}{
		{"no entries", []types.PutEventsRequestEntry{}, "ValidationException", "greater than or equal to 1"},
		{"eleven entries", entries(11), "ValidationException", "less than or equal to 10"},
		{"entries over 256 KB in total", []types.PutEventsRequestEntry{entry(big[:128*1024-20] + `"}`), entry(big[:128*1024] + `"}`)}, "ValidationException", "Total size of the entries in the request is over the limit."},
		{"one entry over 256 KB", []types.PutEventsRequestEntry{entry(big)}, "ValidationException", "over the limit"},
		{"an event bus that does not exist", []types.PutEventsRequestEntry{entry(`{}`), {Source: aws.String("stakeout"), DetailType: aws.String("x"), Detail: aws.String(`{}`), EventBusName: aws.String("nope")}}, "ResourceNotFoundException", "Event bus nope does not exist."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bustest.New(t)
			_, err := put(t, s, tc.entries...)
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("PutEvents = %v, want an API error %s", err, tc.code)
			}
			if api.ErrorCode() != tc.code || !strings.Contains(api.ErrorMessage(), tc.msg) {
				t.Errorf("PutEvents = %s: %s, want %s: …%s…", api.ErrorCode(), api.ErrorMessage(), tc.code, tc.msg)
			}
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
				t.Errorf("PutEvents = %v, want HTTP 400", err)
			}
			if got := s.Events(); len(got) != 0 {
				t.Errorf("Events() = %d events, want none from a rejected call", len(got))
			}
		})
	}
}

func TestUnknownBusIsTheModelledError(t *testing.T) {
	s := bustest.New(t)
	_, err := put(t, s, types.PutEventsRequestEntry{Source: aws.String("stakeout"), DetailType: aws.String("x"), Detail: aws.String(`{}`), EventBusName: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("PutEvents = %v, want *types.ResourceNotFoundException", err)
	}
}

func TestSizeLimitIsInclusive(t *testing.T) {
	// Source "stakeout" (8) + DetailType "Alert Opened" (12) + Time (14)
	// + Detail: exactly 256 KB is accepted, one byte more is not.
	const overhead = 8 + 12 + 14
	pad := func(n int) string { return `{"x":"` + strings.Repeat("a", n-len(`{"x":""}`)) + `"}` }
	at := aws.Time(time.Unix(1_700_000_000, 0))
	s := bustest.New(t)
	e := entry(pad(256*1024 - overhead))
	e.Time = at
	if _, err := put(t, s, e); err != nil {
		t.Errorf("PutEvents(exactly 256 KB) = %v, want accepted", err)
	}
	e = entry(pad(256*1024 - overhead + 1))
	e.Time = at
	if _, err := put(t, s, e); err == nil {
		t.Errorf("PutEvents(256 KB + 1 byte) = nil error, want ValidationException")
	}
}

func TestFailsInvalidEntriesAlone(t *testing.T) {
	s := bustest.New(t)
	out, err := put(t, s,
		types.PutEventsRequestEntry{DetailType: aws.String("x"), Detail: aws.String(`{}`)},
		types.PutEventsRequestEntry{Source: aws.String("stakeout"), Detail: aws.String(`{}`)},
		types.PutEventsRequestEntry{Source: aws.String("stakeout"), DetailType: aws.String("x")},
		entry(`{"ok":true}`),
		entry(`"a string"`),
		entry(`[1,2]`),
		entry(`null`),
		entry(`{not json`),
	)
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	want := []string{
		"InvalidArgument: Parameter Source is not valid. Reason: Source is a required argument.",
		"InvalidArgument: Parameter DetailType is not valid. Reason: DetailType is a required argument.",
		"InvalidArgument: Parameter Detail is not valid. Reason: Detail is a required argument.",
		"ok",
		"MalformedDetail: Detail is malformed.",
		"MalformedDetail: Detail is malformed.",
		"MalformedDetail: Detail is malformed.",
		"MalformedDetail: Detail is malformed.",
	}
	if diff := cmp.Diff(want, results(out)); diff != "" {
		t.Errorf("PutEvents entries mismatch (-want +got):\n%s", diff)
	}
	if out.FailedEntryCount != 7 {
		t.Errorf("FailedEntryCount = %d, want 7", out.FailedEntryCount)
	}
	if got := s.Events(); len(got) != 1 || string(got[0].Detail) != `{"ok":true}` {
		t.Errorf("Events() = %+v, want only the valid entry", got)
	}
}

func TestFailFailsTheNextEntries(t *testing.T) {
	s := bustest.New(t)
	s.Fail(3, "ThrottlingException")
	out, err := put(t, s, entry(`{}`), entry(`"bad"`), entry(`{}`))
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	want := []string{
		"ThrottlingException: ThrottlingException (injected by bustest)",
		"MalformedDetail: Detail is malformed.", // invalid entries do not use up an injected failure
		"ThrottlingException: ThrottlingException (injected by bustest)",
	}
	if diff := cmp.Diff(want, results(out)); diff != "" {
		t.Errorf("first PutEvents entries mismatch (-want +got):\n%s", diff)
	}
	out, err = put(t, s, entry(`{}`), entry(`{}`))
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if diff := cmp.Diff([]string{"ThrottlingException: ThrottlingException (injected by bustest)", "ok"}, results(out)); diff != "" {
		t.Errorf("second PutEvents entries mismatch (-want +got):\n%s", diff)
	}
	if got := len(s.Events()); got != 1 {
		t.Errorf("Events() = %d events, want 1", got)
	}
}

func TestFailCallsAnswersWithTheStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{400, "ThrottlingException"},
		{429, "ThrottlingException"},
		{403, "AccessDeniedException"},
		{500, "InternalException"},
		{503, "ServiceUnavailable"},
		{502, "InternalException"},
		{404, "ValidationException"},
	} {
		t.Run(tc.code+" "+http.StatusText(tc.status), func(t *testing.T) {
			s := bustest.New(t)
			s.FailCalls(2, tc.status)
			for i := range 2 {
				_, err := put(t, s, entry(`{}`))
				var api smithy.APIError
				var re *awshttp.ResponseError
				if !errors.As(err, &api) || api.ErrorCode() != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
					t.Errorf("call %d: PutEvents = %v, want HTTP %d %s", i+1, err, tc.status, tc.code)
				}
			}
			if _, err := put(t, s, entry(`{}`)); err != nil {
				t.Errorf("third call: PutEvents = %v, want success once the failures are used up", err)
			}
			if got := len(s.Events()); got != 1 {
				t.Errorf("Events() = %d events, want 1", got)
			}
			if got := s.Calls(); got != 3 {
				t.Errorf("Calls() = %d, want 3", got)
			}
		})
	}
}

// TestWireFormat speaks to the server as the PutEvents API reference
// shows, without the SDK, so that the server is checked against the
// documented protocol and not only against what one SDK version does.
func TestWireFormat(t *testing.T) {
	s := bustest.New(t)
	body := `{"Entries":[` +
		`{"Source":"stakeout","DetailType":"Alert Opened","Detail":"{\"id\":\"a1\"}","Resources":["r1"],"Time":1700000000.5},` +
		`{"Source":"stakeout","DetailType":"Alert Opened","Detail":"[]","EventBusName":"default"}]}`

	t.Run("a signed request gets the documented response", func(t *testing.T) {
		resp := do(t, s, body, "AWSEvents.PutEvents", "application/x-amz-json-1.1", true)
		if resp.status != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", resp.status, resp.body)
		}
		if ct := resp.header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type = %q, want application/x-amz-json-1.1", ct)
		}
		var got map[string]any
		if err := json.Unmarshal(resp.body, &got); err != nil {
			t.Fatalf("body %s: %v", resp.body, err)
		}
		entries, _ := got["Entries"].([]any)
		if got["FailedEntryCount"] != float64(1) || len(entries) != 2 {
			t.Fatalf("body = %s, want FailedEntryCount 1 and 2 Entries", resp.body)
		}
		ok, _ := entries[0].(map[string]any)
		if id, _ := ok["EventId"].(string); len(id) != 36 || len(ok) != 1 {
			t.Errorf("Entries[0] = %v, want only an EventId (a UUID)", ok)
		}
		bad, _ := entries[1].(map[string]any)
		if diff := cmp.Diff(map[string]any{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}, bad); diff != "" {
			t.Errorf("Entries[1] mismatch (-want +got):\n%s", diff)
		}
		ev := s.Events()[0]
		if want := time.UnixMilli(1_700_000_000_500).UTC(); !ev.Time.Equal(want) || ev.Resources[0] != "r1" {
			t.Errorf("Events()[0] = %+v, want Time %v and Resources [r1]", ev, want)
		}
	})
	for _, tc := range []struct {
		name, target, contentType string
		signed                    bool
		status                    int
		code                      string
	}{
		{"another operation", "AWSEvents.PutRule", "application/x-amz-json-1.1", true, 400, "UnknownOperationException"},
		{"AWS JSON 1.0", "AWSEvents.PutEvents", "application/x-amz-json-1.0", true, 400, "UnknownOperationException"},
		{"an unsigned request", "AWSEvents.PutEvents", "application/x-amz-json-1.1", false, 400, "MissingAuthenticationTokenException"},
	} {
		t.Run(tc.name+" is rejected", func(t *testing.T) {
			resp := do(t, s, body, tc.target, tc.contentType, tc.signed)
			var got struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(resp.body, &got); err != nil {
				t.Fatalf("body %s: %v", resp.body, err)
			}
			if resp.status != tc.status || got.Type != tc.code || got.Message == "" {
				t.Errorf("answer = %d %s, want %d with __type %s and a message", resp.status, resp.body, tc.status, tc.code)
			}
		})
	}
	t.Run("a request signed for another service is rejected", func(t *testing.T) {
		resp := doSigned(t, s, body, "AWSEvents.PutEvents", "application/x-amz-json-1.1", "sqs")
		if resp.status != http.StatusForbidden || !bytes.Contains(resp.body, []byte("InvalidSignatureException")) {
			t.Errorf("answer = %d %s, want 403 InvalidSignatureException", resp.status, resp.body)
		}
	})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, s *bustest.Server, body, target, contentType string, signed bool) response {
	t.Helper()
	if signed {
		return doSigned(t, s, body, target, contentType, "events")
	}
	return send(t, newRequest(t, s, body, target, contentType))
}

func doSigned(t *testing.T, s *bustest.Server, body, target, contentType, service string) response {
	t.Helper()
	req := newRequest(t, s, body, target, contentType)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "bustest", SecretAccessKey: "bustest"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, bustest.Region, time.Now()); err != nil {
		t.Fatalf("sign: %v", err)
	}
	return send(t, req)
}

func newRequest(t *testing.T, s *bustest.Server, body, target, contentType string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", contentType)
	return req
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}
