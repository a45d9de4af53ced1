package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/samtemplate"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// The function starts with exactly the environment template.yaml gives it
// (and the configuration embedded in it): every variable it reads is set,
// and every variable set is read.
func TestTemplateEnvironment(t *testing.T) {
	tmpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env, err := tmpl.Environment("EscalatorFunction")
	if err != nil {
		t.Fatal(err)
	}
	rec := samtemplate.RecordEnv(env)
	if _, err := newHandler(context.Background(), rec.Getenv, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("newHandler with the template's environment: %v", err)
	}
	for _, p := range rec.EnvironmentProblems("EscalatorFunction", setup.LocalOnly) {
		t.Error(p)
	}
}
