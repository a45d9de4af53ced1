package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stakeout-ml/stakeout/internal/bus"
)

// answered wraps err as the SDK does an error response with this status.
func answered(status int, err error) error {
	return &smithy.OperationError{ServiceID: "EventBridge", OperationName: "PutEvents", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
	}}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"validation error", answered(400, &smithy.GenericAPIError{Code: "ValidationException", Message: "Total size of the entries in the request is over the limit."}), true},
		{"event bus not found", answered(400, &types.ResourceNotFoundException{}), true},
		{"access denied", answered(403, &smithy.GenericAPIError{Code: "AccessDeniedException"}), true},
		{"access denied without a status", &smithy.GenericAPIError{Code: "AccessDeniedException"}, true},
		{"throttling, a 400", answered(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), false},
		{"internal exception", answered(500, &types.InternalException{}), false},
		{"unavailable", answered(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), false},
		{"too many requests", answered(429, &smithy.GenericAPIError{Code: "TooManyRequests"}), false},
		{"unreadable answer to a request that may have arrived", answered(200, &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}), false},
		{"connection refused", &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}}, false},
		{"connection reset", fmt.Errorf("read: connection reset by peer"), false},
		{"deadline", fmt.Errorf("publish: %w", context.DeadlineExceeded), false},
		{"canceled", &smithy.OperationError{Err: context.Canceled}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bus.Permanent(tc.err); got != tc.want {
				t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
