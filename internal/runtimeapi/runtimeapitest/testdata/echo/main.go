// Command echo is the Lambda function runtimeapitest and runtimeapi test
// themselves with. It answers with its input, and its input and environment
// make it misbehave in each way the tests need:
//
//	{"fail":true}     the handler returns an error (type requestedFailure)
//	{"exit":N}        the process exits with status N mid-invocation
//	{"hang":true}     the handler never answers
//	{"context":true}  the answer is the invocation's Lambda context
//	{"hold_mib":N}    the process writes to N MiB of memory it keeps
//	FAIL_INIT=1       init fails and is reported with runtimeapi.ReportInitError
//	EXIT_INIT=N       init exits with status N without reporting
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/stakeout-ml/stakeout/internal/runtimeapi"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if code, _ := strconv.Atoi(os.Getenv("EXIT_INIT")); code != 0 {
		log.Error("exiting during init as asked", "status", code)
		os.Exit(code)
	}
	if os.Getenv("FAIL_INIT") == "1" {
		err := errors.New("load configuration: FAIL_INIT=1 asks echo to fail")
		if rerr := runtimeapi.ReportInitError(context.Background(), os.Getenv("AWS_LAMBDA_RUNTIME_API"), err); rerr != nil {
			log.Error("cannot report the init error", "error", rerr)
		}
		log.Error("echo cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(handler{log: log}.handle)
}

type handler struct{ log *slog.Logger }

type control struct {
	Fail    bool `json:"fail"`
	Exit    int  `json:"exit"`
	Hang    bool `json:"hang"`
	Context bool `json:"context"`
	HoldMiB int  `json:"hold_mib"`
}

// held keeps what {"hold_mib":N} wrote to resident for the process's life.
var held [][]byte

// invocationContext is what {"context":true} answers: what aws-lambda-go
// made of the Runtime API's headers and Lambda's environment.
type invocationContext struct {
	RequestID         string `json:"request_id"`
	FunctionARN       string `json:"function_arn"`
	DeadlineMS        int64  `json:"deadline_ms"`
	TraceID           string `json:"trace_id"`
	ClientAppTitle    string `json:"client_app_title"`
	CognitoIdentityID string `json:"cognito_identity_id"`
	FunctionName      string `json:"function_name"`
	MemoryMB          int    `json:"memory_mb"`
	Region            string `json:"region"`
}

type requestedFailure struct{}

func (requestedFailure) Error() string { return "failure requested by the input" }

func (h handler) handle(ctx context.Context, in json.RawMessage) (any, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	h.log.Info("invoked", "request_id", lc.AwsRequestID)
	var c control
	_ = json.Unmarshal(in, &c) // input that is not a control object is just echoed
	switch {
	case c.Fail:
		return nil, requestedFailure{}
	case c.Exit != 0:
		h.log.Error("exiting mid-invocation as asked", "status", c.Exit)
		os.Exit(c.Exit)
	case c.Hang:
		time.Sleep(24 * time.Hour)
	case c.HoldMiB > 0:
		b := make([]byte, c.HoldMiB<<20)
		for i := range b { // a page is resident once written
			b[i] = 1
		}
		held = append(held, b)
	case c.Context:
		deadline, _ := ctx.Deadline()
		return invocationContext{
			RequestID:         lc.AwsRequestID,
			FunctionARN:       lc.InvokedFunctionArn,
			DeadlineMS:        deadline.UnixMilli(),
			TraceID:           os.Getenv("_X_AMZN_TRACE_ID"),
			ClientAppTitle:    lc.ClientContext.Client.AppTitle,
			CognitoIdentityID: lc.Identity.CognitoIdentityID,
			FunctionName:      lambdacontext.FunctionName,
			MemoryMB:          lambdacontext.MemoryLimitInMB,
			Region:            os.Getenv("AWS_REGION"),
		}, nil
	}
	return in, nil
}
