package runtimeapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/runtimeapi"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
)

func TestReportInitError(t *testing.T) {
	t.Parallel()

	t.Run("a real main's report reaches the runtime api with its reason", func(t *testing.T) {
		t.Parallel()
		bin := runtimeapitest.Build(t, "runtimeapitest/testdata/echo")
		s := runtimeapitest.Start(t, bin, map[string]string{"FAIL_INIT": "1"})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		got, err := s.WaitInitError(ctx)
		if err != nil {
			t.Fatalf("WaitInitError() error = %v", err)
		}
		want := &runtimeapitest.InitFailure{
			Err: &runtimeapitest.FunctionError{
				Type:    "Runtime.UnknownReason",
				Message: "load configuration: FAIL_INIT=1 asks echo to fail",
				Header:  "Runtime.UnknownReason",
			},
			ExitCode: 1,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("WaitInitError() (-want +got):\n%s", diff)
		}
	})

	t.Run("sends the documented request", func(t *testing.T) {
		t.Parallel()
		type request struct{ method, path, contentType, errorType, body string }
		requests := make(chan request, 1)
		api := runtimeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			requests <- request{
				method:      r.Method,
				path:        r.URL.Path,
				contentType: r.Header.Get("Content-Type"),
				errorType:   r.Header.Get("Lambda-Runtime-Function-Error-Type"),
				body:        string(body),
			}
			w.WriteHeader(http.StatusAccepted)
		})
		if err := runtimeapi.ReportInitError(context.Background(), api, errors.New(`bad "config"`)); err != nil {
			t.Fatalf("ReportInitError() error = %v", err)
		}
		got := <-requests
		want := request{
			method:      http.MethodPost,
			path:        "/2018-06-01/runtime/init/error",
			contentType: "application/vnd.aws.lambda.error+json",
			errorType:   "Runtime.UnknownReason",
			body:        `{"errorMessage":"bad \"config\"","errorType":"Runtime.UnknownReason"}`,
		}
		if got != want {
			t.Errorf("request = %+v, want %+v", got, want)
		}
	})

	t.Run("outside Lambda it does nothing", func(t *testing.T) {
		t.Parallel()
		if err := runtimeapi.ReportInitError(context.Background(), "", errors.New("boom")); err != nil {
			t.Errorf(`ReportInitError("") = %v, want nil`, err)
		}
	})

	t.Run("a refused report is an error", func(t *testing.T) {
		t.Parallel()
		api := runtimeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		})
		err := runtimeapi.ReportInitError(context.Background(), api, errors.New("boom"))
		if err == nil || !strings.Contains(err.Error(), "status 500") {
			t.Errorf("ReportInitError() = %v, want an error naming status 500", err)
		}
	})

	t.Run("a hung runtime api does not hold up the exit", func(t *testing.T) {
		t.Parallel()
		api := runtimeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			// The server notices the client hanging up, which ends r's
			// context, only once the body has been read.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := runtimeapi.ReportInitError(ctx, api, errors.New("boom"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReportInitError() = %v, want the context's deadline", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("ReportInitError() took %v, want it bounded by the context", d)
		}
	})
}

// runtimeAPI serves h as a stand-in Runtime API and returns its host:port, as
// AWS_LAMBDA_RUNTIME_API carries it.
func runtimeAPI(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
