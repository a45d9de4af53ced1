// Command slack is the Lambda function behind the Slack app's Function URL:
// the buttons of stakeout's alert messages and the /stakeout slash command.
// See handler.go and internal/slackapp.
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
	app, err := newApp(context.Background(), os.Getenv, log)
	if err != nil {
		setup.Fail(log, "slack function", err) // an init error: Lambda reports it and retries the cold start
	}
	lambda.Start(app)
}
