// Package funcurl serves a net/http handler behind a Lambda Function URL:
// it turns the Function URL event (payload format 2.0) into an
// *http.Request and the handler's response back into the event's answer.
// The Slack and PagerDuty functions are plain http.Handlers, tested with
// httptest; this is the one place that knows how Lambda delivers them.
package funcurl

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBody bounds a request body: Slack's and PagerDuty's are a few KB.
const MaxBody = 1 << 20

// LambdaHandler is the Lambda handler of a Function URL.
type LambdaHandler = func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error)

// Handler adapts h to Lambda's Function URL events.
func Handler(h http.Handler) LambdaHandler {
	return func(ctx context.Context, in events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		r, err := Request(ctx, in)
		if err != nil {
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusBadRequest, Body: err.Error() + "\n",
				Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}, nil
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		out := events.LambdaFunctionURLResponse{StatusCode: w.Code, Body: w.Body.String(), Headers: map[string]string{}}
		for k, v := range w.Header() {
			out.Headers[k] = strings.Join(v, ", ")
		}
		return out, nil
	}
}

// Request builds the HTTP request a Function URL event carries.
func Request(ctx context.Context, in events.LambdaFunctionURLRequest) (*http.Request, error) {
	body := []byte(in.Body)
	if in.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(in.Body); err != nil {
			return nil, fmt.Errorf("body is not valid base64: %w", err)
		}
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("body is %d bytes, more than %d", len(body), MaxBody)
	}
	method := in.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodPost
	}
	path := in.RawPath
	if path == "" {
		path = "/"
	}
	if in.RawQueryString != "" {
		path += "?" + in.RawQueryString
	}
	r, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	for k, v := range in.Headers {
		// Function URLs lower-case header names and join repeated ones
		// with commas, as HTTP allows.
		r.Header.Set(k, v)
	}
	r.ContentLength = int64(len(body))
	r.RemoteAddr = in.RequestContext.HTTP.SourceIP
	return r, nil
}

// ReadPost reads a POST request's body of at most limit bytes; anything
// else is answered (405, 413) and ok is false. The webhook handlers need
// the raw body: signatures are over its exact bytes.
func ReadPost(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		http.Error(w, "request body unreadable or too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return body, true
}
