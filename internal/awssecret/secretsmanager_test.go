package awssecret_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/stakeout-ml/stakeout/internal/awssecret"
	"github.com/stakeout-ml/stakeout/internal/secret"
)

// fakeValue is recognisable in output and looks like no real credential.
const fakeValue = "not-a-real-key-123"

// reply is one response of the fake Secrets Manager.
type reply struct {
	status int
	body   any // marshalled as JSON
}

func found(name, s string) reply {
	return reply{200, map[string]any{
		"ARN":           "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf",
		"Name":          name,
		"SecretString":  s,
		"VersionId":     "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   1.523477145713e9,
	}}
}

func foundBinary(name string, b []byte) reply {
	return reply{200, map[string]any{
		"ARN":          "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf",
		"Name":         name,
		"SecretBinary": b, // encoding/json writes []byte as base64, as the protocol does
		"VersionId":    "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
		"CreatedDate":  1.523477145713e9,
	}}
}

func apiErr(status int, typ, msg string) reply {
	return reply{status, map[string]string{"__type": typ, "message": msg}}
}

var notFound = apiErr(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")

// fakeSM is an httptest server speaking Secrets Manager's awsJson1.1
// protocol for GetSecretValue. handle answers the n-th (from 1) request for
// a SecretId; it may block.
type fakeSM struct {
	t      *testing.T
	srv    *httptest.Server
	handle func(r *http.Request, id string, n int) reply

	mu    sync.Mutex
	calls map[string]int
	total int
}

func newFakeSM(t *testing.T, handle func(r *http.Request, id string, n int) reply) *fakeSM {
	t.Helper()
	f := &fakeSM{t: t, handle: handle, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// secrets returns a fakeSM that serves fixed secrets by name and answers
// ResourceNotFoundException for any other.
func secrets(t *testing.T, byName map[string]string) *fakeSM {
	return newFakeSM(t, func(_ *http.Request, id string, _ int) reply {
		s, ok := byName[id]
		if !ok {
			return notFound
		}
		return found(id, s)
	})
}

func (f *fakeSM) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		t.Errorf("request %s %s, want POST /", r.Method, r.URL.Path)
	case r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue":
		t.Errorf("X-Amz-Target = %q, want secretsmanager.GetSecretValue", r.Header.Get("X-Amz-Target"))
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		t.Errorf("Content-Type = %q, want application/x-amz-json-1.1", r.Header.Get("Content-Type"))
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDFAKEFAKEFAKE/") ||
		!strings.Contains(r.Header.Get("Authorization"), "/us-east-1/secretsmanager/aws4_request"):
		t.Errorf("Authorization = %q, want a SigV4 signature for secretsmanager in us-east-1", r.Header.Get("Authorization"))
	}
	body, _ := io.ReadAll(r.Body)
	var in struct {
		SecretId     string
		VersionId    *string
		VersionStage *string
	}
	if err := json.Unmarshal(body, &in); err != nil || in.SecretId == "" {
		t.Errorf("request body %s: want {\"SecretId\": ...} (%v)", body, err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if in.VersionId != nil || in.VersionStage != nil {
		t.Errorf("request body %s: want the current version (no VersionId or VersionStage)", body)
	}
	f.mu.Lock()
	f.calls[in.SecretId]++
	f.total++
	n := f.calls[in.SecretId]
	f.mu.Unlock()

	rep := f.handle(r, in.SecretId, n)
	out, err := json.Marshal(rep.body)
	if err != nil {
		t.Errorf("marshal reply: %v", err)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "11111111-2222-3333-4444-555555555555")
	w.WriteHeader(rep.status)
	_, _ = w.Write(out)
}

// requests returns how many requests the server answered (or is answering).
func (f *fakeSM) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// inMemory returns a fakeSM like newFakeSM's that the client reaches with
// no network between them: in a synctest bubble a caller held by handle is
// then durably blocked, so synctest.Wait tells when every caller has
// reached the fetch or the wait for it.
func inMemory(t *testing.T, handle func(r *http.Request, id string, n int) reply) *fakeSM {
	return &fakeSM{t: t, handle: handle, calls: map[string]int{}}
}

// serveInMemory is an http.RoundTripper calling the handler directly.
type serveInMemory http.HandlerFunc

func (h serveInMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	h(w, r)
	if err := r.Context().Err(); err != nil {
		return nil, err // as a transport does when the caller gives up
	}
	return w.Result(), nil
}

// client returns the real SDK client pointed at the server, signing with
// placeholder credentials and not retrying, so each Resolve is one request.
func (f *fakeSM) client() *secretsmanager.Client {
	base, hc := "http://secretsmanager.invalid", &http.Client{Transport: serveInMemory(f.serve)}
	if f.srv != nil {
		base, hc = f.srv.URL, f.srv.Client()
	}
	return secretsmanager.New(secretsmanager.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(base),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFAKEFAKEFAKE", "fake-secret-access-key", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       hc,
	})
}

func (f *fakeSM) resolver() *secret.Cache { return awssecret.New(f.client()) }

func TestSecretsManagerResolves(t *testing.T) {
	f := secrets(t, map[string]string{"stakeout/pagerduty/credit-ds": fakeValue})
	v, err := f.resolver().Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Reveal(); got != fakeValue {
		t.Errorf("Reveal() = %q, want %q", got, fakeValue)
	}
}

func TestSecretsManagerARN(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:stakeout/slack/bot-token-AbCdEf"
	f := secrets(t, map[string]string{arn: fakeValue})
	v, err := f.resolver().Resolve(t.Context(), "secret:"+arn)
	if err != nil {
		t.Fatal(err)
	}
	if v.Reveal() != fakeValue {
		t.Errorf("Reveal() = %q, want %q", v.Reveal(), fakeValue)
	}
}

func TestSecretsManagerCaches(t *testing.T) {
	f := secrets(t, map[string]string{
		"stakeout/pagerduty/credit-ds": fakeValue,
		"stakeout/slack/bot-token":     "fake-bot-token",
	})
	m := f.resolver()
	for i := range 3 {
		v, err := m.Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
		if err != nil || v.Reveal() != fakeValue {
			t.Fatalf("call %d: Resolve = %q, %v", i+1, v.Reveal(), err)
		}
		if got := f.requests(); got != 1 {
			t.Fatalf("after call %d: %d requests, want 1", i+1, got)
		}
	}
	if v, err := m.Resolve(t.Context(), "secret:stakeout/slack/bot-token"); err != nil || v.Reveal() != "fake-bot-token" {
		t.Fatalf("other secret: Resolve = %q, %v", v.Reveal(), err)
	}
	if got := f.requests(); got != 2 {
		t.Errorf("%d requests, want 2 (one per secret)", got)
	}
}

func TestSecretsManagerConcurrentFirstCallsMakeOneRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := inMemory(t, func(_ *http.Request, id string, _ int) reply {
			<-release
			return found(id, fakeValue)
		})
		m := f.resolver()

		const n = 20
		var done sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			done.Go(func() {
				v, err := m.Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
				if err == nil && v.Reveal() != fakeValue {
					err = fmt.Errorf("Reveal() = %q", v.Reveal())
				}
				errs <- err
			})
		}
		synctest.Wait() // every caller fetches or waits for the fetch
		if got := f.requests(); got != 1 {
			t.Errorf("%d requests under way for %d concurrent first calls, want 1", got, n)
		}
		close(release)
		done.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := f.requests(); got != 1 {
			t.Errorf("%d requests for %d concurrent first calls, want 1", got, n)
		}
	})
}

