package samtemplate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Environment resolves a function's environment variables (Globals and its
// own) for the template's default parameters, references as placeholders.
func (t *Template) Environment(function string) (map[string]string, error) {
	r, err := t.Resolver(nil)
	if err != nil {
		return nil, err
	}
	return t.EnvironmentWith(r, function)
}

// EnvironmentWith is Environment for the resolver's parameters.
func (t *Template) EnvironmentWith(r *Resolver, function string) (map[string]string, error) {
	if _, ok := t.Resources[function]; !ok {
		return nil, fmt.Errorf("no resource %s", function)
	}
	out := map[string]string{}
	for k, v := range t.FunctionEnvironment(function) {
		rv, err := r.Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = fmt.Sprint(rv)
	}
	return out, nil
}

// EnvRecorder serves an environment and remembers every name read from it.
type EnvRecorder struct {
	env  map[string]string
	mu   sync.Mutex
	read map[string]bool
}

// RecordEnv returns a recorder serving env.
func RecordEnv(env map[string]string) *EnvRecorder {
	return &EnvRecorder{env: env, read: map[string]bool{}}
}

// Getenv is os.Getenv over the recorded environment.
func (e *EnvRecorder) Getenv(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.read[name] = true
	return e.env[name]
}

// Read returns the names read so far, sorted.
func (e *EnvRecorder) Read() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.read))
}

// EnvironmentProblems compares what a function read (recorded while it was
// built) with what the template sets for it: a variable the code reads that
// the template does not set, one the template sets that the code never
// reads (stale), and a local-only variable set in the template.
func (e *EnvRecorder) EnvironmentProblems(function string, localOnly []string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for name := range e.read {
		if _, set := e.env[name]; !set && !slices.Contains(localOnly, name) {
			out = append(out, fmt.Sprintf("%s reads %s; template.yaml does not set it", function, name))
		}
	}
	for name := range e.env {
		if slices.Contains(localOnly, name) {
			out = append(out, fmt.Sprintf("template.yaml sets %s on %s; it is for local runs only", name, function))
		} else if !e.read[name] {
			out = append(out, fmt.Sprintf("template.yaml sets %s on %s; the function never reads it", name, function))
		}
	}
	slices.Sort(out)
	return out
}

// CheckEnvironment builds a function (start, e.g. its newHandler) with the
// environment template.yaml gives the function, and reports as test
// errors every variable it reads that the template does not set and every
// one the template sets that it never reads.
func CheckEnvironment(t testing.TB, template, function string, localOnly []string, start func(getenv func(string) string) error) {
	t.Helper()
	_, rec := started(t, template, function, start)
	for _, p := range rec.EnvironmentProblems(function, localOnly) {
		t.Error(p)
	}
}

// exampleARNs are ARNs of the shape CloudFormation fills in for a
// resource's Arn, by resource type, where the code checks the shape (an
// example account, not a real one).
var exampleARNs = map[string]string{
	"AWS::KMS::Key": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}

// fillARNs replaces the placeholders "<Resource.Arn>" of those types.
func fillARNs(tmpl *Template, env map[string]string) {
	for k, v := range env {
		name, ok := strings.CutSuffix(strings.TrimPrefix(v, "<"), ".Arn>")
		if r := tmpl.Resources[name]; ok && r != nil && exampleARNs[r.Type] != "" {
			env[k] = exampleARNs[r.Type]
		}
	}
}

// started builds a function (start) with the environment the template
// gives it, recording what it reads.
func started(t testing.TB, template, function string, start func(getenv func(string) string) error) (*Template, *EnvRecorder) {
	t.Helper()
	tmpl, err := Load(template)
	if err != nil {
		t.Fatal(err)
	}
	env, err := tmpl.Environment(function)
	if err != nil {
		t.Fatal(err)
	}
	fillARNs(tmpl, env)
	rec := RecordEnv(env)
	if err := start(rec.Getenv); err != nil {
		t.Fatalf("%s with the template's environment: %v", function, err)
	}
	return tmpl, rec
}
