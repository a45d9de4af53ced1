package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// SecretsManagerAPI is the part of *secretsmanager.Client that
// [SecretsManager] uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManagerAPI = (*secretsmanager.Client)(nil)

// SecretsManager resolves references from AWS Secrets Manager
// (GetSecretValue with the reference's name, or ARN, as SecretId; the
// current version). Each secret is fetched once and kept for the life of the
// process, which in Lambda is the container: concurrent first requests for
// one secret make one API call, and fields of one JSON secret share it.
// Failures are not kept; the next Resolve tries again.
type SecretsManager struct {
	api SecretsManagerAPI

	mu      sync.Mutex
	secrets map[string]*flight // by SecretID
}

var _ Resolver = (*SecretsManager)(nil)

// flight is one secret's fetch: under way until done is closed, then
// holding the secret (or, briefly, the error that waiters share).
type flight struct {
	done chan struct{}
	s    string
	err  error
	// again: the fetch ended because its own caller's context did, which
	// says nothing of the secret, so waiters fetch again themselves.
	again bool
}

// NewSecretsManager returns a SecretsManager calling api, normally
// secretsmanager.NewFromConfig(cfg).
func NewSecretsManager(api SecretsManagerAPI) *SecretsManager {
	return &SecretsManager{api: api, secrets: map[string]*flight{}}
}

// Resolve returns the secret that ref refers to, or its field for a
// "#field" reference.
func (m *SecretsManager) Resolve(ctx context.Context, ref string) (Value, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Value{}, err
	}
	s, err := m.secret(ctx, r.SecretID)
	if err != nil {
		return Value{}, err
	}
	if r.Field == "" {
		return New(s), nil
	}
	f, err := selectField(r, s)
	if err != nil {
		return Value{}, err
	}
	return New(f), nil
}

// secret returns the secret id, fetching it unless it is kept or being
// fetched.
func (m *SecretsManager) secret(ctx context.Context, id string) (string, error) {
	for {
		m.mu.Lock()
		f, ok := m.secrets[id]
		if !ok {
			f = &flight{done: make(chan struct{})}
			m.secrets[id] = f
			m.mu.Unlock()
			return m.lead(ctx, id, f)
		}
		m.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", fmt.Errorf("secret %q: waiting for Secrets Manager: %w", id, ctx.Err())
		}
		if f.err == nil {
			return f.s, nil
		}
		if !f.again {
			return "", f.err
		}
	}
}

// lead fetches for f and everyone waiting on it.
func (m *SecretsManager) lead(ctx context.Context, id string, f *flight) (string, error) {
	f.err = fmt.Errorf("secret %q: fetching it from Secrets Manager panicked", id) // unless fetch returns
	defer func() {
		if f.err != nil {
			f.again = ctx.Err() != nil
			m.mu.Lock()
			delete(m.secrets, id)
			m.mu.Unlock()
		}
		close(f.done)
	}()
	f.s, f.err = m.fetch(ctx, id)
	return f.s, f.err
}

// fetch calls GetSecretValue. Its errors name the secret and say what to do,
// and never hold the value.
func (m *SecretsManager) fetch(ctx context.Context, id string) (string, error) {
	out, err := m.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
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
		return fmt.Errorf("secret %q: %w in Secrets Manager: create it in the function's account and region, or fix the reference: %w", id, ErrNotFound, err)
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		return fmt.Errorf("secret %q: %w: allow the function's role secretsmanager:GetSecretValue on it (and kms:Decrypt if a customer managed key encrypts it): %w", id, ErrAccessDenied, err)
	case errors.As(err, &decryption):
		return fmt.Errorf("secret %q: Secrets Manager cannot decrypt it: allow the function's role kms:Decrypt on the secret's KMS key: %w", id, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("secret %q: Secrets Manager refused to read it (is it scheduled for deletion?): %w", id, err)
	}
	if transient(err) {
		return fmt.Errorf("secret %q: %w: %w", id, ErrUnavailable, err)
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

// Forget drops the cached secret of ref, so that the next Resolve reads
// it again: for a credential the vendor refused (rotated since it was
// cached).
func (m *SecretsManager) Forget(ref string) {
	r, err := ParseRef(ref)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.secrets[r.SecretID]; f != nil {
		select {
		case <-f.done:
			delete(m.secrets, r.SecretID)
		default: // a fetch under way reads the current value anyway
		}
	}
}

// selectField returns the string field r.Field of the JSON object s. Its
// errors never quote s: a secret that is not JSON may be the key itself.
func selectField(r Ref, s string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
		return "", fmt.Errorf("secret %q: secret %q is not a JSON object, so field %q cannot be selected: store a JSON object in it, or drop \"#%s\" from the reference", r.Name(), r.SecretID, r.Field, r.Field)
	}
	raw, ok := obj[r.Field]
	if !ok {
		return "", fmt.Errorf("secret %q: field %q %w in secret %q: add it to the secret's JSON object (field names are case-sensitive)", r.Name(), r.Field, ErrNotFound, r.SecretID)
	}
	var f string
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", fmt.Errorf("secret %q: field %q of secret %q is not a JSON string: store the value as a string", r.Name(), r.Field, r.SecretID)
	}
	if f == "" {
		return "", fmt.Errorf("secret %q: field %q of secret %q is empty: put the secret's value in it", r.Name(), r.Field, r.SecretID)
	}
	return f, nil
}
