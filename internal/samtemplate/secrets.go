package samtemplate

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// secretARN is a Secrets Manager ARN as the template's policies resolve
// (placeholders for the partition, region and account).
func secretARN(name string) string {
	return "arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + name
}

// suffix stands for the six characters Secrets Manager appends to a
// secret's name in its ARN.
const suffix = "-AbCdEf"

// CheckSecrets builds a function (start) with the environment the template
// gives it and derives the secrets its code reads from the variables it
// read: the secret each one refers to ("secret:<name>": a grant of
// <name>-??????), and the secrets under each variable of prefixVars it read
// (a grant of <prefix>*). Its role must grant exactly those, and must not
// let it read any other secret the template names — also when a prefix
// parameter is set wide enough to cover them.
func CheckSecrets(t testing.TB, template, function string, prefixVars []string, start func(getenv func(string) string) error) {
	t.Helper()
	tmpl, rec := started(t, template, function, start)
	read := rec.Read()
	for _, params := range overlapping(t, tmpl, function, prefixVars) {
		r, err := tmpl.Resolver(params)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tmpl.RolePolicy(r, function)
		if err != nil {
			t.Fatal(err)
		}
		want, own := readsSecrets(t, tmpl, r, function, read, prefixVars)
		got := slices.Sorted(slices.Values(p.Allow["secretsmanager:GetSecretValue"]))
		if !slices.Equal(got, want) {
			t.Errorf("with %v: %s may read %q; %s reads %q", params, p.Role, got, function, want)
		}
		for _, name := range own {
			if !p.Permits("secretsmanager:GetSecretValue", secretARN(name)) {
				t.Errorf("with %v: %s reads %s; %s does not let it", params, function, name, p.Role)
			}
		}
		for _, name := range otherSecrets(t, tmpl, r, own) {
			if p.Permits("secretsmanager:GetSecretValue", secretARN(name+suffix)) {
				t.Errorf("with %v: %s may read %s, which it never reads", params, p.Role, name)
			}
		}
	}
}

// readsSecrets returns the grants a function's reads need (want) and a
// secret name each grant must let it read (own).
func readsSecrets(t testing.TB, tmpl *Template, r *Resolver, function string, read, prefixVars []string) (want, own []string) {
	env, err := tmpl.EnvironmentWith(r, function)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range read {
		v := env[name]
		switch {
		case slices.Contains(prefixVars, name) && v != "":
			want, own = append(want, secretARN(v+"*")), append(own, v+"any-name"+suffix)
		case strings.HasPrefix(v, "secret:"):
			n := strings.TrimPrefix(v, "secret:")
			want, own = append(want, secretARN(n+"-??????")), append(own, n+suffix)
		}
	}
	slices.Sort(want)
	return want, own
}

// otherSecrets are the secrets the template's functions refer to that are
// none of own.
func otherSecrets(t testing.TB, tmpl *Template, r *Resolver, own []string) []string {
	var out []string
	for _, fn := range tmpl.OfType("AWS::Serverless::Function") {
		env, err := tmpl.EnvironmentWith(r, fn.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range env {
			n, ok := strings.CutPrefix(v, "secret:")
			if ok && !slices.Contains(own, n+suffix) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// overlapping returns the parameter sets to check: the defaults, and each
// prefix variable's parameter set to the first folder of each secret the
// template names (so that the prefix covers it).
func overlapping(t testing.TB, tmpl *Template, function string, prefixVars []string) []map[string]string {
	out := []map[string]string{nil}
	r, err := tmpl.Resolver(nil)
	if err != nil {
		t.Fatal(err)
	}
	env := tmpl.FunctionEnvironment(function)
	for _, v := range prefixVars {
		param, ok := Dig(env[v], "Ref").(string)
		if !ok {
			continue
		}
		folders := map[string]bool{}
		for _, n := range otherSecrets(t, tmpl, r, nil) {
			if i := strings.Index(n, "/"); i > 0 {
				folders[n[:i+1]] = true
			}
		}
		for _, f := range slices.Sorted(maps.Keys(folders)) {
			out = append(out, map[string]string{param: f})
		}
	}
	if len(out) == 1 && len(prefixVars) > 0 {
		t.Logf("%s: no prefix parameter to widen (%v)", function, prefixVars)
	}
	return out
}

// CheckDynamoDB checks that a function's role allows exactly the DynamoDB
// actions its store calls need (actions: see DynamoDBActions), each on the
// table and its indexes only.
func CheckDynamoDB(t testing.TB, template, function string, actions []string) {
	t.Helper()
	tmpl, err := Load(template)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Resolver(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tmpl.RolePolicy(r, function)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Actions("dynamodb"); !slices.Equal(got, actions) {
		t.Errorf("%s allows %v; %s's code needs %v", p.Role, got, function, actions)
	}
	for _, a := range p.Actions("dynamodb") {
		for _, res := range p.Allow[a] {
			if res != "<Table.Arn>" && res != "<Table.Arn>/index/*" {
				t.Errorf("%s allows %s on %s; want stakeout's table and its indexes only", p.Role, a, res)
			}
		}
	}
}
