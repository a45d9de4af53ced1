package putevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/putevents"
)

// router records the events it is given, and fails those whose detail
// holds "fail" (a consumer's transient fault).
type router struct {
	mu     sync.Mutex
	events []map[string]any
}

func (r *router) Route(_ context.Context, event json.RawMessage) error {
	if bytes.Contains(event, []byte(`"fail"`)) {
		return errors.New("store unavailable")
	}
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("router got an event that is not JSON: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *router) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.events...)
}

type server struct {
	*httptest.Server
	h      *putevents.Handler
	router *router
	logs   *bytes.Buffer
}

func start(t *testing.T, c putevents.Config) *server {
	t.Helper()
	s := &server{router: &router{}, logs: &bytes.Buffer{}}
	c.Router = s.router
	c.Log = slog.New(slog.NewJSONHandler(&lockedWriter{w: s.logs}, nil))
	h, err := putevents.New(c)
	if err != nil {
		t.Fatal(err)
	}
	s.h = h
	s.Server = httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// client is the SDK's EventBridge client pointed at s, unsigned
// (anonymous credentials) or signed with placeholder credentials.
func (s *server) client(signed bool) *eventbridge.Client {
	var creds aws.CredentialsProvider = aws.AnonymousCredentials{}
	if signed {
		creds = credentials.NewStaticCredentialsProvider("placeholder", "placeholder", "")
	}
	return eventbridge.New(eventbridge.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.URL),
		Credentials:      creds,
		RetryMaxAttempts: 1,
	})
}

func signal(model string) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{
		Source:     aws.String("com.example.monitoring"),
		DetailType: aws.String("ML Model Signal"),
		Detail:     aws.String(fmt.Sprintf(`{"model":%q,"kind":"drift","metric":"psi","value":0.3}`, model)),
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// results is the response's entries as "id" or "code: message".
func results(out *eventbridge.PutEventsOutput) []string {
	var r []string
	for _, e := range out.Entries {
		switch {
		case e.ErrorCode != nil:
			r = append(r, *e.ErrorCode+": "+aws.ToString(e.ErrorMessage))
		case uuidRE.MatchString(aws.ToString(e.EventId)):
			r = append(r, "id")
		default:
			r = append(r, "neither a UUID nor an error")
		}
	}
	return r
}

func TestSDKPutsOneAndTenEntriesAndTheRouterGetsEach(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			s := start(t, putevents.Config{})
			for _, n := range []int{1, 10} {
				before := len(s.router.got())
				var entries []types.PutEventsRequestEntry
				for i := range n {
					entries = append(entries, signal(fmt.Sprintf("model-%d", i)))
				}
				out, err := s.client(signed).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
				if err != nil {
					t.Fatalf("PutEvents(%d entries): %v", n, err)
				}
				if out.FailedEntryCount != 0 || len(out.Entries) != n {
					t.Fatalf("PutEvents(%d entries) = %v, want %d ids", n, results(out), n)
				}
				got := s.router.got()[before:]
				if len(got) != n {
					t.Fatalf("router got %d events, want %d", len(got), n)
				}
				for i, ev := range got {
					detail, _ := ev["detail"].(map[string]any)
					if ev["id"] != aws.ToString(out.Entries[i].EventId) || detail["model"] != fmt.Sprintf("model-%d", i) {
						t.Errorf("event %d = %v, want id %s and model-%d", i, ev, aws.ToString(out.Entries[i].EventId), i)
					}
				}
			}
			if c := s.h.Counts(); c != (putevents.Counts{Routed: 11}) {
				t.Errorf("Counts = %+v, want 11 routed", c)
			}
		})
	}
}

