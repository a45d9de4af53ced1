package main

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/signature"
)

// DynamoDB Local for the runtime test (the function builds its store).
func TestMain(m *testing.M) { dynamotest.Main(m) }

// The built bootstrap behind its Function URL, in the template's
// environment: a signed /stakeout command is answered, a forged one is
// refused — as Function URL payloads through the Lambda Runtime API.
func TestRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bootstrap")
	}
	w := deploytest.New(t, "../../template.yaml", "SlackFunction")
	fn := runtimeapitest.Start(t, runtimeapitest.Build(t, "."), w.Env)
	body := url.Values{"command": {"/stakeout"}, "text": {"who credit-approval"}, "user_id": {"U012ABCDE"}}.Encode()
	now := time.Now().Unix()
	call := func(sig string) events.LambdaFunctionURLResponse {
		t.Helper()
		req := events.LambdaFunctionURLRequest{RawPath: "/", Body: base64.StdEncoding.EncodeToString([]byte(body)), IsBase64Encoded: true,
			Headers: map[string]string{"content-type": "application/x-www-form-urlencoded",
				"x-slack-request-timestamp": strconv.FormatInt(now, 10), "x-slack-signature": sig}}
		req.RequestContext.HTTP.Method = http.MethodPost
		return fn.InvokeURL(t, req)
	}
	resp := call(signature.SignSlack([]byte(deploytest.SlackSigning), now, []byte(body)))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "credit-ds") {
		t.Errorf("signed /stakeout who: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := call("v0=" + strings.Repeat("0", 64)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged request got %d", resp.StatusCode)
	}
}
