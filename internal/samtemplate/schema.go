package samtemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Intrinsics are the functions whose value CloudFormation computes at
// deploy time: where a schema expects a value, an object with one of them
// as its only key stands for any value.
var Intrinsics = []string{"Ref", "Condition", "Fn::Base64", "Fn::Cidr", "Fn::FindInMap", "Fn::GetAZs", "Fn::GetAtt",
	"Fn::If", "Fn::ImportValue", "Fn::Join", "Fn::Length", "Fn::Select", "Fn::Split", "Fn::Sub", "Fn::ToJsonString",
	"Fn::Transform", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"}

// Schemas validates resources against AWS's published schemas: SAM's for
// AWS::Serverless::* (and Globals), the CloudFormation provider schemas for
// the rest.
type Schemas struct {
	dir      string
	compiled map[string]*jsonschema.Schema
}

// NewSchemas reads schemas from dir (which holds sam/sam.schema.json and
// cloudformation/aws-*.json).
func NewSchemas(dir string) (*Schemas, error) {
	if _, err := os.Stat(filepath.Join(dir, "sam", "sam.schema.json")); err != nil {
		return nil, fmt.Errorf("no SAM schema under %s: %w", dir, err)
	}
	return &Schemas{dir: dir, compiled: map[string]*jsonschema.Schema{}}, nil
}

// ErrNoSchema is returned for a resource type with no published schema here.
var ErrNoSchema = errors.New("no published schema for this type")

// Validate checks one resource's Properties (for AWS::Serverless::*, the
// whole resource) against its type's schema.
func (s *Schemas) Validate(r *Resource) error {
	var file, ref string
	var inst any = r.Properties
	switch {
	case strings.HasPrefix(r.Type, "AWS::Serverless::"):
		kind := strings.ToLower(strings.TrimPrefix(r.Type, "AWS::Serverless::"))
		file, ref = "sam/sam.schema.json", "#/definitions/samtranslator__internal__schema_source__aws_serverless_"+kind+"__Resource"
		whole := map[string]any{"Type": r.Type}
		if r.Properties != nil {
			whole["Properties"] = r.Properties
		}
		if r.Metadata != nil {
			whole["Metadata"] = r.Metadata
		}
		if r.Condition != "" {
			whole["Condition"] = r.Condition
		}
		inst = whole
	default:
		file = "cloudformation/" + strings.ToLower(strings.ReplaceAll(r.Type, "::", "-")) + ".json"
		if r.Properties == nil {
			inst = map[string]any{} // no Properties: required ones are missing
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, file)); err != nil {
		return ErrNoSchema
	}
	sch, err := s.schema(file, ref)
	if err != nil {
		return err
	}
	return validate(sch, inst)
}

// ValidateGlobals checks the template's Globals section against SAM's schema.
func (s *Schemas) ValidateGlobals(t *Template) error {
	g, ok := t.Raw["Globals"]
	if !ok {
		return nil
	}
	sch, err := s.schema("sam/sam.schema.json", "#/definitions/__main____Globals")
	if err != nil {
		return err
	}
	return validate(sch, g)
}

func validate(sch *jsonschema.Schema, v any) error {
	// The validator wants values as encoding/json produces them.
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func (s *Schemas) schema(file, ref string) (*jsonschema.Schema, error) {
	key := file + ref
	if sch, ok := s.compiled[key]; ok {
		return sch, nil
	}
	path := filepath.Join(s.dir, file)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a schema object", path)
	}
	if !strings.HasPrefix(file, "sam/") {
		// Provider schemas carry CloudFormation's own keywords and a
		// meta-schema URL the validator does not know; what matters
		// is their JSON Schema part.
		delete(m, "$schema")
		delete(m, "$id")
	}
	AcceptIntrinsics(m)
	defs, _ := m["definitions"].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
		m["definitions"] = defs
	}
	defs["__intrinsic"] = intrinsicSchema()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseRegexpEngine(ecmaRegexp)
	url := "file:///" + filepath.ToSlash(file)
	if err := c.AddResource(url, m); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	sch, err := c.Compile(url + ref)
	if err != nil {
		return nil, fmt.Errorf("compile %s%s: %w", path, ref, err)
	}
	s.compiled[key] = sch
	return sch, nil
}

// The published schemas' patterns are written for JavaScript and Python
// (lookaheads, \Z, \uXXXX), which Go's regexp refuses; regexp2 reads them.
func ecmaRegexp(s string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(s, regexp2.None)
	if err != nil {
		// JavaScript's identity escapes (\_) are refused in .NET syntax.
		re, err = regexp2.Compile(s, regexp2.ECMAScript)
		if err != nil {
			return nil, err
		}
	}
	return pattern{re}, nil
}

type pattern struct{ re *regexp2.Regexp }

func (p pattern) MatchString(s string) bool {
	ok, err := p.re.MatchString(s)
	return ok && err == nil
}

func (p pattern) String() string { return p.re.String() }

func intrinsicSchema() map[string]any {
	pat := "^(" + strings.Join(Intrinsics, "|") + ")$"
	return map[string]any{
		"type": "object", "minProperties": 1, "maxProperties": 1,
		"patternProperties": map[string]any{pat: map[string]any{}}, "additionalProperties": false,
	}
}

// AcceptIntrinsics rewrites a schema in place so that, at every place a
// value goes (a property, additional or pattern properties, array items),
// an intrinsic function is accepted as well as what the schema wants.
// Wrapping value positions rather than every subschema keeps oneOf
// alternatives exclusive.
func AcceptIntrinsics(s map[string]any) {
	wrap := func(sub any) any {
		m, ok := sub.(map[string]any)
		if !ok {
			return sub
		}
		AcceptIntrinsics(m)
		return map[string]any{"anyOf": []any{m, map[string]any{"$ref": "#/definitions/__intrinsic"}}}
	}
	for _, key := range []string{"properties", "patternProperties"} {
		if props, ok := s[key].(map[string]any); ok {
			for k, v := range props {
				props[k] = wrap(v)
			}
		}
	}
	for _, key := range []string{"additionalProperties", "items", "additionalItems"} {
		switch v := s[key].(type) {
		case map[string]any:
			s[key] = wrap(v)
		case []any:
			for i := range v {
				v[i] = wrap(v[i])
			}
		}
	}
	if defs, ok := s["definitions"].(map[string]any); ok {
		for _, d := range defs {
			if m, ok := d.(map[string]any); ok {
				AcceptIntrinsics(m)
			}
		}
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if list, ok := s[key].([]any); ok {
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					AcceptIntrinsics(m)
				}
			}
		}
	}
	for _, key := range []string{"not", "then", "else", "if"} {
		if m, ok := s[key].(map[string]any); ok {
			AcceptIntrinsics(m)
		}
	}
}
