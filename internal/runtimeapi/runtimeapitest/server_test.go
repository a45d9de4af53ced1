package runtimeapitest_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/runtimeapi"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
)

// echo builds testdata/echo once for all tests of the package.
func echo(t testing.TB) string {
	t.Helper()
	return runtimeapitest.Build(t, "testdata/echo")
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	bin := echo(t)

	t.Run("the response is the function's output", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		res, err := s.Invoke(testContext(t), []byte(`{"hello":"world"}`))
		if err != nil {
			t.Fatalf("Invoke() error = %v", err)
		}
		if res.Err != nil {
			t.Fatalf("Invoke() function error = %v", res.Err)
		}
		if got, want := string(res.Payload), `{"hello":"world"}`; got != want {
			t.Errorf("Invoke() payload = %s, want %s", got, want)
		}
		if res.RequestID == "" {
			t.Error("Invoke() request id is empty")
		}
	})

	t.Run("a handler error carries its type and message", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		res, err := s.Invoke(testContext(t), []byte(`{"fail":true}`))
		if err != nil {
			t.Fatalf("Invoke() error = %v", err)
		}
		// aws-lambda-go names the error's Go type and sends no
		// Lambda-Runtime-Function-Error-Type header for handler errors.
		want := &runtimeapitest.FunctionError{Type: "requestedFailure", Message: "failure requested by the input"}
		if diff := cmp.Diff(want, res.Err); diff != "" {
			t.Errorf("Invoke() function error (-want +got):\n%s", diff)
		}
		if res.Payload != nil {
			t.Errorf("Invoke() payload = %s, want none", res.Payload)
		}
	})

	t.Run("one process serves invocations in turn", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		ctx := testContext(t)
		seen := map[string]bool{}
		for i, in := range []string{`{"n":1}`, `{"fail":true}`, `{"n":3}`} {
			res, err := s.Invoke(ctx, []byte(in))
			if err != nil {
				t.Fatalf("Invoke() #%d error = %v", i+1, err)
			}
			if seen[res.RequestID] {
				t.Errorf("Invoke() #%d request id %s was used before", i+1, res.RequestID)
			}
			seen[res.RequestID] = true
			if in == `{"fail":true}` {
				if res.Err == nil {
					t.Errorf("Invoke(%s) function error = nil, want one", in)
				}
				continue
			}
			if string(res.Payload) != in {
				t.Errorf("Invoke(%s) payload = %s, want %s", in, res.Payload, in)
			}
		}
		s.Close() // output travels through a pipe; after Close all of it is in
		if got := strings.Count(s.Logs(), `"msg":"invoked"`); got != 3 {
			t.Errorf("the process logged %d invocations, want 3 from one process; logs:\n%s", got, s.Logs())
		}
	})

	t.Run("the handler sees the invocation's context and Lambda's environment", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, map[string]string{
			"AWS_LAMBDA_FUNCTION_NAME": "stakeout-router",
			"AWS_REGION":               "eu-west-1",
		})
		deadline := time.Now().Add(5 * time.Second).Truncate(time.Millisecond)
		res, err := s.Do(testContext(t), runtimeapitest.Request{
			Payload:         []byte(`{"context":true}`),
			Deadline:        deadline,
			ClientContext:   `{"Client":{"app_title":"stakeout-mobile"}}`,
			CognitoIdentity: `{"cognitoIdentityId":"eu-west-1:identity"}`,
		})
		if err != nil || res.Err != nil {
			t.Fatalf("Do() = %+v, %v", res, err)
		}
		var got map[string]any
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatalf("decode %s: %v", res.Payload, err)
		}
		if !strings.HasPrefix(got["trace_id"].(string), "Root=1-") {
			t.Errorf("trace id = %q, want an X-Ray trace header", got["trace_id"])
		}
		delete(got, "trace_id")
		want := map[string]any{
			"request_id":          res.RequestID,
			"function_arn":        "arn:aws:lambda:eu-west-1:" + runtimeapitest.AccountID + ":function:stakeout-router",
			"deadline_ms":         float64(deadline.UnixMilli()),
			"client_app_title":    "stakeout-mobile",
			"cognito_identity_id": "eu-west-1:identity",
			"function_name":       "stakeout-router",
			"memory_mb":           float64(128),
			"region":              "eu-west-1",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("context (-want +got):\n%s", diff)
		}
	})

	t.Run("a process that exits mid-invocation fails it with its output", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		ctx := testContext(t)
		res, err := s.Invoke(ctx, []byte(`{"exit":3}`))
		if err == nil || !strings.Contains(err.Error(), "exiting mid-invocation as asked") {
			t.Fatalf("Invoke() error = %v, want one ending with the process's output", err)
		}
		if res == nil || res.RequestID == "" || res.Err != nil || res.Payload != nil {
			t.Errorf("Invoke() result = %+v, want only the request id", res)
		}
		if _, err := s.Invoke(ctx, []byte(`{}`)); err == nil {
			t.Error("Invoke() after the exit error = nil, want one")
		}
	})

	t.Run("an invocation past its deadline times out and ends the process", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		ctx := testContext(t)
		res, err := s.Do(ctx, runtimeapitest.Request{Payload: []byte(`{"hang":true}`), Deadline: time.Now().Add(300 * time.Millisecond)})
		if err != nil {
			t.Fatalf("Do() error = %v", err)
		}
		if res.Err == nil || res.Err.Type != "Sandbox.Timedout" {
			t.Fatalf("Do() function error = %v, want Sandbox.Timedout", res.Err)
		}
		if _, err := s.Invoke(ctx, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("Invoke() after a timeout error = %v, want the process killed because of the timeout", err)
		}
	})

	t.Run("a payload over 6 MB is refused", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		big := make([]byte, runtimeapitest.MaxPayloadSize+1)
		if _, err := s.Invoke(testContext(t), big); err == nil {
			t.Error("Invoke(6 MB + 1) error = nil, want one")
		}
	})

	t.Run("an ended context abandons the invocation", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := s.Invoke(ctx, []byte(`{"hang":true}`)); err == nil {
			t.Error("Invoke() error = nil, want the context's")
		}
	})
}