func TestSecretsManagerJSONField(t *testing.T) {
	f := secrets(t, map[string]string{
		"stakeout/pagerduty": `{"credit-ds": "` + fakeValue + `", "fraud-ds": "not-a-real-key-456", "n": 7}`,
	})
	m := f.resolver()
	for ref, want := range map[string]string{
		"secret:stakeout/pagerduty#credit-ds": fakeValue,
		"secret:stakeout/pagerduty#fraud-ds":  "not-a-real-key-456",
	} {
		v, err := m.Resolve(t.Context(), ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		if v.Reveal() != want {
			t.Errorf("Resolve(%q) = %q, want %q", ref, v.Reveal(), want)
		}
	}
	if got := f.requests(); got != 1 {
		t.Errorf("%d requests, want 1 (fields of one secret share it)", got)
	}
}

func TestSecretsManagerFieldErrors(t *testing.T) {
	f := secrets(t, map[string]string{
		"stakeout/pagerduty": `{"credit-ds": "` + fakeValue + `", "n": 7, "empty": ""}`,
		"stakeout/plain":     fakeValue,
	})
	m := f.resolver()
	for _, tc := range []struct {
		ref      string
		want     []string
		notFound bool
	}{
		{"secret:stakeout/pagerduty#fraud-ds", []string{`secret "stakeout/pagerduty#fraud-ds"`, `field "fraud-ds"`, `not found in secret "stakeout/pagerduty"`, "add it"}, true},
		{"secret:stakeout/pagerduty#Credit-DS", []string{`field "Credit-DS"`, "not found", "case-sensitive"}, true},
		{"secret:stakeout/pagerduty#n", []string{`field "n" of secret "stakeout/pagerduty" is not a JSON string`}, false},
		{"secret:stakeout/pagerduty#empty", []string{`field "empty" of secret "stakeout/pagerduty" is empty`}, false},
		{"secret:stakeout/plain#credit-ds", []string{`secret "stakeout/plain" is not a JSON object`, `drop "#credit-ds"`}, false},
	} {
		_, err := m.Resolve(t.Context(), tc.ref)
		if err == nil {
			t.Errorf("Resolve(%q): no error", tc.ref)
			continue
		}
		checkError(t, err, tc.want...)
		if got := errors.Is(err, secret.ErrNotFound); got != tc.notFound {
			t.Errorf("Resolve(%q): errors.Is(err, ErrNotFound) = %v, want %v", tc.ref, got, tc.notFound)
		}
	}
}

func TestSecretsManagerNotFound(t *testing.T) {
	f := secrets(t, nil)
	_, err := f.resolver().Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
	checkError(t, err, `secret "stakeout/pagerduty/credit-ds": not found in Secrets Manager`, "create it", "ResourceNotFoundException")
	if !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("errors.Is(err, ErrNotFound) = false")
	}
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("errors.As(err, *types.ResourceNotFoundException) = false: %v", err)
	}
}

