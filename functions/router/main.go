// Command router is the Lambda function that turns monitoring signals from
// EventBridge ("ML Model Signal" and "CloudWatch Alarm State Change"
// events) into alerts: state, notifications to send and the audit trail in
// DynamoDB. See handler.go.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h, err := newHandler(context.Background(), os.Getenv, log)
	if err != nil {
		// An init failure: Lambda reports it and retries the cold start.
		log.Error("router cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.handle)
}
