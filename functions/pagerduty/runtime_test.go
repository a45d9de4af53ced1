package main

import (
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
		req := events.LambdaFunctionURLRequest{RawPath: "/", Body: string(body),
			Headers: map[string]string{"content-type": "application/json", "x-pagerduty-signature": sig}}
		req.RequestContext.HTTP.Method = http.MethodPost
		return fn.InvokeURL(t, req)
	}
	if resp := call(signature.SignPagerDuty([]byte(deploytest.PagerDutyWebhook), body)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("signed ping: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := call("v1=" + strings.Repeat("ab", 32)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged webhook got %d", resp.StatusCode)
	}
}
