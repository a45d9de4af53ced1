// Package samtemplate reads stakeout's SAM template (template.yaml) the way
// CloudFormation does — short-form intrinsics (!Ref, !GetAtt, !Sub, …)
// turned into their long form — so that tests can check it offline: against
// AWS's published resource schemas, against the environment variables and
// AWS APIs the code uses, and against the events the router must receive.
// Resolve evaluates the intrinsics those checks need for given parameter
// values; it is a subset of CloudFormation, not a deployer.
package samtemplate

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a decoded template: values are JSON-like (map[string]any,
// []any, string, float64/int, bool, nil) with intrinsics in long form.
type Template struct {
	Path      string
	Raw       map[string]any
	Resources map[string]*Resource
}

// Resource is one entry of Resources.
type Resource struct {
	Name       string
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	Condition  string
	Line       int // in the template file, for messages
}

// Load reads and decodes the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse decodes a template.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a template: the document is not a mapping")
	}
	v, err := value(doc.Content[0])
	if err != nil {
		return nil, err
	}
	t := &Template{Raw: v.(map[string]any), Resources: map[string]*Resource{}}
	res := mapping(doc.Content[0], "Resources")
	if res == nil {
		return nil, fmt.Errorf("no Resources")
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		name, body := res.Content[i].Value, res.Content[i+1]
		bv, err := value(body)
		if err != nil {
			return nil, fmt.Errorf("line %d: resource %s: %w", body.Line, name, err)
		}
		m, ok := bv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("line %d: resource %s is not a mapping", body.Line, name)
		}
		r := &Resource{Name: name, Line: res.Content[i].Line}
		r.Type, _ = m["Type"].(string)
		r.Properties, _ = m["Properties"].(map[string]any)
		r.Metadata, _ = m["Metadata"].(map[string]any)
		r.Condition, _ = m["Condition"].(string)
		if r.Type == "" {
			return nil, fmt.Errorf("line %d: resource %s has no Type", r.Line, name)
		}
		t.Resources[name] = r
	}
	return t, nil
}

// OfType returns the resources of a type, sorted by name.
func (t *Template) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range t.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Resource) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FunctionEnvironment is the environment of a function: the Globals'
// variables overlaid with its own, values unresolved.
func (t *Template) FunctionEnvironment(name string) map[string]any {
	env := map[string]any{}
	if g, ok := dig(t.Raw, "Globals", "Function", "Environment", "Variables").(map[string]any); ok {
		for k, v := range g {
			env[k] = v
		}
	}
	if r := t.Resources[name]; r != nil {
		if own, ok := dig(r.Properties, "Environment", "Variables").(map[string]any); ok {
			for k, v := range own {
				env[k] = v
			}
		}
	}
	return env
}

// Dig follows keys through nested mappings; nil when one is missing.
func Dig(v any, keys ...string) any { return dig(v, keys...) }

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mapping(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// value converts a node to a JSON-like value, short-form intrinsics to long
// form (!GetAtt a.b → {"Fn::GetAtt": ["a", "b"]}).
func value(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return value(n.Alias)
	}
	tag := n.Tag
	if strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		inner := *n
		inner.Tag = ""
		switch n.Kind {
		case yaml.ScalarNode:
			inner.Tag = "!!str"
		case yaml.SequenceNode:
			inner.Tag = "!!seq"
		case yaml.MappingNode:
			inner.Tag = "!!map"
		}
		v, err := value(&inner)
		if err != nil {
			return nil, err
		}
		name := tag[1:]
		switch name {
		case "Ref", "Condition":
		case "GetAtt":
			if s, ok := v.(string); ok {
				res, attr, found := strings.Cut(s, ".")
				if !found {
					return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
				}
				v = []any{res, attr}
			}
			name = "Fn::GetAtt"
		default:
			name = "Fn::" + name
		}
		return map[string]any{name: v}, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return value(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := value(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := value(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	}
	switch n.Tag {
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return i, nil
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return f, nil
	case "!!bool":
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
	case "!!null":
		return nil, nil
	}
	return n.Value, nil
}
