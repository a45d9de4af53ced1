package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/samtemplate"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// The function starts with exactly the environment template.yaml gives it
// (and the configuration embedded in it): every variable it reads is set,
// and every variable set is read.
func TestTemplateEnvironment(t *testing.T) {
	samtemplate.CheckEnvironment(t, "../../template.yaml", "PagerDutyFunction", setup.LocalOnly, func(getenv func(string) string) error {
		_, err := newApp(context.Background(), getenv, slog.New(slog.DiscardHandler))
		return err
	})
}
