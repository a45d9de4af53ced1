package samtemplate

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// Environment resolves a function's environment variables (Globals and its
// own) for the template's default parameters, references as placeholders.
func (t *Template) Environment(function string) (map[string]string, error) {
	if _, ok := t.Resources[function]; !ok {
		return nil, fmt.Errorf("no resource %s", function)
	}
	r, err := t.Resolver(nil)
	if err != nil {
		return nil, err
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
	tmpl, err := Load(template)
	if err != nil {
		t.Fatal(err)
	}
	env, err := tmpl.Environment(function)
	if err != nil {
		t.Fatal(err)
	}
	rec := RecordEnv(env)
	if err := start(rec.Getenv); err != nil {
		t.Fatalf("%s with the template's environment: %v", function, err)
	}
	for _, p := range rec.EnvironmentProblems(function, localOnly) {
		t.Error(p)
	}
}
