// Command pagerduty is the Lambda function behind the Function URL that
// PagerDuty's webhook subscription (v3) calls: an incident acknowledged or
// resolved in PagerDuty acknowledges or resolves the stakeout alert. See
// handler.go and internal/pdsync.
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
		setup.Fail(log, "pagerduty function", err) // an init error: Lambda reports it and retries the cold start
	}
	lambda.Start(app)
}
