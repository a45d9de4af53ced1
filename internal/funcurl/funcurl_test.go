package funcurl

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// echo answers with what it received, so the adapter's both directions show.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadPost(w, r, 16)
	if !ok {
		return
	}
	w.Header().Set("X-Seen", r.Header.Get("X-Slack-Signature")+" "+r.URL.RawQuery)
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
})

func TestHandler(t *testing.T) {
	h := Handler(echo)
	in := events.LambdaFunctionURLRequest{RawPath: "/", RawQueryString: "a=1", IsBase64Encoded: true,
		Body: base64.StdEncoding.EncodeToString([]byte("x=1&y=2")), Headers: map[string]string{"x-slack-signature": "v0=ab"}}
	in.RequestContext.HTTP.Method = http.MethodPost
	out, err := h(context.Background(), in)
	if err != nil || out.StatusCode != http.StatusAccepted || out.Body != "x=1&y=2" || out.Headers["X-Seen"] != "v0=ab a=1" {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	in.Body, in.IsBase64Encoded = "not base64!", true
	if out, _ := h(context.Background(), in); out.StatusCode != http.StatusBadRequest {
		t.Errorf("bad base64: %d", out.StatusCode)
	}
	in.Body, in.IsBase64Encoded = strings.Repeat("x", 17), false
	if out, _ := h(context.Background(), in); out.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("over the handler's limit: %d", out.StatusCode)
	}
	in.Body = strings.Repeat("x", MaxBody+1)
	if out, _ := h(context.Background(), in); out.StatusCode != http.StatusBadRequest {
		t.Errorf("over MaxBody: %d", out.StatusCode)
	}
	in.Body, in.RequestContext.HTTP.Method = "", http.MethodGet
	if out, _ := h(context.Background(), in); out.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", out.StatusCode)
	}
}

func TestReadPost(t *testing.T) {
	rec := httptest.NewRecorder()
	if _, ok := ReadPost(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789abcdef")), 16); !ok {
		t.Errorf("exactly the limit refused: %d", rec.Code)
	}
}
