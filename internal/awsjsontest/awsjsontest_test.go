package awsjsontest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var svc = Service{
	Target: "Svc", Operations: []string{"Op"}, SigningName: "svc", Region: "us-east-1",
	Server: "svctest", InternalError: "InternalException",
	FaultCode: func(int) string { return "ThrottlingException" },
}

func request(target, auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"N": 1.5}`))
	r.Header.Set("X-Amz-Target", target)
	r.Header.Set("Content-Type", ContentType)
	r.Header.Set("Authorization", auth)
	return r
}

const signed = "AWS4-HMAC-SHA256 Credential=k/20260301/us-east-1/svc/aws4_request, Signature=x"

func TestCheckRejectsWhatTheServiceWouldNotRouteOrAuthenticate(t *testing.T) {
	for _, tc := range []struct{ name, target, auth, want string }{
		{"an operation the server does not serve", "Svc.Other", signed, "UnknownOperationException"},
		{"an operation without the service's prefix", "Op", signed, "UnknownOperationException"},
		{"an unsigned request", "Svc.Op", "", "MissingAuthenticationTokenException"},
		{"a malformed credential", "Svc.Op", "AWS4-HMAC-SHA256 Credential=k/svc, Signature=x", "IncompleteSignatureException"},
		{"another service's scope", "Svc.Op", strings.Replace(signed, "/svc/", "/kms/", 1), "InvalidSignatureException"},
		{"another region's scope", "Svc.Op", strings.Replace(signed, "us-east-1", "eu-west-1", 1), "InvalidSignatureException"},
	} {
		if e := svc.Check(request(tc.target, tc.auth)); e == nil || e.Code != tc.want || e.Message == "" {
			t.Errorf("%s: Check = %+v, want %s with a message", tc.name, e, tc.want)
		}
	}
	if e := svc.Check(request("Svc.Op", signed)); e != nil {
		t.Errorf("a well-formed request: Check = %+v, want nil", e)
	}
}

func TestQueuedFaultsAnswerTheNextCallsThenRequestsAreDecoded(t *testing.T) {
	var f Faults
	f.Set(2, http.StatusBadRequest)
	for i := range 2 {
		var v map[string]any
		e := svc.Receive(request("Svc.Op", signed), &f, &v)
		if e == nil || e.Status != http.StatusBadRequest || e.Message != "ThrottlingException (injected by svctest)" {
			t.Errorf("call %d: Receive = %+v, want the injected 400 ThrottlingException", i+1, e)
		}
	}
	var v map[string]any
	if e := svc.Receive(request("Svc.Op", signed), &f, &v); e != nil || v["N"] != json.Number("1.5") {
		t.Errorf("call 3: Receive = %+v, body %v; want the body decoded", e, v)
	}
}

func TestErrorsAreAWSJSONBodiesWithARequestID(t *testing.T) {
	w := httptest.NewRecorder()
	svc.WriteError(w, NewError(http.StatusForbidden, "AccessDeniedException", "no"))
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusForbidden || body["__type"] != "AccessDeniedException" || body["message"] != "no" || len(body) != 2 {
		t.Errorf("answer = %d %s, want 403 with __type AccessDeniedException and message no", w.Code, w.Body)
	}
	if ct, id := w.Header().Get("Content-Type"), w.Header().Get("X-Amzn-Requestid"); ct != ContentType || len(id) != 36 {
		t.Errorf("Content-Type %q, X-Amzn-Requestid %q; want %s and a UUID", ct, id, ContentType)
	}
}
