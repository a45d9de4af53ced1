package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/secret"
)

// resolved returns a Value that went through the path the Lambda
// functions' resolver takes: a Cache over a store.
func resolved(t *testing.T) secret.Value {
	t.Helper()
	s := newStore(map[string]string{"stakeout/pagerduty/credit-ds": fakeValue})
	v, err := secret.NewCache("the test store", s.fetch).Resolve(t.Context(), "secret:stakeout/pagerduty/credit-ds")
	if err != nil {
		t.Fatal(err)
	}
	if v.Reveal() != fakeValue {
		t.Fatalf("Reveal() = %q, want %q", v.Reveal(), fakeValue)
	}
	return v
}

func TestValueNeverPrinted(t *testing.T) {
	v := resolved(t)
	type exported struct {
		Key  secret.Value
		Team string
	}
	type unexported struct {
		key  secret.Value
		team string
	}
	holders := []any{
		v, &v, []secret.Value{v}, map[string]secret.Value{"k": v},
		exported{Key: v, Team: "credit-ds"}, &exported{Key: v},
		unexported{key: v, team: "credit-ds"}, &unexported{key: v},
		struct{ Any any }{v},
	}
	check := func(what, out string) {
		t.Helper()
		if strings.Contains(out, fakeValue) {
			t.Errorf("%s leaks the secret: %s", what, out)
		}
	}

	for _, h := range holders {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%20s", "%-8v", "%.3s"} {
			check(fmt.Sprintf("fmt %s of %T", verb, h), fmt.Sprintf(verb, h))
		}
		check(fmt.Sprintf("fmt.Sprint of %T", h), fmt.Sprint(h)+fmt.Sprintln(h))
		b, err := json.Marshal(h)
		if err != nil && !strings.Contains(fmt.Sprintf("%T", h), "unexported") {
			t.Errorf("json.Marshal(%T): %v", h, err)
		}
		check(fmt.Sprintf("json.Marshal of %T", h), string(b))
	}

	if got := fmt.Sprintf("%v|%s|%+v|%#v|%q", v, v, v, v, v); got != `[redacted]|[redacted]|[redacted]|[redacted]|"[redacted]"` {
		t.Errorf("fmt output = %s", got)
	}
	if got := v.String() + v.GoString(); got != "[redacted][redacted]" {
		t.Errorf("String+GoString = %s", got)
	}
	if b, _ := json.Marshal(exported{Key: v, Team: "credit-ds"}); string(b) != `{"Key":"[redacted]","Team":"credit-ds"}` {
		t.Errorf("json = %s", b)
	}
	if b, _ := v.MarshalText(); string(b) != "[redacted]" {
		t.Errorf("MarshalText = %s", b)
	}
	// encoding.TextMarshaler is also what json uses for map keys.
	if b, _ := json.Marshal(map[secret.Value]int{v: 1}); string(b) != `{"[redacted]":1}` {
		t.Errorf("json map key = %s", b)
	}

	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	} {
		var buf bytes.Buffer
		log := slog.New(h.new(&buf))
		log.Info("resolved", "key", v, slog.Any("ptr", &v), slog.Group("g", "key", v),
			"exported", exported{Key: v}, "unexported", unexported{key: v}, "slice", []secret.Value{v})
		log.With("key", v).Error("failed", "err", errors.New("x"))
		check("slog "+h.name, buf.String())
		if !strings.Contains(buf.String(), "[redacted]") {
			t.Errorf("slog %s output lacks [redacted]: %s", h.name, buf.String())
		}
	}
}

func TestValue(t *testing.T) {
	var zero secret.Value
	if zero.Reveal() != "" || !zero.IsZero() || !secret.New("").IsZero() || secret.New("x").IsZero() {
		t.Error("IsZero/Reveal of zero or empty values are wrong")
	}
	a, b := secret.New("fake-a"), secret.New("fake-a")
	if !a.Equal(b) || a.Equal(secret.New("fake-b")) || !zero.Equal(secret.New("")) {
		t.Error("Equal compares wrongly")
	}
	if !cmp.Equal(a, b) || cmp.Equal(a, secret.New("fake-b")) {
		t.Error("cmp.Equal does not use Equal")
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want secret.Ref
		name string
	}{
		{"secret:stakeout/pagerduty/credit-ds", secret.Ref{SecretID: "stakeout/pagerduty/credit-ds"}, "stakeout/pagerduty/credit-ds"},
		{"secret:stakeout/pagerduty#credit-ds", secret.Ref{SecretID: "stakeout/pagerduty", Field: "credit-ds"}, "stakeout/pagerduty#credit-ds"},
		{"secret:a_b+c=d.e@f-g", secret.Ref{SecretID: "a_b+c=d.e@f-g"}, "a_b+c=d.e@f-g"},
		{"secret:x#a#b", secret.Ref{SecretID: "x", Field: "a#b"}, "x#a#b"},
		{
			"secret:arn:aws:secretsmanager:us-east-1:123456789012:secret:stakeout/pagerduty-AbCdEf#credit-ds",
			secret.Ref{SecretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:stakeout/pagerduty-AbCdEf", Field: "credit-ds"},
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:stakeout/pagerduty-AbCdEf#credit-ds",
		},
	} {
		got, err := secret.ParseRef(tc.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.String() != tc.in || got.Name() != tc.name || secret.Name(tc.in) != tc.name || !secret.IsRef(tc.in) {
			t.Errorf("ParseRef(%q): String %q, Name %q, secret.Name %q, IsRef %v", tc.in, got.String(), got.Name(), secret.Name(tc.in), secret.IsRef(tc.in))
		}
	}

	for _, tc := range []struct{ in, want string }{
		{"secret:", "names no secret"},
		{"secret:#field", "names no secret"},
		{"secret:stakeout/pagerduty#", "empty field"},
		{"secret:stakeout pagerduty", `not ' '`},
		{"secret:stakeout:pagerduty", `not ':'`},
		{"secret:x#a b", "field name holds a space"},
	} {
		_, err := secret.ParseRef(tc.in)
		// The reference is not repeated: a key pasted after "secret:"
		// must not reach CI logs.
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.in != "secret:" && strings.Contains(err.Error(), tc.in)) {
			t.Errorf("ParseRef(%q) = %v, want an error containing %q, not repeating the input", tc.in, err, tc.want)
		}
		if errors.Is(err, secret.ErrNotRef) {
			t.Errorf("ParseRef(%q): a malformed reference is reported as no reference", tc.in)
		}
	}

	for _, s := range []string{fakeValue, "", "Secret:x", " secret:x", "SECRET:x"} {
		_, err := secret.ParseRef(s)
		if !errors.Is(err, secret.ErrNotRef) {
			t.Errorf("ParseRef(%q) = %v, want ErrNotRef", s, err)
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("ParseRef(%q): error echoes the input: %v", s, err)
		}
		if secret.IsRef(s) || secret.Name(s) != "" {
			t.Errorf("IsRef(%q) or Name(%q) treat it as a reference", s, s)
		}
	}
}