// An entry made of a captured event's fields reaches the router as that
// very event (all but its id, which EventBridge draws): the envelope is
// EventBridge's. CloudWatch alarm events are put on the default bus too.
func TestCapturedEventsComeOutAsTheyWereDelivered(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/events/envelope/*.json")
	for _, glob := range []string{"cloudwatch/*.json", "cloudwatch-contributor/*.json", "cloudwatch-composite/*.json"} {
		alarms, _ := filepath.Glob("../../testdata/events/" + glob)
		files = append(files, alarms...)
	}
	if len(files) < 5 {
		t.Fatalf("found %d captured events, want the envelope and cloudwatch samples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			s := start(t, putevents.Config{Account: want["account"].(string), Region: want["region"].(string)})
			detail, _ := json.Marshal(want["detail"])
			at, err := time.Parse(time.RFC3339, want["time"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var resources []string
			for _, r := range want["resources"].([]any) {
				resources = append(resources, r.(string))
			}
			out, err := s.client(false).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
				Source: aws.String(want["source"].(string)), DetailType: aws.String(want["detail-type"].(string)),
				Detail: aws.String(string(detail)), Time: aws.Time(at), Resources: resources,
			}}})
			if err != nil {
				t.Fatal(err)
			}
			got := s.router.got()
			if len(got) != 1 || got[0]["id"] != aws.ToString(out.Entries[0].EventId) {
				t.Fatalf("router got %v, want one event with id %v", got, results(out))
			}
			want["id"] = got[0]["id"]
			if diff := cmp.Diff(want, got[0]); diff != "" {
				t.Errorf("routed event differs from the captured one (-want +got):\n%s", diff)
			}
		})
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// post sends body as `aws events put-events` does (AWS CLI v2, unsigned
// with --no-sign-request: no Authorization header).
func post(t *testing.T, url, target, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "aws-cli/2.22.0 md/awscrt#0.22.0 ua/2.0 os/linux#6.8 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe command/events.put-events")
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

const (
	amzJSON = "application/x-amz-json-1.1"
	target  = "AWSEvents.PutEvents"
)

func TestRawRequestGetsTheDocumentedResponse(t *testing.T) {
	s := start(t, putevents.Config{})
	body := `{"Entries": [{"Source": "com.example.monitoring", "DetailType": "ML Model Signal", ` +
		`"Detail": "{\"model\": \"churn-prediction\", \"value\": 0.27}", "Resources": ["r1"], "Time": 1772420404.5}]}`
	resp := post(t, s.URL, target, amzJSON, body)
	if resp.status != http.StatusOK || resp.header.Get("Content-Type") != amzJSON || resp.header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("answer = %d %v %s, want 200 of %s with a request id", resp.status, resp.header, resp.body, amzJSON)
	}
	var got struct {
		FailedEntryCount *int
		Entries          []map[string]string
	}
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatalf("body %s: %v", resp.body, err)
	}
	if got.FailedEntryCount == nil || *got.FailedEntryCount != 0 || len(got.Entries) != 1 || len(got.Entries[0]) != 1 || !uuidRE.MatchString(got.Entries[0]["EventId"]) {
		t.Fatalf("body = %s, want FailedEntryCount 0 and one entry with only an EventId", resp.body)
	}
	ev := s.router.got()[0]
	want := map[string]any{
		"version": "0", "id": got.Entries[0]["EventId"], "detail-type": "ML Model Signal", "source": "com.example.monitoring",
		"account": "000000000000", "time": "2026-03-02T03:00:04Z", "region": "us-east-1", "resources": []any{"r1"},
		"detail": map[string]any{"model": "churn-prediction", "value": 0.27},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("routed event (-want +got):\n%s", diff)
	}
}

func entriesJSON(n int, detail string) string {
	e, _ := json.Marshal(map[string]string{"Source": "com.example.monitoring", "DetailType": "ML Model Signal", "Detail": detail})
	return `{"Entries":[` + strings.TrimSuffix(strings.Repeat(string(e)+",", n), ",") + `]}`
}

// bigDetail is a detail whose entry (source, detail-type and detail) is
// exactly size bytes.
func bigDetail(size int) string {
	fixed := len("com.example.monitoring") + len("ML Model Signal") + len(`{"pad":""}`)
	return `{"pad":"` + strings.Repeat("x", size-fixed) + `"}`
}

func TestCallsEventBridgeRejectsAreRejectedWhole(t *testing.T) {
	for _, tc := range []struct {
		name, target, contentType, body string
		code, message                   string
	}{
		{"11 entries", target, amzJSON, entriesJSON(11, `{}`), "ValidationException",
			"1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"no entries", target, amzJSON, `{"Entries":[]}`, "ValidationException",
			"1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"no Entries member", target, amzJSON, `{}`, "ValidationException",
			"1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null"},
		{"an entry over 256 KB", target, amzJSON, entriesJSON(1, bigDetail(256*1024+1)), "ValidationException",
			"Total size of the entries in the request is over the limit."},
		{"entries over 256 KB together", target, amzJSON, entriesJSON(2, bigDetail(128*1024+1)), "ValidationException",
			"Total size of the entries in the request is over the limit."},
		{"a body far over the limit", target, amzJSON, entriesJSON(1, bigDetail(3*1024*1024)), "ValidationException",
			"Total size of the entries in the request is over the limit (the body is over 2097152 bytes)."},
		{"malformed JSON", target, amzJSON, `{"Entries":[{"Source":"a",`, "SerializationException",
			"request body is not a PutEvents request in JSON: unexpected EOF"},
		{"more after the request", target, amzJSON, entriesJSON(1, `{}`) + ` xx`, "SerializationException",
			"request body is not a PutEvents request in JSON: more after the request object"},
		{"entries of the wrong type", target, amzJSON, `{"Entries":"x"}`, "SerializationException",
			"request body is not a PutEvents request in JSON: Entries cannot be a JSON string (offset 14)"},
		{"a detail that is an object, not a string", target, amzJSON, `{"Entries":[{"Source":"s","DetailType":"d","Detail":{"model":"m"}}]}`, "SerializationException",
			"request body is not a PutEvents request in JSON: Entries.Detail cannot be a JSON object (offset 53)"},
		{"an unknown target", "AWSEvents.PutRule", amzJSON, entriesJSON(1, `{}`), "UnknownOperationException",
			`X-Amz-Target "AWSEvents.PutRule" is not an operation this endpoint serves: it serves only AWSEvents.PutEvents`},
		{"no target", "", amzJSON, entriesJSON(1, `{}`), "UnknownOperationException",
			`X-Amz-Target "" is not an operation this endpoint serves: it serves only AWSEvents.PutEvents`},
		{"AWS JSON 1.0", target, "application/x-amz-json-1.0", entriesJSON(1, `{}`), "UnknownOperationException",
			`Content-Type "application/x-amz-json-1.0" is not "application/x-amz-json-1.1" (AWS JSON 1.1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, putevents.Config{})
			resp := post(t, s.URL, tc.target, tc.contentType, tc.body)
			var got map[string]string
			if err := json.Unmarshal(resp.body, &got); err != nil {
				t.Fatalf("body %.200s: %v", resp.body, err)
			}
			want := map[string]string{"__type": tc.code, "message": tc.message}
			if resp.status != http.StatusBadRequest || !cmp.Equal(want, got) {
				t.Errorf("answer = %d %v, want 400 %v", resp.status, got, want)
			}
			if n := len(s.router.got()); n != 0 || s.h.Counts() != (putevents.Counts{}) {
				t.Errorf("router got %d events, Counts %+v: a rejected call must take nothing", n, s.h.Counts())
			}
		})
	}
}

func TestSizeLimitIsInclusive(t *testing.T) {
	s := start(t, putevents.Config{})
	resp := post(t, s.URL, target, amzJSON, entriesJSON(2, bigDetail(128*1024)))
	if resp.status != http.StatusOK || len(s.router.got()) != 2 {
		t.Errorf("2 entries of 128 KB: answer %d %.200s, router got %d; want both accepted", resp.status, resp.body, len(s.router.got()))
	}
}

// The SDK decodes each call-level error into an API error with the code.
func TestSDKSeesTheErrorCodes(t *testing.T) {
	s := start(t, putevents.Config{})
	var entries []types.PutEventsRequestEntry
	for range 11 {
		entries = append(entries, signal("m"))
	}
	_, err := s.client(false).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" || !strings.Contains(apiErr.ErrorMessage(), "less than or equal to 10") {
		t.Errorf("PutEvents(11 entries) error = %v, want a ValidationException about the 10 entries", err)
	}
}

func TestInvalidEntriesFailAloneAndUnmatchedOnesAreAcceptedAndSaid(t *testing.T) {
	s := start(t, putevents.Config{})
	other := types.PutEventsRequestEntry{Source: aws.String("com.example.monitoring"), DetailType: aws.String("Model Deployed"), Detail: aws.String(`{"model":"m"}`)}
	out, err := s.client(false).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		signal("ok"),
		{Source: aws.String("com.example.monitoring"), DetailType: aws.String("ML Model Signal"), Detail: aws.String(`model=m`)},
		{Source: aws.String("com.example.monitoring"), DetailType: aws.String("ML Model Signal"), Detail: aws.String(`["m"]`)},
		{DetailType: aws.String("ML Model Signal"), Detail: aws.String(`{}`)},
		{Source: aws.String("com.example.monitoring"), Detail: aws.String(`{}`)},
		other,
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"id",
		"MalformedDetail: Detail is malformed.",
		"MalformedDetail: Detail is malformed.",
		"InvalidArgument: Parameter Source is not valid. Reason: Source is a required argument.",
		"InvalidArgument: Parameter DetailType is not valid. Reason: DetailType is a required argument.",
		"id",
	}
	if diff := cmp.Diff(want, results(out)); diff != "" || out.FailedEntryCount != 4 {
		t.Errorf("FailedEntryCount %d, entries (-want +got):\n%s", out.FailedEntryCount, diff)
	}
	if got := s.router.got(); len(got) != 1 || got[0]["id"] != aws.ToString(out.Entries[0].EventId) {
		t.Errorf("router got %v, want only the valid signal", got)
	}
	if c := s.h.Counts(); c != (putevents.Counts{Routed: 1, Unmatched: 1, Rejected: 4}) {
		t.Errorf("Counts = %+v", c)
	}
	line := fmt.Sprintf(`"msg":"PutEvents entry accepted but matched no rule: not delivered","event_id":%q,"bus":"default","source":"com.example.monitoring","detail_type":"Model Deployed"`, aws.ToString(out.Entries[5].EventId))
	if !strings.Contains(s.logs.String(), line) {
		t.Errorf("logs do not say the unmatched event went nowhere; want %s in\n%s", line, s.logs)
	}
}

// A consumer's error fails its entry alone as InternalFailure (retryable):
// the client knows to send it again, nothing is reported accepted that
// was not applied.
func TestRouterErrorFailsTheEntryAsInternalFailure(t *testing.T) {
	s := start(t, putevents.Config{})
	out, err := s.client(false).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		signal("a"), signal("fail"), signal("b"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "InternalFailure: the router did not apply the event (store unavailable); send it again", "id"}
	if diff := cmp.Diff(want, results(out)); diff != "" || out.FailedEntryCount != 1 {
		t.Errorf("FailedEntryCount %d, entries (-want +got):\n%s", out.FailedEntryCount, diff)
	}
	if c := s.h.Counts(); c != (putevents.Counts{Routed: 2, Failed: 1}) {
		t.Errorf("Counts = %+v", c)
	}
	if !strings.Contains(s.logs.String(), `"msg":"PutEvents entry failed"`) {
		t.Errorf("logs do not say the entry failed:\n%s", s.logs)
	}
}

func TestScopeNarrowsTheRulesAsTheTemplateParametersDo(t *testing.T) {
	put := func(t *testing.T, s *server, e types.PutEventsRequestEntry) {
		t.Helper()
		out, err := s.client(false).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{e}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %v %v", err, results(out))
		}
	}
	onBus := func(e types.PutEventsRequestEntry, bus string) types.PutEventsRequestEntry {
		e.EventBusName = aws.String(bus)
		return e
	}
	alarm := types.PutEventsRequestEntry{Source: aws.String("aws.cloudwatch"), DetailType: aws.String("CloudWatch Alarm State Change"),
		Detail: aws.String(`{"alarmName":"fraud-detection-latency","state":{"value":"ALARM"}}`)}
	for _, tc := range []struct {
		name  string
		scope putevents.Scope
		entry types.PutEventsRequestEntry
		want  putevents.Counts
	}{
		{"a signal from a listed source", putevents.Scope{SignalSources: []string{"com.example.monitoring"}}, signal("m"), putevents.Counts{Routed: 1}},
		{"a signal from another source", putevents.Scope{SignalSources: []string{"com.example.other"}}, signal("m"), putevents.Counts{Unmatched: 1}},
		{"a signal on the signal bus", putevents.Scope{EventBusName: "ml"}, onBus(signal("m"), "ml"), putevents.Counts{Routed: 1}},
		{"a signal on the signal bus by ARN", putevents.Scope{EventBusName: "ml"}, onBus(signal("m"), "arn:aws:events:us-east-1:000000000000:event-bus/ml"), putevents.Counts{Routed: 1}},
		{"a signal on the default bus when the signal bus is another", putevents.Scope{EventBusName: "ml"}, signal("m"), putevents.Counts{Unmatched: 1}},
		{"an alarm on the default bus", putevents.Scope{EventBusName: "ml"}, alarm, putevents.Counts{Routed: 1}},
		{"an alarm on another bus", putevents.Scope{}, onBus(alarm, "ml"), putevents.Counts{Unmatched: 1}},
		{"an alarm with the prefix", putevents.Scope{AlarmNamePrefix: "fraud-"}, alarm, putevents.Counts{Routed: 1}},
		{"an alarm without the prefix", putevents.Scope{AlarmNamePrefix: "billing-"}, alarm, putevents.Counts{Unmatched: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, putevents.Config{Scope: tc.scope})
			put(t, s, tc.entry)
			if c := s.h.Counts(); c != tc.want {
				t.Errorf("Counts = %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestNewWantsARouter(t *testing.T) {
	if _, err := putevents.New(putevents.Config{}); err == nil || !strings.Contains(err.Error(), "Router") {
		t.Errorf("New without a Router: err = %v, want one naming the Router", err)
	}
}
