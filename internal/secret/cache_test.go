package secret_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/secret"
)

// fakeValue is recognisable in output and looks like no real credential.
const fakeValue = "not-a-real-key-123"

// store is an in-memory secret store. Package awssecret's tests run the
// same Cache behind the real Secrets Manager client; these pin down what
// the Cache itself promises, whatever the store.
type store struct {
	mu      sync.Mutex
	secrets map[string]string
	fails   map[string]error // the next fetch of a secret fails with it
	calls   int
}

func newStore(secrets map[string]string) *store {
	return &store{secrets: secrets, fails: map[string]error{}}
}

func (s *store) fetch(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err, ok := s.fails[id]; ok {
		delete(s.fails, id)
		return "", err
	}
	v, ok := s.secrets[id]
	if !ok {
		return "", fmt.Errorf("secret %q: %w in the test store", id, secret.ErrNotFound)
	}
	return v, nil
}

func (s *store) set(id, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = v
}

func (s *store) fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestCacheKeepsSecrets(t *testing.T) {
	s := newStore(map[string]string{
		"stakeout/pagerduty/credit-ds": fakeValue,
		"stakeout/pagerduty":           `{"credit-ds": "not-a-real-key-1", "fraud-ds": "not-a-real-key-2"}`,
	})
	c := secret.NewCache("the test store", s.fetch)
	for _, tc := range []struct {
		ref, want string
		fetches   int
	}{
		{"secret:stakeout/pagerduty/credit-ds", fakeValue, 1},
		{"secret:stakeout/pagerduty/credit-ds", fakeValue, 1},
		{"secret:stakeout/pagerduty#credit-ds", "not-a-real-key-1", 2},
		{"secret:stakeout/pagerduty#fraud-ds", "not-a-real-key-2", 2}, // fields share their secret
	} {
		v, err := c.Resolve(t.Context(), tc.ref)
		if err != nil || v.Reveal() != tc.want {
			t.Fatalf("Resolve(%q) = %q, %v; want %q", tc.ref, v.Reveal(), err, tc.want)
		}
		if got := s.fetches(); got != tc.fetches {
			t.Errorf("after Resolve(%q): %d fetches, want %d", tc.ref, got, tc.fetches)
		}
	}
}

func TestCacheDoesNotKeepFailures(t *testing.T) {
	s := newStore(map[string]string{"stakeout/x": fakeValue})
	s.fails["stakeout/x"] = fmt.Errorf("secret %q: %w: throttled", "stakeout/x", secret.ErrUnavailable)
	c := secret.NewCache("the test store", s.fetch)
	_, err := c.Resolve(t.Context(), "secret:stakeout/x")
	if !errors.Is(err, secret.ErrUnavailable) {
		t.Fatalf("first Resolve: err = %v, want ErrUnavailable", err)
	}
	if v, err := c.Resolve(t.Context(), "secret:stakeout/x"); err != nil || v.Reveal() != fakeValue {
		t.Errorf("Resolve after the failure = %q, %v; want %q", v.Reveal(), err, fakeValue)
	}
}

func TestCacheForget(t *testing.T) {
	s := newStore(map[string]string{"stakeout/x": "not-a-real-key-1"})
	c := secret.NewCache("the test store", s.fetch)
	if _, err := c.Resolve(t.Context(), "secret:stakeout/x"); err != nil {
		t.Fatal(err)
	}
	s.set("stakeout/x", "not-a-real-key-2")
	if v, _ := c.Resolve(t.Context(), "secret:stakeout/x"); v.Reveal() != "not-a-real-key-1" {
		t.Errorf("the kept value changed without Forget")
	}
	c.Forget("secret:stakeout/x#any-field") // forgets the whole secret
	c.Forget(fakeValue)                     // not a reference: ignored
	if v, _ := c.Resolve(t.Context(), "secret:stakeout/x"); v.Reveal() != "not-a-real-key-2" {
		t.Errorf("after Forget the old value is still served")
	}
}

func TestCacheErrors(t *testing.T) {
	s := newStore(map[string]string{
		"stakeout/pagerduty": `{"credit-ds": "` + fakeValue + `", "n": 7, "empty": ""}`,
		"stakeout/plain":     fakeValue,
	})
	c := secret.NewCache("the test store", s.fetch)
	for _, tc := range []struct {
		name, ref string
		want      []string
		is        error
	}{
		{"not a reference", fakeValue, []string{"not a secret reference"}, secret.ErrNotRef},
		{"no such secret", "secret:stakeout/none", []string{`secret "stakeout/none": not found in the test store`}, secret.ErrNotFound},
		{"no such field", "secret:stakeout/pagerduty#fraud-ds", []string{`field "fraud-ds" not found in secret "stakeout/pagerduty"`, "case-sensitive"}, secret.ErrNotFound},
		{"field not a string", "secret:stakeout/pagerduty#n", []string{`field "n" of secret "stakeout/pagerduty" is not a JSON string`}, nil},
		{"empty field", "secret:stakeout/pagerduty#empty", []string{`field "empty" of secret "stakeout/pagerduty" is empty`}, nil},
		{"secret not JSON", "secret:stakeout/plain#credit-ds", []string{`secret "stakeout/plain" is not a JSON object`, `drop "#credit-ds"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Resolve(t.Context(), tc.ref)
			checkError(t, err, tc.want...)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
}

// A waiter whose context ends stops waiting, and its error names the
// store it waited for.
func TestCacheWaiterCanceled(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	c := secret.NewCache("the test store", func(context.Context, string) (string, error) {
		close(started)
		<-release
		return fakeValue, nil
	})
	leader := make(chan error, 1)
	go func() {
		_, err := c.Resolve(t.Context(), "secret:stakeout/x")
		leader <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Resolve(ctx, "secret:stakeout/x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: err = %v, want context.DeadlineExceeded", err)
	}
	checkError(t, err, `secret "stakeout/x": waiting for the test store`)
	close(release)
	if err := <-leader; err != nil {
		t.Errorf("leader: %v", err)
	}
}

// checkError fails unless err is non-nil, holds every want, is lower-case
// and does not contain fakeValue however it is printed.
func checkError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one containing %q", want)
		return
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	if msg[0] < 'a' || msg[0] > 'z' {
		t.Errorf("error %q does not start lower-case", msg)
	}
	if s := fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err); strings.Contains(s, fakeValue) {
		t.Errorf("error output leaks the secret: %s", s)
	}
}
