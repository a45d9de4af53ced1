// Command escalator is the Lambda function EventBridge Scheduler runs every
// minute: it escalates unacknowledged alerts along their owners' chains,
// ends snoozes, opens alerts for monitoring that went silent (and resolves
// them when it comes back), posts each owner's daily digest, and drains the
// notification outbox. See handler.go and internal/escalator (Runner).
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
		setup.Fail(log, "escalator", err) // an init error: Lambda reports it and retries the cold start
	}
	lambda.Start(h)
}