func TestSecretsManagerAccessDenied(t *testing.T) {
	f := newFakeSM(t, func(_ *http.Request, _ string, _ int) reply {
		return apiErr(400, "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/stakeout-router/fn is not authorized to perform: secretsmanager:GetSecretValue on resource: stakeout/pagerduty/credit-ds because no identity-based policy allows the secretsmanager:GetSecretValue action")
	})
	_, err := f.resolver().Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
	checkError(t, err, `secret "stakeout/pagerduty/credit-ds": access denied`, "secretsmanager:GetSecretValue", "kms:Decrypt")
	if !errors.Is(err, secret.ErrAccessDenied) {
		t.Errorf("errors.Is(err, ErrAccessDenied) = false")
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Errorf("errors.As(err, smithy.APIError) does not give AccessDeniedException: %v", err)
	}
}

func TestSecretsManagerTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rep       reply
		transient bool
	}{
		{"throttled", apiErr(400, "ThrottlingException", "Rate exceeded"), true},
		{"server fault", apiErr(500, "InternalServiceError", "oops"), true},
		{"not found", apiErr(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."), false},
		{"deleted", apiErr(400, "InvalidRequestException", "marked for deletion"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSM(t, func(_ *http.Request, _ string, _ int) reply { return tc.rep })
			_, err := f.resolver().Resolve(t.Context(), "secret:stakeout/x")
			if got := errors.Is(err, secret.ErrUnavailable); got != tc.transient {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tc.transient)
			}
		})
	}
}

func TestSecretsManagerForget(t *testing.T) {
	value := "not-a-real-key-1"
	f := newFakeSM(t, func(_ *http.Request, _ string, _ int) reply { return found("stakeout/x", value) })
	r := f.resolver()
	if v, err := r.Resolve(t.Context(), "secret:stakeout/x"); err != nil || v.Reveal() != "not-a-real-key-1" {
		t.Fatalf("Resolve = %v", err)
	}
	value = "not-a-real-key-2"
	if v, _ := r.Resolve(t.Context(), "secret:stakeout/x"); v.Reveal() != "not-a-real-key-1" {
		t.Errorf("the cached value changed without Forget")
	}
	r.Forget("secret:stakeout/x")
	if v, _ := r.Resolve(t.Context(), "secret:stakeout/x"); v.Reveal() != "not-a-real-key-2" {
		t.Errorf("after Forget the old value is still served")
	}
}

func TestSecretsManagerOtherErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  reply
		want []string
	}{
		{"decryption", apiErr(400, "DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key."), []string{"cannot decrypt", "kms:Decrypt"}},
		{"deleted", apiErr(400, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion."), []string{"scheduled for deletion"}},
		{"throttled", apiErr(400, "ThrottlingException", "Rate exceeded"), []string{"secret store unavailable", "ThrottlingException"}},
		{"empty string", found("stakeout/x", ""), []string{"empty", "put-secret-value"}},
		{"binary not utf-8", foundBinary("stakeout/x", []byte{0xff, 0xfe, 0x00}), []string{"SecretBinary is not UTF-8", "SecretString"}},
		{"no value", reply{200, map[string]any{"Name": "stakeout/x"}}, []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSM(t, func(_ *http.Request, _ string, _ int) reply { return tc.rep })
			_, err := f.resolver().Resolve(t.Context(), "secret:stakeout/x")
			checkError(t, err, append([]string{`secret "stakeout/x"`}, tc.want...)...)
		})
	}
}

func TestSecretsManagerBinary(t *testing.T) {
	f := newFakeSM(t, func(_ *http.Request, id string, _ int) reply { return foundBinary(id, []byte(fakeValue)) })
	v, err := f.resolver().Resolve(t.Context(), "secret:stakeout/x")
	if err != nil {
		t.Fatal(err)
	}
	if v.Reveal() != fakeValue {
		t.Errorf("Reveal() = %q, want %q", v.Reveal(), fakeValue)
	}
}

