// Package runtimeapitest runs a built Lambda bootstrap binary against an
// in-process Lambda Runtime API, so that a function's tests exercise its real
// main — environment, init, aws-lambda-go's invoke loop, error reporting — as
// Lambda runs it, without AWS or a container.
//
// The server speaks the Runtime API as documented
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) and as
// aws-lambda-go's client uses it: GET /2018-06-01/runtime/invocation/next
// long-polls and answers 200 with the event and the Lambda-Runtime-* headers;
// POST .../invocation/{id}/response, .../invocation/{id}/error and
// .../init/error answer 202 {"status":"OK"}; mistakes (an unknown request
// id, an init error after init, a response over 6 MB) get the documented
// 4xx status with an {"errorMessage","errorType"} document.
//
// It behaves as Lambda's default (not Managed Instances) execution
// environment: one invocation at a time, in order; an invocation that passes
// its deadline ends the process, as Lambda ends the execution environment;
// and the process gets a clean Lambda-like environment, not the test's, so a
// developer's AWS profile and credentials can never reach it.
//
// Typical use from a function's package (a package main directory):
//
//	bin := runtimeapitest.Build(t, ".")
//	s := runtimeapitest.Start(t, bin, map[string]string{"TABLE_NAME": table})
//	res, err := s.Invoke(ctx, []byte(`{"detail-type":"..."}`))
//
// Every process is killed and waited for by t.Cleanup, which also writes its
// output to the test log when the test failed. All methods are safe for
// concurrent use.
package runtimeapitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Defaults for what Lambda would configure; Start's env overrides the
// corresponding variables.
const (
	DefaultFunctionName = "runtimeapitest"
	DefaultRegion       = "us-east-1"
	// AccountID is the account in the invoked function ARN, the
	// documentation's example account.
	AccountID = "123456789012"
	// DefaultTimeout is the time an invocation has when Request.Deadline is
	// zero.
	DefaultTimeout = 30 * time.Second
)

// MaxPayloadSize is Lambda's limit on a synchronous invocation's request and
// response payloads, 6 MB each
// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
const MaxPayloadSize = 6 << 20