func TestWaitInitError(t *testing.T) {
	t.Parallel()
	bin := echo(t)
	tests := []struct {
		name string
		env  map[string]string
		want *runtimeapitest.InitFailure
	}{
		{
			name: "a reported init error is returned with the exit status",
			env:  map[string]string{"FAIL_INIT": "1"},
			want: &runtimeapitest.InitFailure{
				Err: &runtimeapitest.FunctionError{
					Type:    runtimeapi.InitErrorType,
					Message: "load configuration: FAIL_INIT=1 asks echo to fail",
					Header:  runtimeapi.InitErrorType,
				},
				ExitCode: 1,
			},
		},
		{
			name: "an exit without a report has no error",
			env:  map[string]string{"EXIT_INIT": "3"},
			want: &runtimeapitest.InitFailure{ExitCode: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := runtimeapitest.Start(t, bin, tt.env)
			got, err := s.WaitInitError(testContext(t))
			if err != nil {
				t.Fatalf("WaitInitError() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("WaitInitError() (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a process that initialises is not an init failure", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		if got, err := s.WaitInitError(testContext(t)); err == nil {
			t.Errorf("WaitInitError() = %+v, want an error", got)
		}
	})

	t.Run("invoking a function whose init failed is an error", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, map[string]string{"FAIL_INIT": "1"})
		_, err := s.Invoke(testContext(t), []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "FAIL_INIT=1 asks echo to fail") {
			t.Errorf("Invoke() error = %v, want the init error", err)
		}
	})
}

func TestColdStart(t *testing.T) {
	t.Parallel()
	bin := echo(t)

	t.Run("is the time to the first /next", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, nil)
		d, err := s.ColdStart(testContext(t))
		if err != nil {
			t.Fatalf("ColdStart() error = %v", err)
		}
		if d <= 0 {
			t.Errorf("ColdStart() = %v, want > 0", d)
		}
	})

	t.Run("a process that never asks for an invocation has none", func(t *testing.T) {
		t.Parallel()
		s := runtimeapitest.Start(t, bin, map[string]string{"EXIT_INIT": "2"})
		if d, err := s.ColdStart(testContext(t)); err == nil {
			t.Errorf("ColdStart() = %v, want an error", d)
		}
	})
}

// Target: ≤ 150 ms from process start to first /next on the echo binary
func BenchmarkColdStart(b *testing.B) {
	bin := echo(b)
	ctx := testContext(b)
	var total time.Duration
	n := 0
	for b.Loop() {
		s := runtimeapitest.Start(b, bin, nil)
		d, err := s.ColdStart(ctx)
		if err != nil {
			b.Fatalf("ColdStart() error = %v", err)
		}
		s.Close() // not left to b.Cleanup: b.N processes would pile up
		total += d
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(n), "ms/coldstart")
}

// PeakRSS is the most memory the process has had resident: it grows by
// what an invocation writes to and keeps.
func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status")
	}
	t.Parallel()
	s := runtimeapitest.Start(t, echo(t), nil)
	ctx := testContext(t)
	if _, err := s.ColdStart(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.PeakRSS()
	if err != nil {
		t.Fatalf("PeakRSS() error = %v", err)
	}
	if before < 1<<20 || before > 256<<20 {
		t.Errorf("PeakRSS() of a started echo = %d bytes, want between 1 MiB and 256 MiB", before)
	}
	if res, err := s.Invoke(ctx, []byte(`{"hold_mib":64}`)); err != nil || res.Err != nil {
		t.Fatalf("Invoke() = %v, %v", err, res.Err)
	}
	after, err := s.PeakRSS()
	if err != nil {
		t.Fatalf("PeakRSS() error = %v", err)
	}
	if after-before < 60<<20 {
		t.Errorf("PeakRSS() after holding 64 MiB = %d bytes, %d before; want at least 60 MiB more", after, before)
	}
}
