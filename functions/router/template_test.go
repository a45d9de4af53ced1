package main

import (
	"context"
	"log/slog"
	"reflect"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/samtemplate"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

const template = "../../template.yaml"

// start builds the function as its main does, with getenv as its
// environment.
func start(getenv func(string) string) error {
	_, err := newHandler(context.Background(), getenv, slog.New(slog.DiscardHandler))
	return err
}

// The function starts with exactly the environment template.yaml gives it
// (and the configuration embedded in it): every variable it reads is set,
// and every variable set is read.
func TestTemplateEnvironment(t *testing.T) {
	samtemplate.CheckEnvironment(t, template, "RouterFunction", setup.LocalOnly, start)
}

// Its role lets it read exactly the secrets it reads (derived from the
// variables it read), and no other function's.
func TestRoleGrantsExactlyTheSecretsItReads(t *testing.T) {
	samtemplate.CheckSecrets(t, template, "RouterFunction", setup.SecretPrefixes, start)
}

// Its role allows exactly the DynamoDB actions of the store methods its
// code can reach: through the consumers it hands the store to
// (handler.go, internal/router) and the sender internal/setup builds.
func TestRoleAllowsExactlyTheDynamoDBActionsItUses(t *testing.T) {
	methods := samtemplate.StoreMethods(reflect.TypeFor[*setup.Store](), pipeline.Processor{}, deliver.Sender{})
	actions, err := samtemplate.DynamoDBActions("../../internal/dynamostore", "Store", methods)
	if err != nil {
		t.Fatal(err)
	}
	samtemplate.CheckDynamoDB(t, template, "RouterFunction", actions)
}