// Runtime API names, from the API reference and aws-lambda-go's
// lambda/runtime_api_client.go. They are deliberately not shared with package
// runtimeapi: the server is a second, independent reading of the reference.
const (
	apiPrefix = "/2018-06-01/runtime"

	headerRequestID          = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS         = "Lambda-Runtime-Deadline-Ms"
	headerInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID            = "Lambda-Runtime-Trace-Id"
	headerClientContext      = "Lambda-Runtime-Client-Context"
	headerCognitoIdentity    = "Lambda-Runtime-Cognito-Identity"
	headerFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
	// aws-lambda-go sends a streamed response's failure, which it can only
	// discover after the body has started, as trailers on /response.
	trailerFunctionErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// Request is one invocation.
type Request struct {
	Payload []byte
	// Deadline is sent as Lambda-Runtime-Deadline-Ms and becomes the
	// handler's context deadline; zero means DefaultTimeout from now. If the
	// function has not answered by then, the invocation times out.
	Deadline time.Time
	// ClientContext and CognitoIdentity are the JSON documents Lambda passes
	// on invocations from the AWS Mobile SDK; empty means the header is not
	// sent, as for every other caller.
	ClientContext   string
	CognitoIdentity string
}

// Result is the function's answer to one invocation: Payload when it posted
// a response, Err when it posted an error.
type Result struct {
	RequestID string
	Payload   []byte
	Err       *FunctionError
}

// FunctionError is an error the function reported to the Runtime API.
type FunctionError struct {
	Type    string // errorType of the error document, or Header if the document has none
	Message string // errorMessage of the error document
	// Header is the Lambda-Runtime-Function-Error-Type header as sent.
	// aws-lambda-go leaves it empty for handler errors (the type is only in
	// the body); runtimeapi.ReportInitError sets it.
	Header string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// InitFailure is how a process failed to initialise.
type InitFailure struct {
	// Err is what the process posted to /runtime/init/error, nil if it
	// exited without reporting.
	Err *FunctionError
	// ExitCode is the process's exit status, -1 if a signal ended it.
	ExitCode int
}

// Server is a Runtime API with one bootstrap process attached. Create it with
// Start.
type Server struct {
	name    string // the binary's base name, for messages
	arn     string
	srv     *httptest.Server
	cmd     *exec.Cmd
	logs    LogBuffer
	started time.Time // just before the process was started

	queue        chan *invocation // unbuffered: an invocation is handed to the runtime's /next directly
	stop         chan struct{}    // closed by Close to end /next long polls
	ready        chan struct{}    // closed at the first /next
	initReported chan struct{}    // closed when /runtime/init/error is posted
	exited       chan struct{}    // closed once the process has exited and its output is drained

	mu         sync.Mutex
	firstNext  time.Time
	current    *invocation // handed out by /next and not yet followed by another /next
	initErr    *FunctionError
	exitErr    error  // cmd.Wait's error, set before exited is closed
	exitCode   int    // set before exited is closed
	killReason string // why the server killed the process, if it did
	closeOnce  sync.Once
}

type invocation struct {
	id       string
	traceID  string
	req      Request
	deadline time.Time
	done     chan struct{} // closed when result or err is set, under Server.mu
	result   *Result
	err      error
}

// Start starts a Runtime API server and the binary with
// AWS_LAMBDA_RUNTIME_API pointing at it, in the binary's directory (as Lambda
// runs bootstrap in LAMBDA_TASK_ROOT).
//
// The process does not inherit the test's environment. It gets what Lambda
// sets — AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_REGION and AWS_DEFAULT_REGION,
// _HANDLER=bootstrap, LAMBDA_TASK_ROOT, TZ — plus credentials that are
// obviously fake (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), shared config and credentials files that are empty,
// no instance metadata, PATH, and a TMPDIR of its own; env adds variables and
// overrides any of these. Its stdout and stderr are captured (Logs) and
// written to the test log if the test fails. It is killed and waited for at
// t.Cleanup, or earlier by Close.
func Start(t testing.TB, binary string, env map[string]string) *Server {
	t.Helper()
	s := &Server{
		name:         filepath.Base(binary),
		queue:        make(chan *invocation),
		stop:         make(chan struct{}),
		ready:        make(chan struct{}),
		initReported: make(chan struct{}),
		exited:       make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", s.handleNext)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", s.handleResponse)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", s.handleError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", s.handleInitError)
	s.srv = httptest.NewServer(mux)

	vars := lambdaEnv(s.srv.Listener.Addr().String(), filepath.Dir(binary), t.TempDir(), env)
	s.arn = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", vars["AWS_REGION"], AccountID, vars["AWS_LAMBDA_FUNCTION_NAME"])
	if err := s.startProcess(binary, vars); err != nil {
		s.srv.Close()
		t.Fatalf("runtimeapitest: start %s: %v", binary, err)
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("runtimeapitest: output of %s:\n%s", s.name, s.Logs())
		}
	})
	return s
}

func lambdaEnv(api, taskRoot, tmp string, overrides map[string]string) map[string]string {
	vars := Environment(taskRoot, tmp, nil)
	vars["AWS_LAMBDA_RUNTIME_API"] = api
	maps.Copy(vars, overrides)
	return vars
}

// Environment is the clean, Lambda-like environment Start gives a bootstrap
// (see Start), without AWS_LAMBDA_RUNTIME_API, for a process in taskRoot
// with tmp as its TMPDIR; env adds variables and overrides any of these.
// StartRIE gives it to the emulator, which passes it on to the bootstrap.
func Environment(taskRoot, tmp string, env map[string]string) map[string]string {
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        DefaultFunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_REGION":                      DefaultRegion,
		"AWS_DEFAULT_REGION":              DefaultRegion,
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"TZ":                              ":UTC",
		// Fake on purpose, and shaped so no scanner or reader mistakes them
		// for real keys (those start AKIA/ASIA).
		"AWS_ACCESS_KEY_ID":     "runtimeapitest-fake-access-key-id",
		"AWS_SECRET_ACCESS_KEY": "runtimeapitest-fake-secret-access-key",
		"AWS_SESSION_TOKEN":     "runtimeapitest-fake-session-token",
		// Without these the SDK would read the developer's ~/.aws files
		// (profiles, SSO) or ask an instance metadata service for
		// credentials and region.
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"PATH":                        os.Getenv("PATH"),
		"TMPDIR":                      tmp,
	}
	maps.Copy(vars, env)
	return vars
}

