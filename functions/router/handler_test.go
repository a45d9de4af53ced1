package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func TestStartupNeedsATable(t *testing.T) {
	_, err := newHandler(context.Background(), func(k string) string {
		if k == setup.EnvConfigDir {
			return "../.."
		}
		return ""
	}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if err == nil || !strings.Contains(err.Error(), setup.EnvTable) {
		t.Errorf("newHandler without %s = %v, want an error naming it", setup.EnvTable, err)
	}
}
