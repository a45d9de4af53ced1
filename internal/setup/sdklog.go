package setup

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// sdkLogger writes the AWS SDK's log lines through the function's slog
// logger, so that they are JSON like every other line (the SDK's default
// prints "SDK <time> WARN ..." to stderr) and carry the request's context.
// Debug (request, response and retry traces, when a client's
// ClientLogMode asks for them) stays Debug; Warn, and any class the SDK
// may add, is a warning rather than dropped.
type sdkLogger struct {
	log *slog.Logger
	ctx context.Context
}

func (l sdkLogger) Logf(class logging.Classification, format string, v ...any) {
	level := slog.LevelWarn
	if class == logging.Debug {
		level = slog.LevelDebug
	}
	ctx := l.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, v...), "logger", "aws-sdk")
}

// WithContext is how the SDK hands its logger an operation's context
// (smithy-go's logging.ContextLogger).
func (l sdkLogger) WithContext(ctx context.Context) logging.Logger {
	return sdkLogger{log: l.log, ctx: ctx}
}
