// Command router is the Lambda function that turns monitoring signals from
// EventBridge ("ML Model Signal", "CloudWatch Alarm State Change" and
// "CloudWatch Alarm Contributor State Change" events) into alerts: state, notifications to send and the audit trail in
// DynamoDB. See handler.go and internal/router.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stakeout-ml/stakeout/internal/setup"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h, err := newHandler(context.Background(), os.Getenv, log)
	if err != nil {
		setup.Fail(log, "router", err) // an init error: Lambda reports it and retries the cold start
	}
	lambda.Start(h.Handle)
}
