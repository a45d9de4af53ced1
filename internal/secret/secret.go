// Package secret resolves secret references and keeps secret values out of
// logs, errors and printed output.
//
// Owner files never hold a secret itself, only a reference to one:
//
//	pagerduty: {routing_key: secret:stakeout/pagerduty/credit-ds}
//
// A reference is "secret:" followed by the secret's name (or full ARN) in AWS
// Secrets Manager. When one secret holds a JSON object of several values (one
// secret for every team's routing key, say), "#field" selects the object's
// string field:
//
//	secret:stakeout/pagerduty#credit-ds
//
// The Slack bot token is resolved the same way.
//
// # In AWS
//
// The Lambda functions use package awssecret: a [Cache] over AWS Secrets
// Manager, which calls GetSecretValue with the name as SecretId and keeps
// each value for the life of the process (a Lambda container; a rotated
// secret is picked up by new containers). This package imports no AWS SDK,
// so the configuration that holds references builds without one. Store the
// value with
//
//	aws secretsmanager create-secret --name stakeout/pagerduty/credit-ds --secret-string '<key>'
//
// and let the function's role call secretsmanager:GetSecretValue on it
// (and kms:Decrypt, if the secret is encrypted with a customer managed key).
//
// # Locally
//
// The CLI and tests use [Env], which reads the environment variable named by
// [EnvVar]: STAKEOUT_SECRET_ followed by the reference's name upper-cased,
// with every character outside A-Z and 0-9 replaced by '_'. The whole
// reference, field included, maps to one variable:
//
//	secret:stakeout/pagerduty/credit-ds  →  STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS
//	secret:stakeout/pagerduty#credit-ds  →  STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS
//	secret:stakeout/slack/bot-token      →  STAKEOUT_SECRET_STAKEOUT_SLACK_BOT_TOKEN
//
// # Keeping values secret
//
// A resolved secret is a [Value]: fmt, encoding/json, encoding.TextMarshaler
// users and log/slog all print it as "[redacted]", and errors from this
// package name the reference, never the value. [Value.Reveal] returns the
// raw string for the one call that sends it (an HTTP header, say).
package secret

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
)

// Prefix starts a secret reference.
const Prefix = "secret:"

// Redacted is what a [Value] prints as.
const Redacted = "[redacted]"

// Errors that resolution wraps, for errors.Is.
var (
	// ErrNotRef: the string is not a secret reference. Owner files must
	// hold references, never secrets.
	ErrNotRef = errors.New("not a secret reference")
	// ErrNotFound: no such secret (or no such field in a JSON secret).
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied: the secret exists but may not be read.
	ErrAccessDenied = errors.New("access denied")
	// ErrUnavailable: the secret store could not answer now (throttled,
	// failing, unreachable); trying again later may work. Every other
	// error is a configuration problem that waiting will not fix.
	ErrUnavailable = errors.New("secret store unavailable")
)

// Value holds a secret. It prints as "[redacted]" however it is printed or
// encoded; [Value.Reveal] returns the secret. The zero Value is empty.
//
// The secret is held behind a pointer so that even fmt's reflection over a
// struct with an unexported Value field (where Format is not called) prints
// an address, not the secret.
type Value struct{ p *string }

// New wraps s as a Value (for resolvers, and for tests of code that takes a
// Value).
func New(s string) Value { return Value{p: &s} }

// Reveal returns the secret. Call it only where the secret is sent, never to
// log or print it.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether v holds nothing (the zero Value or an empty string).
func (v Value) IsZero() bool { return v.p == nil || *v.p == "" }

// Equal reports whether v and w hold the same secret, in time that does not
// depend on where they differ. go-cmp uses it, too.
func (v Value) Equal(w Value) bool {
	return subtle.ConstantTimeCompare([]byte(v.Reveal()), []byte(w.Reveal())) == 1
}

// String returns "[redacted]".
func (Value) String() string { return Redacted }

// GoString returns "[redacted]" (for %#v).
func (Value) GoString() string { return Redacted }

// Format prints "[redacted]" for every verb and flag, so that neither %x nor
// %q shows the secret.
func (Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", Redacted)
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// MarshalJSON returns "[redacted]" as a JSON string.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns "[redacted]".
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue returns "[redacted]" (slog.LogValuer).
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// Resolver resolves references to values. Implementations are safe for
// concurrent use.
type Resolver interface {
	// Resolve returns the value that ref refers to. It refuses a string that
	// is not a reference with an error wrapping ErrNotRef that does not
	// contain the string.
	Resolve(ctx context.Context, ref string) (Value, error)
}

// IsRef reports whether s is written as a reference, that is starts with
// "secret:". [ParseRef] checks the rest.
func IsRef(s string) bool { return strings.HasPrefix(s, Prefix) }

// Name returns the reference's name: what follows "secret:", field selector
// included ("stakeout/pagerduty#credit-ds"). It is not secret, and errors
// name references by it. Name returns "" if ref is not a reference.
func Name(ref string) string {
	if !IsRef(ref) {
		return ""
	}
	return ref[len(Prefix):]
}

// Ref is a parsed reference.
type Ref struct {
	// SecretID is the secret's name or ARN in Secrets Manager.
	SecretID string
	// Field, if not empty, selects a string field of a secret that holds a
	// JSON object.
	Field string
}

// Name returns the reference's name, as [Name] does.
func (r Ref) Name() string {
	if r.Field == "" {
		return r.SecretID
	}
	return r.SecretID + "#" + r.Field
}

// String returns the reference as written: "secret:<name>[#<field>]".
func (r Ref) String() string { return Prefix + r.Name() }

// ParseRef parses "secret:<name>" or "secret:<name>#<field>". The name is a
// Secrets Manager secret name (letters, digits and /_+=.@-) or a secret's
// ARN. The error for a string that is not a reference wraps ErrNotRef and
// does not contain the string, which may be the secret itself.
func ParseRef(s string) (Ref, error) {
	if !IsRef(s) {
		return Ref{}, errNotRef()
	}
	name := s[len(Prefix):]
	id, field, hasField := strings.Cut(name, "#")
	switch {
	case id == "":
		return Ref{}, fmt.Errorf("the secret reference names no secret: write secret:<name in Secrets Manager>, like secret:stakeout/pagerduty/credit-ds")
	case hasField && field == "":
		return Ref{}, fmt.Errorf("the secret reference has an empty field after '#': write secret:<name>#<field>, or drop the '#'")
	}
	if bad, ok := badRune(id, strings.HasPrefix(id, "arn:")); ok {
		return Ref{}, fmt.Errorf("the secret reference is malformed: secret names hold only letters, digits and /_+=.@- (not %q)", bad)
	}
	for _, r := range field {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return Ref{}, fmt.Errorf("the secret reference is malformed: its field name holds a space or control character")
		}
	}
	return Ref{SecretID: id, Field: field}, nil
}

// badRune returns the first rune of a secret name (or, with arn, an ARN)
// that Secrets Manager does not allow.
func badRune(id string, arn bool) (rune, bool) {
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("/_+=.@-", r):
		case arn && r == ':':
		default:
			return r, true
		}
	}
	return 0, false
}

func errNotRef() error {
	return fmt.Errorf("%w: owner files must hold a reference like secret:stakeout/pagerduty/credit-ds, never the secret itself (the value is not shown here; if it was a real secret in a file, rotate it)", ErrNotRef)
}
