package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/signature"
)

// A test value, not a credential.
const webhookSecret = "test-webhook-secret-not-real"

// TestFunctionURL drives the function as Lambda does: PagerDuty's ping,
// signed with the subscription's secret (resolved from its reference),
// answered 204; the same body unsigned, 401.
func TestFunctionURL(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1") // no AWS call is made
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	env := map[string]string{setup.EnvConfigDir: "../..", setup.EnvTable: "stakeout", setup.EnvSecrets: "env", setup.EnvAuditKey: audit.Unkeyed,
		setup.EnvPagerDutyWebhook: "secret:stakeout/pd-webhook", secret.EnvVar("secret:stakeout/pd-webhook"): webhookSecret}
	app, err := newApp(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../internal/pdwebhook/testdata/ping.json")
	if err != nil {
		t.Fatal(err)
	}
	req := events.LambdaFunctionURLRequest{RawPath: "/", Body: string(body),
		Headers: map[string]string{"content-type": "application/json", "x-pagerduty-signature": signature.SignPagerDuty([]byte(webhookSecret), body)}}
	req.RequestContext.HTTP.Method = http.MethodPost
	h := app
	if resp, err := h(context.Background(), req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed ping: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	req.Headers["x-pagerduty-signature"] = "v1=" + strings.Repeat("ab", 32)
	if resp, _ := h(context.Background(), req); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged webhook got %d", resp.StatusCode)
	}
}
