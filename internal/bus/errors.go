package bus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Error reports the entries Publish gave up on; every entry not listed
// was published.
type Error struct {
	Bus      string
	Total    int       // entries given to Publish
	Failures []Failure // in the order of the entries
	// stopped is the context's error when it ended the retries early.
	stopped error
}

// Failure is why one entry was not published.
type Failure struct {
	Index      int // into the entries given to Publish
	DetailType string
	// Code and Message are EventBridge's: the entry's ErrorCode and
	// ErrorMessage, or the code and message of the error the whole call
	// failed with. Both are empty when no answer came (the network, the
	// context) or the entry was never sent (too large, say).
	Code, Message string
	// Transient says whether publishing the entry again could succeed.
	Transient bool
	// Err is the error the call failed with, or why the entry could not be
	// sent; nil when EventBridge failed the entry alone.
	Err error
}

func (f Failure) reason() string {
	switch {
	case f.Code != "":
		return f.Code + ": " + f.Message
	case f.Err != nil:
		return f.Err.Error()
	}
	return "unknown failure"
}

// of is f for pending entry e: a call's failure is every entry's in it.
func (f Failure) of(e *pending) Failure {
	f.Index, f.DetailType = e.index, e.detailType
	return f
}

func (e *Error) Error() string {
	first := e.Failures[0]
	var b strings.Builder
	fmt.Fprintf(&b, "publish to event bus %q: %d of %d events failed; first, entry %d %q: %s",
		busLabel(e.Bus), len(e.Failures), e.Total, first.Index, first.DetailType, first.reason())
	if e.stopped != nil && !errors.Is(first.Err, e.stopped) {
		fmt.Fprintf(&b, " (stopped retrying: %v)", e.stopped)
	}
	return b.String()
}

func busLabel(bus string) string {
	if bus == "" {
		return "default"
	}
	return bus
}

// Unwrap gives errors.Is and errors.As the causes: the calls' errors
// (types.ResourceNotFoundException for a bus that does not exist, say) and
// the context's when it ended the retries.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, f := range e.Failures {
		if f.Err != nil && !containsErr(errs, f.Err) {
			errs = append(errs, f.Err)
		}
	}
	if e.stopped != nil {
		errs = append(errs, e.stopped)
	}
	return errs
}

func containsErr(errs []error, err error) bool {
	for _, e := range errs {
		if e == err {
			return true
		}
	}
	return false
}

// Permanent reports whether publishing again cannot help: every entry of a
// Publish error failed for a reason of its own (too large, malformed, an
// event bus that does not exist, access denied), or err, an EventBridge
// error from elsewhere, is of that kind. Throttling, EventBridge's internal
// errors, 5xx, the network and an expired context are transient: the
// caller retries later, or dead-letters once its own budget is spent.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		for _, f := range e.Failures {
			if f.Transient {
				return false
			}
		}
		return len(e.Failures) > 0
	}
	return !transient(err)
}

// retryableCodes are entry and call error codes worth retrying.
// EventBridge documents InternalFailure and ThrottlingException as the
// retryable entry codes
// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html);
// InternalException is PutEvents' own 500, ServiceUnavailable the common
// 503. Every other entry code (InvalidArgument, MalformedDetail,
// AccessDeniedException, NotAuthorizedForSourceException, ...) is
// documented as not retryable.
var retryableCodes = map[string]bool{
	"InternalFailure":     true,
	"ThrottlingException": true,
	"InternalException":   true,
	"ServiceUnavailable":  true,
}

func retryableCode(code string) bool {
	if retryableCodes[code] {
		return true
	}
	// The SDK's lists of throttling and timeout codes, shared by all AWS
	// services.
	_, throttle := retry.DefaultThrottleErrorCodes[code]
	_, timeout := retry.DefaultRetryableErrorCodes[code]
	return throttle || timeout
}

// callFailure classifies the error a whole PutEvents call failed with.
func callFailure(err error) Failure {
	f := Failure{Err: err, Transient: transient(err)}
	var api smithy.APIError
	if errors.As(err, &api) {
		f.Code, f.Message = api.ErrorCode(), api.ErrorMessage()
	}
	return f
}

// transient reports whether the call that failed with err could succeed
// if made again, classifying once at the boundary to AWS.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Our budget ran out, not the service's patience: the caller may
		// try again with a new one.
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && retryableCode(api.ErrorCode()) {
		return true
	}
	// The SDK's own judgement: connection errors, 500/502/503/504, errors
	// that say they are retryable.
	switch retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) {
	case aws.TrueTernary:
		return true
	case aws.FalseTernary:
		return false
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		switch code := status.HTTPStatusCode(); {
		case code == http.StatusTooManyRequests || code >= 500:
			return true
		case code >= 400:
			// The service read the request and refused it: sending it
			// again gets the same answer.
			return false
		}
	}
	if errors.As(err, &api) {
		// The service answered with a code not known to be retryable
		// (AccessDeniedException, ValidationException, ...).
		return api.ErrorFault() == smithy.FaultServer
	}
	// No answer, or one we could not read: the entries may not have
	// arrived, and sending them again is safe since subscribers
	// deduplicate.
	return true
}
