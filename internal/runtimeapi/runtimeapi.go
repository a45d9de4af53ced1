// Package runtimeapi holds what our Lambda mains need from the Lambda Runtime
// API beyond what aws-lambda-go's lambda.Start does: reporting a failed
// initialisation. aws-lambda-go only talks to the Runtime API once the
// handler is running, so a main whose setup fails (bad configuration, a
// secret that cannot be read) would otherwise just exit, and Lambda would
// show the caller and the logs nothing but "Runtime exited".
//
// Runtime API reference:
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// InitErrorType is the Lambda-Runtime-Function-Error-Type that ReportInitError
// sends. The Runtime API documentation recommends <category.reason> values
// and lists Runtime.NoSuchHandler, Runtime.APIKeyNotFound,
// Runtime.ConfigInvalid and Runtime.UnknownReason; a main cannot tell which
// of them its setup error is, so it uses the documented catch-all and lets
// errorMessage carry the reason.
const InitErrorType = "Runtime.UnknownReason"

const (
	apiVersion              = "2018-06-01"
	headerFunctionErrorType = "Lambda-Runtime-Function-Error-Type"
	// The Runtime API's OpenAPI specification asks runtimes to send error
	// documents with this media type so that other AWS services recognise
	// them.
	errorContentType = "application/vnd.aws.lambda.error+json"
)

// reportTimeout bounds ReportInitError: the Runtime API is on the same host
// and answers at once, and the init phase has a 10 s budget that a hung
// report must not eat.
const reportTimeout = 2 * time.Second

// errorDocument is the Lambda error format the Runtime API accepts on
// /runtime/init/error.
type errorDocument struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// ReportInitError tells the Lambda Runtime API that the function failed to
// initialise (POST /2018-06-01/runtime/init/error with
// Lambda-Runtime-Function-Error-Type: Runtime.UnknownReason and the body
// {"errorMessage": err.Error(), "errorType": "Runtime.UnknownReason"}), so
// that the failure reaches the caller and the logs with its reason, rather
// than the bare "Runtime exited" Lambda reports when a process just exits.
// The message is shown to whoever invoked the function, so err must not carry
// secrets.
//
// api is the value of AWS_LAMBDA_RUNTIME_API (host:port); when it is empty
// (the binary runs outside Lambda) ReportInitError does nothing and returns
// nil. The call is bounded by a short timeout. The caller should log err and
// exit non-zero afterwards: Lambda expects the runtime to exit after
// reporting, whether or not the report succeeded.
func ReportInitError(ctx context.Context, api string, err error) error {
	if api == "" {
		return nil
	}
	if err == nil {
		return errors.New("report init error: no error to report")
	}
	body, merr := json.Marshal(errorDocument{ErrorMessage: err.Error(), ErrorType: InitErrorType})
	if merr != nil {
		return fmt.Errorf("report init error: encode: %w", merr)
	}

	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	url := "http://" + api + "/" + apiVersion + "/runtime/init/error"
	req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if rerr != nil {
		return fmt.Errorf("report init error to %s: %w", url, rerr)
	}
	req.Header.Set("Content-Type", errorContentType)
	req.Header.Set(headerFunctionErrorType, InitErrorType)

	// No proxy, as aws-lambda-go does: the Runtime API is link-local, and a
	// function configured with HTTP_PROXY for its outbound calls must not
	// send its init error there.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, derr := client.Do(req)
	if derr != nil {
		return fmt.Errorf("report init error to %s: %w", url, derr)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	// 202 is the only success; 403 and 500 (container error, runtime should
	// exit) are what the API documents otherwise.
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("report init error to %s: status %d: %s", url, resp.StatusCode, bytes.TrimSpace(respBody))
	}
	return nil
}