func (s *Server) startProcess(binary string, vars map[string]string) error {
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	cmd, err := startCommand(func() *exec.Cmd {
		cmd := exec.Command(binary)
		cmd.Dir = filepath.Dir(binary)
		cmd.Env = env
		cmd.Stdout = &s.logs
		cmd.Stderr = &s.logs
		// Bounds Wait if something the process started still holds its
		// output open.
		cmd.WaitDelay = time.Second
		s.started = time.Now()
		return cmd
	})
	if err != nil {
		return err
	}
	s.cmd = cmd
	go func() {
		werr := s.cmd.Wait()
		s.mu.Lock()
		s.exitErr = werr
		s.exitCode = s.cmd.ProcessState.ExitCode()
		s.mu.Unlock()
		close(s.exited)
	}()
	return nil
}

// startCommand starts the command newCmd makes. A binary Build has just
// written can be briefly "busy" when another test forks while holding the
// file open for writing (golang/go#22315); retrying with a fresh command is
// what the go command itself does.
func startCommand(newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	for attempt := 1; ; attempt++ {
		cmd := newCmd()
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 20 {
			return cmd, err
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
}

// Close kills the process, waits for it and stops the server. Start arranges
// it at t.Cleanup; call it earlier to stop a process within a test (a
// benchmark that starts many). Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.kill("")
		<-s.exited
		close(s.stop)
		s.srv.Close()
	})
}

func (s *Server) kill(reason string) {
	s.mu.Lock()
	if s.killReason == "" {
		s.killReason = reason
	}
	s.mu.Unlock()
	_ = s.cmd.Process.Kill() // fails only if it has already exited
}

// Logs returns what the process has written to stdout and stderr so far,
// interleaved as written. The output travels through a pipe, so a line the
// process wrote just before answering may not be in yet; once the process
// has exited (Close, or an error saying so), all of it is.
func (s *Server) Logs() string { return s.logs.String() }

// Invoke invokes the function with payload, a fresh request id and a
// deadline DefaultTimeout from now, waits for its response or error and
// returns it. A function error is a Result with Err set, not an error; the
// error is for invocations that got no answer: ctx ended, the process exited
// (the error includes the tail of its output), or it had reported an init
// error. The Result is never nil; with an error it holds only the RequestID.
func (s *Server) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	return s.Do(ctx, Request{Payload: payload})
}

// Do is Invoke with control of the deadline and the mobile SDK headers.
//
// If the deadline passes before the function answers, Do kills the process,
// as Lambda ends the execution environment of a function that times out, and
// returns a Result whose Err has the type Lambda reports, Sandbox.Timedout;
// later invocations then fail because the process has exited.
func (s *Server) Do(ctx context.Context, req Request) (*Result, error) {
	begin := time.Now()
	deadline := req.Deadline
	if deadline.IsZero() {
		deadline = begin.Add(DefaultTimeout)
	}
	inv := &invocation{
		id:       newRequestID(),
		traceID:  newTraceID(begin),
		req:      req,
		deadline: deadline,
		done:     make(chan struct{}),
	}
	// Never nil, so that a test's t.Fatalf("%v %v", err, res.Err) cannot
	// panic, and the request id is there to find in the logs.
	failed := &Result{RequestID: inv.id}
	if len(req.Payload) > MaxPayloadSize {
		return failed, fmt.Errorf("invoke %s: payload of %d bytes is over Lambda's %d-byte limit", inv.id, len(req.Payload), MaxPayloadSize)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()

	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return failed, fmt.Errorf("invoke %s: %w", inv.id, ctx.Err())
	case <-s.exited:
		return failed, s.exitError(inv.id)
	case <-s.initReported:
		return failed, s.initError(inv.id)
	case <-timer.C:
		return failed, fmt.Errorf("invoke %s: the process did not ask for an invocation before the deadline%s", inv.id, s.tail())
	}

	select {
	case <-inv.done:
	case <-ctx.Done():
		return failed, fmt.Errorf("invoke %s: %w", inv.id, ctx.Err())
	case <-s.exited:
		// settle keeps an answer posted just before the exit: it was
		// recorded before the process saw 202.
		s.settle(inv, nil, s.exitError(inv.id))
	case <-timer.C:
		timedOut := &Result{RequestID: inv.id, Err: &FunctionError{
			Type:    "Sandbox.Timedout",
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, deadline.Sub(begin).Seconds()),
		}}
		if s.settle(inv, timedOut, nil) {
			s.kill("invocation " + inv.id + " timed out")
		}
	}
	<-inv.done
	if inv.err != nil {
		return failed, inv.err
	}
	return inv.result, nil
}

