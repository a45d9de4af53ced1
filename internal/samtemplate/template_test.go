package samtemplate

import (
	"reflect"
	"strings"
	"testing"
)

const doc = `
Parameters:
  Bus: {Type: String, Default: default}
  Sources: {Type: CommaDelimitedList, Default: ""}
Conditions:
  AnySource: !Equals [!Join ["", !Ref Sources], ""]
Resources:
  Q:
    Type: AWS::SQS::Queue
  R:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      Arn: !GetAtt Q.Arn
      Name: !Sub "${AWS::StackName}-${Bus}-${Q.QueueName}"
      EventPattern:
        source: !If [AnySource, !Ref AWS::NoValue, !Ref Sources]
        detail-type: [x]
`

func TestShortFormsBecomeLongForms(t *testing.T) {
	tmpl, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r := tmpl.Resources["R"]
	if r.Type != "AWS::Events::Rule" || r.Line != 10 {
		t.Errorf("resource R = %s at line %d, want AWS::Events::Rule at 10", r.Type, r.Line)
	}
	for key, want := range map[string]any{
		"EventBusName": map[string]any{"Ref": "Bus"},
		"Arn":          map[string]any{"Fn::GetAtt": []any{"Q", "Arn"}},
		"Name":         map[string]any{"Fn::Sub": "${AWS::StackName}-${Bus}-${Q.QueueName}"},
	} {
		if got := r.Properties[key]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", key, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	tmpl, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   map[string]any
	}{
		{"defaults drop the source filter", nil, map[string]any{"detail-type": []any{"x"}}},
		{"a list parameter fills it", map[string]string{"Sources": "a, b"}, map[string]any{"detail-type": []any{"x"}, "source": []any{"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tmpl.Resolver(tc.params)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Resolve(tmpl.Resources["R"].Properties["EventPattern"])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Resolve = %#v, want %#v", got, tc.want)
			}
		})
	}
	r, _ := tmpl.Resolver(map[string]string{"Bus": "ml"})
	if got, _ := r.Resolve(tmpl.Resources["R"].Properties["Name"]); got != "<AWS::StackName>-ml-<Q.QueueName>" {
		t.Errorf("Resolve(!Sub) = %v", got)
	}
	t.Run("an unknown reference is an error", func(t *testing.T) {
		if _, err := r.Resolve(map[string]any{"Ref": "Nope"}); err == nil || !strings.Contains(err.Error(), "Nope") {
			t.Errorf("Resolve(!Ref Nope) = %v, want an error naming it", err)
		}
		if _, err := tmpl.Resolver(map[string]string{"Nope": "x"}); err == nil {
			t.Error("Resolver with an unknown parameter = nil error")
		}
	})
}

func TestEnvironmentProblems(t *testing.T) {
	rec := RecordEnv(map[string]string{"TABLE_NAME": "t", "STALE": "x", "LOCAL": "y"})
	rec.Getenv("TABLE_NAME")
	rec.Getenv("MISSING")
	rec.Getenv("LOCAL")
	rec.Getenv("OPTIONAL_LOCAL")
	got := rec.EnvironmentProblems("F", []string{"LOCAL", "OPTIONAL_LOCAL"})
	want := []string{"F reads MISSING; template.yaml does not set it",
		"template.yaml sets LOCAL on F; it is for local runs only",
		"template.yaml sets STALE on F; the function never reads it"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvironmentProblems = %q, want %q", got, want)
	}
}
