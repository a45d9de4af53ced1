// Package awssecret resolves secret references from AWS Secrets Manager,
// for the Lambda functions. It is the only package that speaks the Secrets
// Manager API, so that package secret, and the configuration that holds
// references, build without the AWS SDK: the CLI, the tests and the core
// packages resolve from the environment instead.
package awssecret

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/stakeout-ml/stakeout/internal/secret"
)

// SecretsManagerAPI is the part of *secretsmanager.Client that [New]'s
// resolver uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManagerAPI = (*secretsmanager.Client)(nil)

// store is what errors call Secrets Manager.
const store = "Secrets Manager"

// New returns a resolver that reads references from AWS Secrets Manager
// through api, normally secretsmanager.NewFromConfig(cfg): GetSecretValue
// with the reference's name, or ARN, as SecretId, the current version. As
// a [secret.Cache] it keeps each secret for the life of the process (a
// Lambda container; a rotated secret is picked up by new containers, or
// after Forget).
func New(api SecretsManagerAPI) *secret.Cache {
	return secret.NewCache(store, func(ctx context.Context, id string) (string, error) {
		return fetch(ctx, api, id)
	})
}

// fetch calls GetSecretValue. Its errors name the secret and say what to do,
// and never hold the value.
func fetch(ctx context.Context, api SecretsManagerAPI, id string) (string, error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		return "", apiError(id, err)
	}
	var s string
	switch {
	case out == nil:
		return "", fmt.Errorf("secret %q: Secrets Manager returned no output", id)
	case out.SecretString != nil:
		s = *out.SecretString
	case out.SecretBinary != nil:
		if !utf8.Valid(out.SecretBinary) {
			return "", fmt.Errorf("secret %q: its SecretBinary is not UTF-8 text: store the value as SecretString", id)
		}
		s = string(out.SecretBinary)
	}
	if s == "" {
		return "", fmt.Errorf("secret %q: its value in Secrets Manager is empty: put the secret's value in it (aws secretsmanager put-secret-value)", id)
	}
	return s, nil
}

func apiError(id string, err error) error {
	var (
		notFound   *types.ResourceNotFoundException
		decryption *types.DecryptionFailure
		invalid    *types.InvalidRequestException
		api        smithy.APIError
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("secret %q: %w in Secrets Manager: create it in the function's account and region, or fix the reference: %w", id, secret.ErrNotFound, err)
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		return fmt.Errorf("secret %q: %w: allow the function's role secretsmanager:GetSecretValue on it (and kms:Decrypt if a customer managed key encrypts it): %w", id, secret.ErrAccessDenied, err)
	case errors.As(err, &decryption):
		return fmt.Errorf("secret %q: Secrets Manager cannot decrypt it: allow the function's role kms:Decrypt on the secret's KMS key: %w", id, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("secret %q: Secrets Manager refused to read it (is it scheduled for deletion?): %w", id, err)
	}
	if transient(err) {
		return fmt.Errorf("secret %q: %w: %w", id, secret.ErrUnavailable, err)
	}
	return fmt.Errorf("secret %q: reading it from Secrets Manager: %w", id, err)
}

// transient reports whether a Secrets Manager failure may pass by itself:
// throttling, a fault on AWS's side, or no answer at all. A client fault
// (a bad request, a missing permission) will not.
func transient(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return true // the network, a timeout: nothing was answered
	}
	switch api.ErrorCode() {
	case "ThrottlingException", "InternalServiceError", "RequestTimeout", "ServiceUnavailable":
		return true
	}
	return api.ErrorFault() == smithy.FaultServer
}
