package secret

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// EnvPrefix starts the environment variables that [Env] reads.
const EnvPrefix = "STAKEOUT_SECRET_"

// Env resolves references from environment variables (see [EnvVar]), for the
// CLI and tests. A "#field" reference is not parsed as JSON: the whole
// reference maps to one variable that holds the field's value.
type Env struct {
	lookup func(string) (string, bool)
}

var _ Resolver = (*Env)(nil)

// NewEnv returns an Env that looks variables up with lookup; nil means
// os.LookupEnv. Tests pass a map's lookup instead of setting the process
// environment.
func NewEnv(lookup func(string) (string, bool)) *Env {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Env{lookup: lookup}
}

// EnvVar returns the environment variable that holds ref's value locally:
// "STAKEOUT_SECRET_" followed by the reference's name (field included)
// upper-cased, with every character outside A-Z and 0-9 replaced by '_'.
// secret:stakeout/pagerduty/credit-ds and secret:stakeout/pagerduty#credit-ds
// both map to STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS. EnvVar returns ""
// if ref is not a reference.
func EnvVar(ref string) string {
	if !IsRef(ref) {
		return ""
	}
	var b strings.Builder
	b.WriteString(EnvPrefix)
	for _, r := range Name(ref) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Resolve returns the value of ref's environment variable.
func (e *Env) Resolve(_ context.Context, ref string) (Value, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Value{}, err
	}
	v := EnvVar(ref)
	s, ok := e.lookup(v)
	switch {
	case !ok:
		return Value{}, fmt.Errorf("secret %q: %w: set environment variable %s to its value", r.Name(), ErrNotFound, v)
	case s == "":
		return Value{}, fmt.Errorf("secret %q: environment variable %s is empty: set it to the secret's value", r.Name(), v)
	}
	return New(s), nil
}
