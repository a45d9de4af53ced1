package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

var schemaLine = regexp.MustCompile(`^# yaml-language-server: \$schema=(\S+)\n`)

func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("../../infra/schema", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jsonschema.NewCompiler().Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

// yamlValue decodes a YAML file into JSON values, as an editor's YAML
// language server does before applying the schema.
func yamlValue(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	v, err := nodeJSON(n.Content[0])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func schemaFor(path string) string {
	switch {
	case strings.HasSuffix(path, "stakes.yaml"):
		return "stakes.schema.json"
	case strings.Contains(path, "owners"):
		return "owners.schema.json"
	}
	return "rules.schema.json"
}

// Every example file names its schema on its first line, so editors check
// it as owners type, and validates against that schema.
func TestExamplesMatchTheirSchemas(t *testing.T) {
	files, _ := filepath.Glob("../../rules/*.yaml")
	owners, _ := filepath.Glob("../../owners/*.yaml")
	files = append(files, owners...)
	if len(files) < 10 {
		t.Fatalf("found %d example files, want the example configuration", len(files))
	}
	schemas := map[string]*jsonschema.Schema{}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			m := schemaLine.FindSubmatch(data)
			if m == nil {
				t.Fatalf("first line is not a yaml-language-server $schema comment")
			}
			name := schemaFor(f)
			if want := "../infra/schema/" + name; string(m[1]) != want {
				t.Errorf("$schema = %s, want %s", m[1], want)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), string(m[1]))); err != nil {
				t.Errorf("$schema path does not resolve from the file: %v", err)
			}
			if schemas[name] == nil {
				schemas[name] = compileSchema(t, name)
			}
			if err := schemas[name].Validate(yamlValue(t, f)); err != nil {
				t.Errorf("does not match %s:\n%v", name, err)
			}
		})
	}
}

// The schemas catch, as the user types, a fair share of what validate
// catches: they must reject these fixtures.
func TestSchemasRejectInvalidFixtures(t *testing.T) {
	for _, tc := range []struct{ fixture, file string }{
		{"unknown-field", "rules/model-a.yaml"},
		{"unknown-severity", "rules/model-a.yaml"},
		{"unknown-stakes", "rules/model-a.yaml"},
		{"unknown-role", "rules/model-a.yaml"},
		{"model-missing-role", "rules/model-a.yaml"},
		{"bad-duration", "rules/model-a.yaml"},
		{"bad-for", "rules/model-a.yaml"},
		{"business-not-number", "rules/model-a.yaml"},
		{"pagerduty-literal-key", "owners/team.yaml"},
		{"slack-channel-name", "owners/team.yaml"},
		{"slack-user-id", "owners/team.yaml"},
		{"unknown-notify-channel", "rules/stakes.yaml"},
		{"stakes-missing-ack-within", "rules/stakes.yaml"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			path := filepath.Join("../../testdata/invalid", tc.fixture, tc.file)
			if err := compileSchema(t, schemaFor(path)).Validate(yamlValue(t, path)); err == nil {
				t.Errorf("%s validates against %s, want it rejected", path, schemaFor(path))
			}
		})
	}
}

func TestEventSchemaAcceptsCapturedEvents(t *testing.T) {
	s := compileSchema(t, "event.schema.json")
	native, _ := filepath.Glob("../../testdata/events/native/*.json")
	envelopes, _ := filepath.Glob("../../testdata/events/envelope/*.json")
	for _, f := range append(native, envelopes...) {
		data, _ := os.ReadFile(f)
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if env, ok := v.(map[string]any); ok && env["detail"] != nil {
			v = env["detail"]
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s does not match event.schema.json: %v", f, err)
		}
	}
	bad, _ := json.Marshal(map[string]any{"model": "m", "kind": "latency", "metric": "p99", "value": 1, "observed_at": "2026-03-01T00:00:00Z"})
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(bad)))
	if s.Validate(v) == nil {
		t.Errorf("event with unknown kind validates, want rejected")
	}
}
