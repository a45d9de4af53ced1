package main

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/signature"
)

// A test value, not a credential.
const signing = "test-signing-secret-not-real"

func testEnv(t *testing.T, extra map[string]string) func(string) string {
	// No AWS call is made by these requests: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	env := map[string]string{setup.EnvConfigDir: "../..", setup.EnvTable: "stakeout", setup.EnvSecrets: "env", setup.EnvAuditKey: audit.Unkeyed,
		setup.EnvSlackSigning: "secret:stakeout/slack-signing", secret.EnvVar("secret:stakeout/slack-signing"): signing}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestFunctionURL drives the function as Lambda does: a Function URL event
// (form body base64-encoded, as Function URLs send it) through funcurl to
// the app, with the signing secret resolved from its reference.
func TestFunctionURL(t *testing.T) {
	app, err := newApp(context.Background(), testEnv(t, nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := app
	body := url.Values{"command": {"/stakeout"}, "text": {"who credit-approval"}, "user_id": {"U012ABCDE"}}.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req := events.LambdaFunctionURLRequest{RawPath: "/", Body: base64.StdEncoding.EncodeToString([]byte(body)), IsBase64Encoded: true,
		Headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts,
			"x-slack-signature": signature.SignSlack([]byte(signing), time.Now().Unix(), []byte(body))}}
	req.RequestContext.HTTP.Method = http.MethodPost
	resp, err := h(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "credit-ds") || !strings.Contains(resp.Body, `"ephemeral"`) {
		t.Fatalf("signed /stakeout who: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	req.Headers["x-slack-signature"] = "v0=" + strings.Repeat("0", 64)
	if resp, _ := h(context.Background(), req); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged request got %d", resp.StatusCode)
	}
}

// Without its signing secret the function could only refuse every
// request: it fails its cold start instead, naming the variable.
func TestMissingSigningSecret(t *testing.T) {
	_, err := newApp(context.Background(), testEnv(t, map[string]string{setup.EnvSlackSigning: ""}), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), setup.EnvSlackSigning) {
		t.Fatalf("newApp without %s = %v, want an error naming it", setup.EnvSlackSigning, err)
	}
}

func TestNoTable(t *testing.T) {
	if _, err := newApp(context.Background(), testEnv(t, map[string]string{setup.EnvTable: ""}), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), setup.EnvTable) {
		t.Fatalf("newApp without %s = %v", setup.EnvTable, err)
	}
}
