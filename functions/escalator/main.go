// Command escalator is the Lambda function EventBridge Scheduler runs every
// minute: it escalates unacknowledged alerts along their owners' chains,
// ends snoozes, opens alerts for monitoring that went silent (and resolves
// them when it comes back), posts each owner's daily digest, and drains the
// notification outbox. See handler.go and internal/escalator.
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
		log.Error("escalator cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.handle)
}
