package runtimeapitest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// InvokeURL invokes the function as its Function URL does: the request as a
// Function URL event (payload version 2.0), the answer decoded as a
// Function URL response. Any failure to answer fails the test.
func (s *Server) InvokeURL(t testing.TB, req events.LambdaFunctionURLRequest) events.LambdaFunctionURLResponse {
	t.Helper()
	if req.Version == "" {
		req.Version = "2.0"
	}
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Invoke(context.Background(), payload)
	if err != nil || res.Err != nil {
		t.Fatalf("invoke: %v %v\n%s", err, res.Err, s.Logs())
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatalf("response %s: %v", res.Payload, err)
	}
	return resp
}
