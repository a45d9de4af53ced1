package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/signature"
)

// DynamoDB Local for the runtime test (the function builds its store).
func TestMain(m *testing.M) { dynamotest.Main(m) }

// The built bootstrap behind its Function URL, in the template's
// environment: a signed webhook is accepted, a forged one refused — as
// Function URL payloads through the Lambda Runtime API.
func TestRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	w := deploytest.New(t, "../../template.yaml", "PagerDutyFunction")
	fn := runtimeapitest.Start(t, runtimeapitest.Build(t, "."), w.Env)
	body, err := os.ReadFile("../../internal/pdwebhook/testdata/ping.json")
	if err != nil {
		t.Fatal(err)
	}
	call := func(sig string) events.LambdaFunctionURLResponse {
		t.Helper()
		req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/", Body: string(body),
			Headers: map[string]string{"content-type": "application/json", "x-pagerduty-signature": sig}}
		req.RequestContext.HTTP.Method = http.MethodPost
		payload, _ := json.Marshal(req)
		res, err := fn.Invoke(context.Background(), payload)
		if err != nil || res.Err != nil {
			t.Fatalf("invoke: %v %v\n%s", err, res.Err, fn.Logs())
		}
		var resp events.LambdaFunctionURLResponse
		if err := json.Unmarshal(res.Payload, &resp); err != nil {
			t.Fatalf("response %s: %v", res.Payload, err)
		}
		return resp
	}
	if resp := call(signature.SignPagerDuty([]byte(deploytest.PagerDutyWebhook), body)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("signed ping: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := call("v1=" + strings.Repeat("ab", 32)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged webhook got %d", resp.StatusCode)
	}
}
