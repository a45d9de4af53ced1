package setup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"

	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/version"
)

// localAWS points the SDK's default chain at placeholder credentials
// (DynamoDB Local accepts any) and a region.
func localAWS(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
}

// captureStderr sends what the process writes to os.Stderr into a pipe
// until the returned function restores it and returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, r); close(done) }()
	restored := false
	restore := func() string {
		if !restored {
			restored = true
			os.Stderr = saved
			w.Close()
			<-done
			r.Close()
		}
		return buf.String()
	}
	t.Cleanup(func() { restore() })
	return restore
}

// nonJSONLines returns the lines of out that are not JSON objects.
func nonJSONLines(out string) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var v map[string]any
		if json.Unmarshal(sc.Bytes(), &v) != nil {
			bad = append(bad, sc.Text())
		}
	}
	return bad
}

// A conditional-check failure, DynamoDB's everyday answer to a lost race
// (state.OnConflict retries it), writes nothing to stderr that is not
// JSON, and no checksum warning at all: DynamoDB's error responses carry
// no X-Amz-Crc32, which the SDK compared against 0 and reported as
// "SDK <time> WARN failed to close HTTP response body ... did not match
// expected checksum" on stderr (aws-sdk-go-v2 issue #3545).
func TestConditionalCheckFailureLogsOnlyJSON(t *testing.T) {
	localAWS(t)
	ctx := context.Background()
	stderr := captureStderr(t)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := awsConfig(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	ep := dynamotest.Endpoint()
	db := dynamoClient(cfg, func(k string) string { return map[string]string{EnvEndpoint: ep}[k] }, nil)
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	put := &dynamodb.PutItemInput{TableName: &table, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "race"}, "SK": &types.AttributeValueMemberS{Value: "0"}}}
	if _, err := db.PutItem(ctx, put); err != nil {
		t.Fatal(err)
	}
	var lost *types.ConditionalCheckFailedException
	if _, err := db.PutItem(ctx, put); !errors.As(err, &lost) {
		t.Fatalf("second conditional put: %v, want ConditionalCheckFailedException", err)
	}
	log.Info("after the race") // the capture holds at least our own line
	out := stderr()
	if bad := nonJSONLines(out); len(bad) > 0 {
		t.Errorf("stderr has lines that are not JSON:\n%s", strings.Join(bad, "\n"))
	}
	if strings.Contains(out, "checksum") {
		t.Errorf("stderr has a checksum warning:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"after the race"`) {
		t.Errorf("the capture missed the logger's own line:\n%s", out)
	}
}

// Only responses without X-Amz-Crc32 go unchecked: one whose body does not
// match its header is still reported, as a JSON warning, and the
// operation's result stands (as with the SDK's own check). A proxy in
// front of DynamoDB Local alters the header it sends.
func TestResponseNotMatchingItsChecksumIsReported(t *testing.T) {
	localAWS(t)
	target, err := url.Parse(dynamotest.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	var altered atomic.Int32
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			if resp.Header.Get(crc32Header) != "" {
				altered.Add(1)
				resp.Header.Set(crc32Header, "1")
			}
			return nil
		},
	})
	defer proxy.Close()
	var out bytes.Buffer
	cfg, err := awsConfig(context.Background(), slog.New(slog.NewJSONHandler(&out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	db := dynamoClient(cfg, func(k string) string { return map[string]string{EnvEndpoint: proxy.URL}[k] }, nil)
	if _, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables through the proxy: %v", err)
	}
	if altered.Load() == 0 {
		t.Fatalf("DynamoDB Local sent no %s header: nothing was checked", crc32Header)
	}
	if bad := nonJSONLines(out.String()); len(bad) > 0 || !strings.Contains(out.String(), `"level":"WARN"`) ||
		!strings.Contains(out.String(), "header says 1") {
		t.Errorf("log = %q, want a JSON warning naming the mismatch", out.String())
	}
}

// The SDK's classes map to slog levels: Debug stays Debug (dropped at
// the functions' Info level), Warn and anything else warn.
func TestSDKLogLinesKeepTheirLevel(t *testing.T) {
	var out bytes.Buffer
	var l logging.Logger = sdkLogger{log: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l = l.(logging.ContextLogger).WithContext(context.Background())
	l.Logf(logging.Debug, "retry %d", 1)
	l.Logf(logging.Warn, "odd %s", "body")
	l.Logf(logging.Classification("NOTICE"), "new class")
	var levels, msgs []string
	for line := range strings.Lines(out.String()) {
		var rec struct{ Level, Msg, Logger string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Logger != "aws-sdk" {
			t.Fatalf("line %q: %v, want JSON from logger aws-sdk", line, err)
		}
		levels, msgs = append(levels, rec.Level), append(msgs, rec.Msg)
	}
	if strings.Join(levels, " ") != "DEBUG WARN WARN" || strings.Join(msgs, "|") != "retry 1|odd body|new class" {
		t.Errorf("levels %v, messages %v; want DEBUG WARN WARN and the formatted messages", levels, msgs)
	}
}

// A function's start line names the build it runs, so that its decisions
// can be tied to a commit.
func TestStartLineNamesTheBuild(t *testing.T) {
	localAWS(t)
	env := map[string]string{EnvTable: dynamotest.TableName(t), EnvEndpoint: dynamotest.Endpoint(), EnvSecrets: "env", EnvAuditKey: "unkeyed"}
	var out bytes.Buffer
	if _, err := Load(context.Background(), func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&out, nil))); err != nil {
		t.Fatal(err)
	}
	want := version.Read()
	for line := range strings.Lines(out.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "configuration loaded" {
			continue
		}
		if rec["version"] != want.Module || rec["revision"] != want.Revision {
			t.Errorf("start line %s: version %v, revision %v; want %q, %q", line, rec["version"], rec["revision"], want.Module, want.Revision)
		}
		return
	}
	t.Errorf("no \"configuration loaded\" line in:\n%s", out.String())
}
