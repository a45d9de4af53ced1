package samtemplate

import (
	"fmt"
	"regexp"
	"strings"
)

// Resolver evaluates intrinsics for one set of parameter values: the
// template's defaults overlaid with Params. A reference to a resource or a
// pseudo parameter becomes a placeholder ("<Table>", "<Table.Arn>",
// "<AWS::Region>") — enough to compare a value, not to deploy it.
type Resolver struct {
	t      *Template
	params map[string]any
}

// noValue is what !Ref AWS::NoValue resolves to: the key holding it is
// dropped, as CloudFormation does.
type noValue struct{}

// Resolver returns a resolver with params overriding the defaults (a
// CommaDelimitedList given as a string is split).
func (t *Template) Resolver(params map[string]string) (*Resolver, error) {
	r := &Resolver{t: t, params: map[string]any{}}
	decl, _ := t.Raw["Parameters"].(map[string]any)
	for name, d := range decl {
		dm, _ := d.(map[string]any)
		v, given := params[name]
		if !given {
			def, ok := dm["Default"]
			if !ok {
				return nil, fmt.Errorf("parameter %s has no default and no value", name)
			}
			v = fmt.Sprint(def)
		}
		if dm["Type"] == "CommaDelimitedList" {
			var list []any
			if v != "" {
				for _, s := range strings.Split(v, ",") {
					list = append(list, strings.TrimSpace(s))
				}
			} else {
				list = []any{""} // CloudFormation: "" is a list of one empty string
			}
			r.params[name] = list
		} else {
			r.params[name] = v
		}
	}
	for name := range params {
		if _, ok := r.params[name]; !ok {
			return nil, fmt.Errorf("no parameter %s in the template", name)
		}
	}
	return r, nil
}

// Resolve evaluates every intrinsic in v.
func (r *Resolver) Resolve(v any) (any, error) {
	out, err := r.resolve(v)
	if _, ok := out.(noValue); ok {
		return nil, err
	}
	return out, err
}

func (r *Resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			e, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, ok := e.(noValue); !ok {
				out = append(out, e)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			e, err := r.resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, ok := e.(noValue); !ok {
				out[k] = e
			}
		}
		return out, nil
	}
	return v, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (r *Resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return noValue{}, nil
		}
		if p, ok := r.params[name]; ok {
			return p, nil
		}
		if _, ok := r.t.Resources[name]; ok || strings.HasPrefix(name, "AWS::") {
			return "<" + name + ">", nil
		}
		return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
	case "Fn::GetAtt":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v: want [resource, attribute]", arg)
		}
		if _, ok := r.t.Resources[fmt.Sprint(parts[0])]; !ok {
			return nil, fmt.Errorf("!GetAtt %v.%v: no such resource", parts[0], parts[1])
		}
		return fmt.Sprintf("<%v.%v>", parts[0], parts[1]), nil
	case "Fn::Sub":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub with variables is not supported here")
		}
		var err error
		out := subVar.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			res, attr, dotted := strings.Cut(name, ".")
			var v any
			var e error
			if dotted {
				v, e = r.intrinsic("Fn::GetAtt", []any{res, attr})
			} else {
				v, e = r.intrinsic("Ref", name)
			}
			if e != nil {
				err = e
				return m
			}
			return fmt.Sprint(v)
		})
		return out, err
	case "Fn::Join":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [delimiter, list]")
		}
		list, err := r.resolve(parts[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: %v is not a list", parts[1])
		}
		s := make([]string, len(items))
		for i, it := range items {
			s[i] = fmt.Sprint(it)
		}
		return strings.Join(s, fmt.Sprint(parts[0])), nil
	case "Fn::If":
		parts, _ := arg.([]any)
		if len(parts) != 3 {
			return nil, fmt.Errorf("Fn::If: want [condition, then, else]")
		}
		ok, err := r.Condition(fmt.Sprint(parts[0]))
		if err != nil {
			return nil, err
		}
		if ok {
			return r.resolve(parts[1])
		}
		return r.resolve(parts[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return r.condition(map[string]any{fn: arg})
	}
	return nil, fmt.Errorf("%s is not supported by this resolver", fn)
}

// Condition evaluates a named condition of the template.
func (r *Resolver) Condition(name string) (bool, error) {
	conds, _ := r.t.Raw["Conditions"].(map[string]any)
	c, ok := conds[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return r.condition(c)
}

func (r *Resolver) condition(c any) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v: want one Fn:: function", c)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			return r.Condition(fmt.Sprint(arg))
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals: want two values")
			}
			a, err := r.resolve(args[0])
			if err != nil {
				return false, err
			}
			b, err := r.resolve(args[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not: want one condition")
			}
			v, err := r.condition(args[0])
			return !v, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				v, err := r.condition(a)
				if err != nil {
					return false, err
				}
				if v != and {
					return v, nil
				}
			}
			return and, nil
		}
		return false, fmt.Errorf("%s is not a condition function", fn)
	}
	return false, nil
}