// completeLocked settles inv unless it already is, and reports whether it
// did. s.mu must be held.
func (s *Server) completeLocked(inv *invocation, res *Result, err error) bool {
	select {
	case <-inv.done:
		return false
	default:
	}
	inv.result, inv.err = res, err
	close(inv.done)
	return true
}

// WaitInitError waits until the process either reports an init error through
// /runtime/init/error and exits, or exits before its first /next, and returns
// what it reported (Err nil if it exited without reporting) with its exit
// status. It is an error if the process initialises instead (asks for an
// invocation), if it reports but does not exit, or if ctx ends first.
func (s *Server) WaitInitError(ctx context.Context) (*InitFailure, error) {
	select {
	case <-s.initReported:
	case <-s.exited:
	case <-s.ready:
		return nil, errors.New("wait for init error: the process initialised without error (it asked for an invocation)")
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for init error: %w%s", ctx.Err(), s.tail())
	}
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.mu.Lock()
		reported := s.initErr
		s.mu.Unlock()
		return nil, fmt.Errorf("wait for init error: the process reported %v but did not exit: %w%s", reported, ctx.Err(), s.tail())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initErr == nil && !s.firstNext.IsZero() {
		return nil, fmt.Errorf("wait for init error: the process initialised without error and then exited (%v)", s.exitErr)
	}
	return &InitFailure{Err: s.initErr, ExitCode: s.exitCode}, nil
}

// ColdStart waits for the process's first GET /next and returns the time from
// just before the process was started to then: Lambda's init duration for a
// function without extensions.
func (s *Server) ColdStart(ctx context.Context) (time.Duration, error) {
	select {
	case <-s.ready:
	case <-s.initReported:
		return 0, s.initError("")
	case <-s.exited:
		select {
		case <-s.ready: // it got there before exiting
		default:
			return 0, s.exitError("")
		}
	case <-ctx.Done():
		return 0, fmt.Errorf("wait for the first /next: %w%s", ctx.Err(), s.tail())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstNext.Sub(s.started), nil
}

// exitError describes the process's exit for an invocation (id) or, with id
// empty, for the server.
func (s *Server) exitError(id string) error {
	s.mu.Lock()
	werr, reason := s.exitErr, s.killReason
	s.mu.Unlock()
	what := s.name + " exited"
	if reason != "" {
		what = s.name + " was killed because " + reason
	}
	if id != "" {
		return fmt.Errorf("invoke %s: %s before answering (%v)%s", id, what, werr, s.tail())
	}
	return fmt.Errorf("%s before asking for an invocation (%v)%s", what, werr, s.tail())
}

func (s *Server) initError(id string) error {
	s.mu.Lock()
	reported := s.initErr
	s.mu.Unlock()
	prefix := "wait for the first /next"
	if id != "" {
		prefix = "invoke " + id
	}
	return fmt.Errorf("%s: the function failed to initialise: %v%s", prefix, reported, s.tail())
}

// tail is the end of the process's output, to put the reason for a failure
// into the error itself.
func (s *Server) tail() string {
	const max = 2 << 10
	out := strings.TrimRight(s.Logs(), "\n")
	if out == "" {
		return "; it wrote nothing"
	}
	if len(out) > max {
		out = "…" + out[len(out)-max:]
	}
	return "; its output ends:\n" + out
}

func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	if s.initErr != nil {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "Runtime.InvalidStateTransition", "the runtime reported an init error and must exit")
		return
	}
	if s.firstNext.IsZero() {
		s.firstNext = now
		close(s.ready)
	}
	// Asking for the next event ends the previous invocation; one that got
	// neither a response nor an error is a bug in the runtime or handler.
	if cur := s.current; cur != nil {
		s.completeLocked(cur, nil, fmt.Errorf("invoke %s: the runtime asked for the next invocation without posting a response or error for this one", cur.id))
		s.current = nil
	}
	s.mu.Unlock()

	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return
	case <-s.stop:
		return
	}
	s.mu.Lock()
	s.current = inv
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadlineMS, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(headerInvokedFunctionARN, s.arn)
	h.Set(headerTraceID, inv.traceID)
	if inv.req.ClientContext != "" {
		h.Set(headerClientContext, inv.req.ClientContext)
	}
	if inv.req.CognitoIdentity != "" {
		h.Set(headerCognitoIdentity, inv.req.CognitoIdentity)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.req.Payload)
}

