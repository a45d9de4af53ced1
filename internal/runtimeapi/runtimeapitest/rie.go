package runtimeapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// RIEPackage is AWS's Lambda Runtime Interface Emulator, the Runtime API
// implementation AWS ships for running functions outside Lambda (the one in
// its base images). go.mod lists it as a tool, so a fresh clone gets it from
// the module proxy: `go tool aws-lambda-rie` runs it by hand.
const RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// rieInvokePath is the emulator's invoke endpoint, Lambda's Invoke API path
// for its single function.
const rieInvokePath = "/2015-03-31/functions/function/invocations"

// RIE is a bootstrap running under AWS's Runtime Interface Emulator: the
// second opinion on what this package's Server checks. The emulator starts
// the bootstrap at the first invocation (its init phase included) and
// restarts it after a failure, as Lambda does.
type RIE struct {
	url    string
	cmd    *exec.Cmd
	logs   LogBuffer
	exited chan struct{}
}

// RIEResult is the emulator's HTTP answer to an invocation: 200 and the
// function's response (or its error document, for a handler error), or a
// 5xx and the error document of an init failure or crash.
type RIEResult struct {
	Status int
	Body   []byte
}

// BuildRIE builds the emulator for this machine into t.TempDir() once per
// test process, from the module go.mod requires, and returns its path. The
// test's working directory must be inside this module.
func BuildRIE(t testing.TB) string {
	t.Helper()
	return cached(t, RIEPackage, "aws-lambda-rie", func(out string) ([]byte, error) {
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, RIEPackage)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
		if output, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w\n%s", RIEPackage, err, output)
		}
		return os.ReadFile(out)
	})
}

// StartRIE runs the emulator with binary as the function's bootstrap, on
// loopback ports of its own, and waits until it accepts invocations. The
// emulator passes its environment on to the bootstrap: it gets Environment
// for the binary's directory with env added, and
// AWS_LAMBDA_FUNCTION_TIMEOUT (the emulator's invocation timeout, in
// seconds) DefaultTimeout unless env sets it. Its output, the bootstrap's
// included, is in Logs and in the test log if the test fails; it is stopped
// at t.Cleanup.
func StartRIE(t testing.TB, binary string, env map[string]string) *RIE {
	t.Helper()
	rie := BuildRIE(t)
	vars := Environment(filepath.Dir(binary), t.TempDir(), map[string]string{
		"AWS_LAMBDA_FUNCTION_TIMEOUT": fmt.Sprint(int(DefaultTimeout.Seconds())),
	})
	maps.Copy(vars, env)
	environ := make([]string, 0, len(vars))
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	// Both ports are chosen here: the emulator's Runtime API otherwise
	// listens on 127.0.0.1:9001, which concurrent tests would share.
	invoke, api := freeAddr(t), freeAddr(t)
	r := &RIE{url: "http://" + invoke, exited: make(chan struct{})}
	cmd, err := startCommand(func() *exec.Cmd {
		cmd := exec.Command(rie, "--runtime-interface-emulator-address", invoke, "--runtime-api-address", api, binary)
		cmd.Dir = filepath.Dir(binary)
		cmd.Env = environ
		cmd.Stdout, cmd.Stderr = &r.logs, &r.logs
		cmd.WaitDelay = time.Second
		return cmd
	})
	if err != nil {
		t.Fatalf("runtimeapitest: start the emulator: %v", err)
	}
	r.cmd = cmd
	go func() { _ = cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("runtimeapitest: output of the emulator and %s:\n%s", filepath.Base(binary), r.Logs())
		}
	})
	if err := r.awaitListening(invoke, 20*time.Second); err != nil {
		t.Fatalf("runtimeapitest: %v\n%s", err, r.Logs())
	}
	return r
}

// freeAddr returns a loopback address no one listened on a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("runtimeapitest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// awaitListening waits until the emulator accepts connections on addr.
func (r *RIE) awaitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-r.exited:
			return fmt.Errorf("the emulator exited before listening on %s", addr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator is not listening on %s after %s: %v", addr, limit, err)
		}
	}
}

// stop ends the emulator as a container stop would, with SIGTERM; the
// bootstrap, in a process group of its own, exits when its Runtime API
// goes away. SIGKILL follows if the emulator lingers.
func (r *RIE) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// Invoke posts payload to the emulator's invoke endpoint and returns its
// answer. The error is for a request that got no answer.
func (r *RIE) Invoke(ctx context.Context, payload []byte) (*RIEResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+rieInvokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke through the emulator: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the emulator's answer: %w", err)
	}
	return &RIEResult{Status: resp.StatusCode, Body: body}, nil
}

// Logs returns what the emulator and the bootstrap have written so far.
func (r *RIE) Logs() string { return r.logs.String() }