func TestSecretsManagerPrefersSecretString(t *testing.T) {
	f := newFakeSM(t, func(_ *http.Request, id string, _ int) reply {
		r := found(id, fakeValue)
		r.body.(map[string]any)["SecretBinary"] = []byte("not-this-one")
		return r
	})
	v, err := f.resolver().Resolve(t.Context(), "secret:stakeout/x")
	if err != nil || v.Reveal() != fakeValue {
		t.Errorf("Resolve = %q, %v; want %q", v.Reveal(), err, fakeValue)
	}
}

func TestSecretsManagerFailureIsNotCached(t *testing.T) {
	f := newFakeSM(t, func(_ *http.Request, id string, n int) reply {
		if n == 1 {
			return apiErr(500, "InternalServiceError", "An error occurred on the server side.")
		}
		return found(id, fakeValue)
	})
	m := f.resolver()
	if _, err := m.Resolve(t.Context(), "secret:stakeout/x"); err == nil {
		t.Fatal("first Resolve: no error for a 500")
	} else {
		checkError(t, err, `secret "stakeout/x"`, "InternalServiceError")
	}
	for i := range 2 {
		v, err := m.Resolve(t.Context(), "secret:stakeout/x")
		if err != nil || v.Reveal() != fakeValue {
			t.Fatalf("Resolve after the failure (%d): %q, %v", i+1, v.Reveal(), err)
		}
	}
	if got := f.requests(); got != 2 {
		t.Errorf("%d requests, want 2 (the failure, then the value, then the cache)", got)
	}
}

// A caller whose context ends while others wait for its fetch does not fail
// them: they fetch again.
func TestSecretsManagerLeaderCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := inMemory(t, func(r *http.Request, id string, n int) reply {
			if n == 1 {
				<-r.Context().Done() // until the client gives up
			}
			return found(id, fakeValue)
		})
		m := f.resolver()

		ctx, cancel := context.WithCancel(t.Context())
		leader := make(chan error, 1)
		go func() {
			_, err := m.Resolve(ctx, "secret:stakeout/x")
			leader <- err
		}()
		synctest.Wait() // the leader's request is under way
		waiter := make(chan error, 1)
		go func() {
			v, err := m.Resolve(t.Context(), "secret:stakeout/x")
			if err == nil && v.Reveal() != fakeValue {
				err = fmt.Errorf("Reveal() = %q", v.Reveal())
			}
			waiter <- err
		}()
		synctest.Wait() // the waiter waits for the leader's fetch
		if got := f.requests(); got != 1 {
			t.Fatalf("%d requests before the leader gives up, want 1 (the waiter waits for it)", got)
		}
		cancel()
		if err := <-leader; !errors.Is(err, context.Canceled) {
			t.Errorf("leader: err = %v, want context.Canceled", err)
		}
		if err := <-waiter; err != nil {
			t.Errorf("waiter: %v", err)
		}
		if got := f.requests(); got != 2 {
			t.Errorf("%d requests, want 2 (the waiter fetched again)", got)
		}
	})
}

// A waiter whose own context ends stops waiting.
func TestSecretsManagerWaiterCanceled(t *testing.T) {
	first := make(chan struct{})
	release := make(chan struct{})
	f := newFakeSM(t, func(_ *http.Request, id string, _ int) reply {
		close(first)
		<-release
		return found(id, fakeValue)
	})
	m := f.resolver()
	leader := make(chan error, 1)
	go func() {
		_, err := m.Resolve(t.Context(), "secret:stakeout/x")
		leader <- err
	}()
	<-first
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := m.Resolve(ctx, "secret:stakeout/x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: err = %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Errorf("leader: %v", err)
	}
}

func TestSecretsManagerRefusesNonReference(t *testing.T) {
	f := secrets(t, nil)
	_, err := f.resolver().Resolve(t.Context(), fakeValue)
	checkError(t, err, "not a secret reference", "owner files must hold a reference", "never the secret itself")
	if !errors.Is(err, secret.ErrNotRef) {
		t.Errorf("errors.Is(err, ErrNotRef) = false")
	}
	if got := f.requests(); got != 0 {
		t.Errorf("%d requests for a non-reference, want 0", got)
	}
}

// checkError fails unless err is non-nil, holds every want, is lower-case
// and does not contain fakeValue however it is printed.
func checkError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one containing %q", want)
		return
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	if msg[0] < 'a' || msg[0] > 'z' {
		t.Errorf("error %q does not start lower-case", msg)
	}
	if s := fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err); strings.Contains(s, fakeValue) {
		t.Errorf("error output leaks the secret: %s", s)
	}
}
