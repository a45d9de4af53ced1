package samtemplate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Policy is what a function's role allows and denies in its inline
// policies, resolved for one set of parameters: action → resources
// (placeholders for references, as Resolve makes them).
type Policy struct {
	Role    string
	Allow   map[string][]string
	Deny    map[string][]string
	Managed bool // the role has managed policies besides its own
	// Conditions holds each allowed action's statement conditions.
	Conditions map[string][]any
}

// RolePolicy resolves the inline policies of the role a function runs as.
func (t *Template) RolePolicy(r *Resolver, function string) (*Policy, error) {
	fn := t.Resources[function]
	if fn == nil {
		return nil, fmt.Errorf("no resource %s", function)
	}
	arn, err := r.Resolve(fn.Properties["Role"])
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(arn), "<"), ".Arn>")
	role := t.Resources[name]
	if role == nil || role.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s's Role %v is not an AWS::IAM::Role of the template", function, fn.Properties["Role"])
	}
	p := &Policy{Role: name, Allow: map[string][]string{}, Deny: map[string][]string{}, Conditions: map[string][]any{}}
	_, p.Managed = role.Properties["ManagedPolicyArns"]
	policies, _ := role.Properties["Policies"].([]any)
	for _, pol := range policies {
		doc, err := r.Resolve(Dig(pol, "PolicyDocument"))
		if err != nil {
			return nil, err
		}
		stmts, _ := Dig(doc, "Statement").([]any)
		for _, s := range stmts {
			sm, _ := s.(map[string]any)
			into := p.Allow
			if sm["Effect"] == "Deny" {
				into = p.Deny
			}
			for _, a := range StringList(sm["Action"]) {
				into[a] = append(into[a], StringList(sm["Resource"])...)
				if c, ok := sm["Condition"]; ok && sm["Effect"] == "Allow" {
					p.Conditions[a] = append(p.Conditions[a], c)
				}
			}
		}
	}
	return p, nil
}

// Permits evaluates the policy as IAM does for one action on one resource
// ARN: an explicit deny wins, else an allow whose resource pattern (with *
// and ?) matches.
func (p *Policy) Permits(action, resource string) bool {
	match := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(pat string) bool { return globMatch(pat, resource) })
	}
	return !match(p.Deny[action]) && match(p.Allow[action])
}

// Actions returns the allowed actions of a service ("dynamodb"), sorted.
func (p *Policy) Actions(service string) []string {
	var out []string
	for a := range p.Allow {
		if strings.HasPrefix(a, service+":") {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// globMatch matches an IAM resource pattern: * any run of characters
// (slashes included), ? any one.
func globMatch(pattern, s string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.NewReplacer(`\*`, `.*`, `\?`, `.`).Replace(re)
	return regexp.MustCompile("^" + re + "$").MatchString(s)
}

// StringList reads a template value that may be one string or a list of
// them, as CloudFormation allows for IAM's Action and Resource and for
// properties such as an alarm's AlarmActions, as a list.
func StringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = fmt.Sprint(e)
		}
		return out
	}
	return nil
}
