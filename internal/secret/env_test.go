package secret_test

import (
	"errors"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/secret"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnvVar(t *testing.T) {
	for ref, want := range map[string]string{
		"secret:stakeout/pagerduty/credit-ds": "STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS",
		"secret:stakeout/pagerduty#credit-ds": "STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS",
		"secret:stakeout/slack/bot-token":     "STAKEOUT_SECRET_STAKEOUT_SLACK_BOT_TOKEN",
		"secret:Team.Key+1@x=y_z":             "STAKEOUT_SECRET_TEAM_KEY_1_X_Y_Z",
		"secret:arn:aws:secretsmanager:us-east-1:123456789012:secret:stakeout/pd-AbCdEf#fraud-ds": "STAKEOUT_SECRET_ARN_AWS_SECRETSMANAGER_US_EAST_1_123456789012_SECRET_STAKEOUT_PD_ABCDEF_FRAUD_DS",
		"secret:x#café": "STAKEOUT_SECRET_X_CAF_", // one '_' per character, not per byte
		"secret:":       "STAKEOUT_SECRET_",
		fakeValue:       "",
		"":              "",
	} {
		if got := secret.EnvVar(ref); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestEnvResolves(t *testing.T) {
	e := secret.NewEnv(mapLookup(map[string]string{
		"STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS": fakeValue,
	}))
	for _, ref := range []string{"secret:stakeout/pagerduty/credit-ds", "secret:stakeout/pagerduty#credit-ds"} {
		v, err := e.Resolve(t.Context(), ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		if v.Reveal() != fakeValue {
			t.Errorf("Resolve(%q) = %q, want %q", ref, v.Reveal(), fakeValue)
		}
	}
}

func TestEnvMissing(t *testing.T) {
	e := secret.NewEnv(mapLookup(map[string]string{"STAKEOUT_SECRET_EMPTY": ""}))
	_, err := e.Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
	want := `secret "stakeout/pagerduty/credit-ds": not found: set environment variable STAKEOUT_SECRET_STAKEOUT_PAGERDUTY_CREDIT_DS to its value`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("errors.Is(err, ErrNotFound) = false")
	}

	_, err = e.Resolve(t.Context(), "secret:empty")
	checkError(t, err, `secret "empty": environment variable STAKEOUT_SECRET_EMPTY is empty`)
}

func TestEnvRefusesNonReference(t *testing.T) {
	looked := false
	e := secret.NewEnv(func(string) (string, bool) { looked = true; return "", false })
	_, err := e.Resolve(t.Context(), fakeValue)
	checkError(t, err, "not a secret reference", "owner files must hold a reference like secret:", "never the secret itself")
	if !errors.Is(err, secret.ErrNotRef) {
		t.Errorf("errors.Is(err, ErrNotRef) = false")
	}
	if looked {
		t.Error("looked up a variable for a non-reference")
	}

	_, err = e.Resolve(t.Context(), "secret:stakeout/pagerduty#")
	checkError(t, err, "empty field")
}

func TestEnvDefaultsToProcessEnvironment(t *testing.T) {
	t.Setenv("STAKEOUT_SECRET_STAKEOUT_TEST_ONLY", fakeValue)
	v, err := secret.NewEnv(nil).Resolve(t.Context(), "secret:stakeout/test-only")
	if err != nil || v.Reveal() != fakeValue {
		t.Errorf("Resolve = %q, %v; want %q", v.Reveal(), err, fakeValue)
	}
}