func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.inFlight(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize+1))
	if err != nil {
		s.settle(inv, nil, fmt.Errorf("invoke %s: read the response: %w", inv.id, err))
		writeError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the response body")
		return
	}
	if len(body) > MaxPayloadSize {
		s.settle(inv, &Result{RequestID: inv.id, Err: &FunctionError{
			Type:    "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadSize),
		}}, nil)
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("response payload is over %d bytes", MaxPayloadSize))
		return
	}
	res := &Result{RequestID: inv.id, Payload: body}
	// Trailers are only readable once the body has been read to its end.
	if typ := r.Trailer.Get(headerFunctionErrorType); typ != "" {
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerFunctionErrorBody))
		res = &Result{RequestID: inv.id, Err: parseError(doc, typ)}
	}
	s.settle(inv, res, nil)
	writeAccepted(w)
}

func (s *Server) handleError(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.inFlight(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize+1))
	if err != nil {
		s.settle(inv, nil, fmt.Errorf("invoke %s: read the error: %w", inv.id, err))
		writeError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the error body")
		return
	}
	s.settle(inv, &Result{RequestID: inv.id, Err: parseError(body, r.Header.Get(headerFunctionErrorType))}, nil)
	writeAccepted(w)
}

func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "cannot read the error body")
		return
	}
	fe := parseError(body, r.Header.Get(headerFunctionErrorType))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.firstNext.IsZero():
		writeError(w, http.StatusForbidden, "Runtime.InvalidStateTransition", "init error after the runtime asked for an invocation")
		return
	case s.initErr != nil:
		writeError(w, http.StatusForbidden, "Runtime.InvalidStateTransition", "init error already reported")
		return
	}
	s.initErr = fe
	close(s.initReported)
	writeAccepted(w)
}

// inFlight returns the invocation the request answers, or writes the
// Runtime API's 400 and returns false.
func (s *Server) inFlight(w http.ResponseWriter, r *http.Request) (*invocation, bool) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.current
	if cur == nil || cur.id != id {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("%s is not the invocation in progress", id))
		return nil, false
	}
	select {
	case <-cur.done:
		writeError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("%s has already been answered", id))
		return nil, false
	default:
	}
	return cur, true
}

// settle is completeLocked for callers not holding s.mu.
func (s *Server) settle(inv *invocation, res *Result, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completeLocked(inv, res, err)
}

// parseError reads a Lambda error document. As Lambda does, it falls back to
// the Lambda-Runtime-Function-Error-Type header when the body is missing or
// unreadable.
func parseError(body []byte, header string) *FunctionError {
	var doc struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	fe := &FunctionError{Type: header, Header: header}
	if json.Unmarshal(body, &doc) == nil {
		fe.Message = doc.ErrorMessage
		if doc.ErrorType != "" {
			fe.Type = doc.ErrorType
		}
	}
	return fe
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newRequestID returns a random UUID, the form of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID returns an X-Ray trace header as Lambda passes it. Sampled=0, so
// that an X-Ray SDK in the function does not try to send segments.
func newTraceID(now time.Time) string {
	var root [12]byte
	var parent [8]byte
	_, _ = rand.Read(root[:])
	_, _ = rand.Read(parent[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), hex.EncodeToString(root[:]), hex.EncodeToString(parent[:]))
}

// LogBuffer collects a process's output while a test reads it: exec.Cmd
// serialises writes when stdout and stderr are the same writer, but the
// reads are concurrent.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
