package stakeout

// Offline proof of template.yaml: we cannot reach AWS from CI, so the
// template is checked against AWS's own published schemas (../shared/schemas),
// against what the code needs (variables, APIs, secrets, table layout), and
// against the events the router must and must not receive.

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stakeout-ml/stakeout/internal/awssecret"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/config/configtest"
	"github.com/stakeout-ml/stakeout/internal/eventpattern"
	"github.com/stakeout-ml/stakeout/internal/kmsmac"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/samtemplate"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
)

var update = flag.Bool("update", false, "rewrite the event schemas embedded in template.yaml from infra/schema")

const schemasDir = "../shared/schemas"

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tmpl, err := samtemplate.Load("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func resolver(t *testing.T, tmpl *samtemplate.Template, params map[string]string) *samtemplate.Resolver {
	t.Helper()
	r, err := tmpl.Resolver(params)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTemplateMatchesPublishedSchemas(t *testing.T) {
	tmpl := loadTemplate(t)
	schemas, err := samtemplate.NewSchemas(schemasDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.ValidateGlobals(tmpl); err != nil {
		t.Errorf("Globals: %v", err)
	}
	var unchecked []string
	for _, name := range slices.Sorted(maps.Keys(tmpl.Resources)) {
		r := tmpl.Resources[name]
		err := schemas.Validate(r)
		switch {
		case errors.Is(err, samtemplate.ErrNoSchema):
			unchecked = append(unchecked, name+" ("+r.Type+")")
		case err != nil:
			t.Errorf("template.yaml:%d: %s (%s): %v", r.Line, name, r.Type, err)
		}
	}
	if len(unchecked) > 0 {
		t.Logf("no published schema in %s, not checked: %s", schemasDir, strings.Join(unchecked, ", "))
	}
}

// The schema check must be able to fail: a misspelt property, a wrong type
// and a missing required property are each caught.
func TestSchemaCheckCatchesMistakes(t *testing.T) {
	schemas, err := samtemplate.NewSchemas(schemasDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml string }{
		{"misspelt property", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      MessageRetention: 60\n"},
		{"wrong type", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: PK, KeyType: HASH}]\n      PointInTimeRecoverySpecification: yes please\n"},
		{"no properties at all", "Resources:\n  P:\n    Type: AWS::Lambda::Permission\n"},
		{"missing required", "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      Targets: [{Id: x}]\n"},
		{"unknown SAM property", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: bootstrap\n      Runtime: provided.al2023\n      CodeUri: .\n      Memory: 128\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := samtemplate.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tmpl.Resources {
				if err := schemas.Validate(r); err == nil {
					t.Errorf("Validate(%s) = nil, want an error", tc.name)
				}
			}
		})
	}
	t.Run("intrinsics stand for values", func(t *testing.T) {
		tmpl, err := samtemplate.Parse([]byte("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      MessageRetentionPeriod: !Ref Retention\n      QueueName: !Sub \"${AWS::StackName}-q\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.Validate(tmpl.Resources["Q"]); err != nil {
			t.Errorf("Validate = %v, want nil", err)
		}
	})
}

var functionsDir = map[string]string{
	"RouterFunction": "router", "EscalatorFunction": "escalator", "SlackFunction": "slack", "PagerDutyFunction": "pagerduty",
}

// Every function is a provided.al2023 arm64 bootstrap built by the
// Makefile target sam build calls; the target produces a static linux/arm64
// executable with lambda.norpc from the right main package.
func TestTemplateFunctionsBuild(t *testing.T) {
	tmpl := loadTemplate(t)
	fns := tmpl.OfType("AWS::Serverless::Function")
	if len(fns) != len(functionsDir) {
		t.Errorf("template has %d functions, want %d (one per folder in functions/)", len(fns), len(functionsDir))
	}
	dirs, _ := filepath.Glob("functions/*")
	for _, d := range dirs {
		if !slices.Contains(slices.Collect(maps.Values(functionsDir)), filepath.Base(d)) {
			t.Errorf("%s has no function in template.yaml", d)
		}
	}
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		t.Run(fn.Name, func(t *testing.T) {
			get := func(key string) any {
				if v, ok := fn.Properties[key]; ok {
					return v
				}
				return samtemplate.Dig(tmpl.Raw, "Globals", "Function", key)
			}
			if get("Runtime") != "provided.al2023" || get("Handler") != "bootstrap" || !reflect.DeepEqual(get("Architectures"), []any{"arm64"}) {
				t.Errorf("runtime %v, handler %v, architectures %v; want provided.al2023, bootstrap, [arm64]", get("Runtime"), get("Handler"), get("Architectures"))
			}
			if fn.Metadata["BuildMethod"] != "makefile" {
				t.Errorf("Metadata.BuildMethod = %v, want makefile", fn.Metadata["BuildMethod"])
			}
			codeURI, _ := get("CodeUri").(string)
			if _, err := os.Stat(filepath.Join(codeURI, "Makefile")); err != nil {
				t.Errorf("CodeUri %q holds no Makefile: %v", codeURI, err)
			}
			target := "build-" + fn.Name
			if !regexp.MustCompile(`(?m)^` + target + `:`).Match(makefile) {
				t.Fatalf("Makefile has no target %s", target)
			}
			if testing.Short() {
				t.Skip("building the arm64 artifact is skipped in -short mode")
			}
			out := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "-C", codeURI, target, "ARTIFACTS_DIR="+out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make %s: %v\n%s", target, err, b)
			}
			bin := filepath.Join(out, "bootstrap")
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("%s: %v", bin, err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 {
				t.Errorf("bootstrap machine = %v, want EM_AARCH64", f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("bootstrap is dynamically linked, want static")
				}
			}
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if want := "github.com/stakeout-ml/stakeout/functions/" + functionsDir[fn.Name]; info.Path != want {
				t.Errorf("bootstrap main package = %s, want %s", info.Path, want)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["-tags"] != "lambda.norpc" || settings["GOOS"] != "linux" || settings["GOARCH"] != "arm64" || settings["CGO_ENABLED"] != "0" {
				t.Errorf("build settings %v; want -tags=lambda.norpc, linux/arm64, CGO_ENABLED=0", settings)
			}
			// The commit's configuration is inside: its files' content.
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			rules, _ := Config.ReadFile("rules/credit-approval.yaml")
			if !bytes.Contains(data, rules) {
				t.Error("bootstrap does not embed rules/credit-approval.yaml")
			}
			// The router routes with the compact form written beside it
			// (config.WriteCompact); the others load the embedded whole.
			_, err = config.LoadCompact(filepath.Join(out, config.CompactDir))
			if fn.Name == "RouterFunction" && err != nil {
				t.Errorf("the router's artifact has no compact configuration: %v", err)
			}
			if fn.Name != "RouterFunction" && err == nil {
				t.Errorf("%s's artifact has a compact configuration it would not read", fn.Name)
			}
		})
	}
}

// A broken rule in a model no event has used yet fails the router's
// build, saying where, rather than the Lambda at that model's first
// event: the build validates the configuration before it writes its
// compact form and the bootstrap.
func TestRouterBuildFailsOnABrokenRuleOfAModelNotYetUsed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make build-RouterFunction")
	}
	fsys := configtest.Generate(20, 10)
	f := fsys["rules/model-17.yaml"]
	f.Data = bytes.Replace(f.Data, []byte("value > 0.25"), []byte("value > nosuchname"), 1)
	dir := configtest.Write(t, fsys)
	out := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "build-RouterFunction", "ARTIFACTS_DIR="+out, "STAKEOUT_CONFIG="+dir)
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make build-RouterFunction with a broken rule in model-17 succeeded, want it to fail:\n%s", b)
	}
	if want := filepath.Join(dir, "rules", "model-17.yaml") + ":"; !strings.Contains(string(b), want) {
		t.Errorf("the build's output does not name %sLINE:COL:\n%s", want, b)
	}
	for _, name := range []string{"bootstrap", config.CompactDir} {
		if _, err := os.Stat(filepath.Join(out, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was written (%v), want nothing to deploy", name, err)
		}
	}
}

// apiCalls lists the AWS SDK calls the code declares (the narrow API
// interfaces of the packages that call AWS) that every function makes:
// lifecycle events, secrets, and the audit key's MACs. The DynamoDB calls
// differ by function: functions/*/template_test.go check them.
func apiCalls() []string {
	var calls []string
	for prefix, typ := range map[string]reflect.Type{
		"events":         reflect.TypeFor[bus.API](),
		"secretsmanager": reflect.TypeFor[awssecret.SecretsManagerAPI](),
		"kms":            reflect.TypeFor[kmsmac.API](),
	} {
		for i := range typ.NumMethod() {
			calls = append(calls, prefix+":"+typ.Method(i).Name)
		}
	}
	slices.Sort(calls)
	return calls
}

// Every function builds the bus client, the secret resolver and the
// signing store (internal/setup), so each role must allow every call those
// make — and only on stakeout's own table, bus, secrets and audit key.
func TestRolesAllowWhatTheCodeCalls(t *testing.T) {
	tmpl := loadTemplate(t)
	r := resolver(t, tmpl, nil)
	calls := apiCalls()
	if len(calls) < 3 {
		t.Fatalf("found only %v in the API interfaces", calls)
	}
	scope := map[string]string{"dynamodb": "<Table.Arn>", "events": ":event-bus/default", "secretsmanager": ":secret:stakeout/",
		"kms": "<AuditKey.Arn>", "logs": "LogGroup.Arn>", "sqs": "<RouterDeadLetterQueue.Arn>"}
	for _, fn := range tmpl.OfType("AWS::Serverless::Function") {
		t.Run(fn.Name, func(t *testing.T) {
			p, err := tmpl.RolePolicy(r, fn.Name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Managed {
				t.Error("role has managed policies; least privilege wants its own statements only")
			}
			for _, call := range calls {
				if _, ok := p.Allow[call]; !ok {
					t.Errorf("the code calls %s; %s does not allow it", call, p.Role)
				}
			}
			for a, res := range p.Allow {
				want, known := scope[strings.Split(a, ":")[0]]
				if strings.Contains(a, "*") || !known {
					t.Errorf("%s allows %s: wildcards and services the code does not call are not least privilege", p.Role, a)
				}
				for _, r := range res {
					if !strings.Contains(r, want) {
						t.Errorf("%s allowed on %s, want only resources of stakeout (%s)", a, r, want)
					}
				}
			}
			logGroup := fmt.Sprint(samtemplate.Dig(fn.Properties, "LoggingConfig", "LogGroup", "Ref"))
			for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
				if got := p.Allow[a]; !slices.Equal(got, []string{"<" + logGroup + ".Arn>"}) {
					t.Errorf("%s allowed on %v, want the function's log group %s", a, got, logGroup)
				}
			}
			// Lambda sends the router's failed events to its on-failure
			// destination with the function's role.
			for _, cfg := range tmpl.OfType("AWS::Lambda::EventInvokeConfig") {
				if samtemplate.Dig(cfg.Properties, "FunctionName", "Ref") != fn.Name {
					continue
				}
				if dest := samtemplate.Dig(cfg.Properties, "DestinationConfig", "OnFailure", "Destination"); dest != nil {
					d, _ := r.Resolve(dest)
					if !slices.Contains(p.Allow["sqs:SendMessage"], fmt.Sprint(d)) {
						t.Errorf("%s's failures go to %v; its role may not send there", fn.Name, d)
					}
				}
			}
		})
	}
}

// Every routing key an owner file names must be readable under the
// template's prefix, or that owner's pages fail at 3 a.m.
func TestRoutingKeySecretsAreGranted(t *testing.T) {
	tmpl := loadTemplate(t)
	prefix := fmt.Sprint(samtemplate.Dig(tmpl.Raw, "Parameters", "PagerDutyRoutingKeyPrefix", "Default"))
	cfg, err := config.LoadFS(Config, ".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for id, o := range cfg.Owners {
		if o.PagerDuty.RoutingKey == "" {
			continue
		}
		n++
		name := strings.TrimPrefix(o.PagerDuty.RoutingKey, "secret:")
		if !strings.HasPrefix(name, prefix) {
			t.Errorf("owners/%s.yaml: routing_key %s is outside PagerDutyRoutingKeyPrefix %s: the functions may not read it", id, o.PagerDuty.RoutingKey, prefix)
		}
	}
	if n == 0 {
		t.Error("no owner has a PagerDuty routing key; the check checked nothing")
	}
}

func rulePattern(t *testing.T, tmpl *samtemplate.Template, r *samtemplate.Resolver, rule string) *eventpattern.Pattern {
	t.Helper()
	v, err := r.Resolve(tmpl.Resources[rule].Properties["EventPattern"])
	if err != nil {
		t.Fatal(err)
	}
	p, err := eventpattern.FromValue(v)
	if err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	return p
}

func events(t *testing.T, glob string) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatalf("no events %s", glob)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// The router receives every captured event of the shapes it reads, and
// nothing else — in particular not stakeout's own lifecycle events, which
// go to the same bus.
func TestRouterRulesMatchTheEvents(t *testing.T) {
	tmpl := loadTemplate(t)
	native := events(t, "testdata/events/envelope/*.json")
	alarms := events(t, "testdata/events/cloudwatch/*.json")
	// Composite and multi-time-series alarms, and their contributors.
	maps.Copy(alarms, events(t, "testdata/events/cloudwatch-co*/*.json"))
	aws := events(t, "testdata/events/aws/cloudwatch-*.json") // AWS's own samples, alarms not named fraud-detection-*
	lifecycle := map[string][]byte{}
	for _, dt := range []string{bus.AlertOpened, bus.AlertAcknowledged, bus.AlertResolved, bus.RetrainRequested} {
		lifecycle["lifecycle "+dt] = fmt.Appendf(nil, `{"source":%q,"detail-type":%q,"detail":{"model":"credit-approval"}}`, bus.Source, dt)
	}
	check := func(t *testing.T, p *eventpattern.Pattern, evs map[string][]byte, want bool) {
		t.Helper()
		for name, ev := range evs {
			got, err := p.Match(ev)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got != want {
				t.Errorf("Match(%s) = %v, want %v", name, got, want)
			}
		}
	}
	t.Run("defaults take every source and every alarm", func(t *testing.T) {
		r := resolver(t, tmpl, nil)
		sig, alarm := rulePattern(t, tmpl, r, "SignalRule"), rulePattern(t, tmpl, r, "AlarmRule")
		check(t, sig, native, true)
		check(t, sig, alarms, false)
		check(t, sig, lifecycle, false)
		check(t, alarm, alarms, true)
		check(t, alarm, aws, true)
		check(t, sig, aws, false)
		check(t, alarm, native, false)
		check(t, alarm, lifecycle, false)
	})
	t.Run("SignalSources narrows the sources", func(t *testing.T) {
		r := resolver(t, tmpl, map[string]string{"SignalSources": "com.example.monitoring,com.example.feature-store"})
		check(t, rulePattern(t, tmpl, r, "SignalRule"), native, true)
		r = resolver(t, tmpl, map[string]string{"SignalSources": "com.example.other"})
		check(t, rulePattern(t, tmpl, r, "SignalRule"), native, false)
	})
	t.Run("AlarmNamePrefix narrows the alarms", func(t *testing.T) {
		r := resolver(t, tmpl, map[string]string{"AlarmNamePrefix": "fraud-detection-"})
		check(t, rulePattern(t, tmpl, r, "AlarmRule"), alarms, true)
		check(t, rulePattern(t, tmpl, r, "AlarmRule"), aws, false)
		r = resolver(t, tmpl, map[string]string{"AlarmNamePrefix": "billing-"})
		check(t, rulePattern(t, tmpl, r, "AlarmRule"), alarms, false)
	})
	t.Run("each target retries and dead-letters", func(t *testing.T) {
		r := resolver(t, tmpl, nil)
		for _, rule := range tmpl.OfType("AWS::Events::Rule") {
			targets, _ := rule.Properties["Targets"].([]any)
			for _, tg := range targets {
				v, err := r.Resolve(tg)
				if err != nil {
					t.Fatal(err)
				}
				if samtemplate.Dig(v, "Arn") != "<RouterFunction.Arn>" || samtemplate.Dig(v, "RetryPolicy", "MaximumRetryAttempts") == nil ||
					samtemplate.Dig(v, "DeadLetterConfig", "Arn") != "<RouterDeadLetterQueue.Arn>" {
					t.Errorf("%s target %v: want the router, a retry policy and the dead-letter queue", rule.Name, v)
				}
			}
		}
	})
}

// registered is one schema of the template's registry: its resource, the
// file under infra/schema its detail is, the event's detail-type, and the
// captured events it must accept.
type registered struct {
	resource, file, detailType, description string
	samples                                 []string
}

var registry = []registered{
	{"SignalSchema", "infra/schema/event.schema.json", "ML Model Signal",
		"A stakeout native event on EventBridge; detail is infra/schema/event.schema.json.",
		[]string{"testdata/events/envelope/*.json"}},
	{"ContributorAlarmSchema", "infra/schema/cloudwatch-alarm-contributor.schema.json", signal.AlarmContributorDetailType,
		"A multi-time-series CloudWatch alarm's contributor event; detail is infra/schema/cloudwatch-alarm-contributor.schema.json.",
		[]string{"testdata/events/aws/cloudwatch-contributor-*.json", "testdata/events/cloudwatch-contributor/*-contributor-*.json"}},
	{"CompositeAlarmSchema", "infra/schema/cloudwatch-composite-alarm.schema.json", signal.AlarmDetailType,
		"A composite CloudWatch alarm's state change; detail is infra/schema/cloudwatch-composite-alarm.schema.json.",
		[]string{"testdata/events/aws/cloudwatch-composite-*.json", "testdata/events/cloudwatch-composite/*.json"}},
	{"ProcessingJobSchema", "infra/schema/sagemaker-processing-job.schema.json", signal.ProcessingJobDetailType,
		"A SageMaker processing job's (a Model Monitor execution's) state change; detail is infra/schema/sagemaker-processing-job.schema.json.",
		[]string{"testdata/events/aws/sagemaker-processing-job-*.json", "testdata/events/aws/sagemaker-model-monitor-*.json"}},
	{"ModelPackageSchema", "infra/schema/sagemaker-model-package.schema.json", signal.ModelPackageDetailType,
		"A SageMaker Model Registry package's state change (the version timeline); detail is infra/schema/sagemaker-model-package.schema.json.",
		[]string{"testdata/events/aws/sagemaker-model-package-*.json"}},
	{"VersionDeployedSchema", "infra/schema/version-deployed.schema.json", signal.VersionDeployedDetailType,
		"A model version gone live (the version timeline); detail is infra/schema/version-deployed.schema.json.",
		[]string{"testdata/events/versions/*.json"}},
	{"DataQualitySchema", "infra/schema/glue-data-quality.schema.json", signal.DataQualityDetailType,
		"AWS Glue Data Quality's results; detail is infra/schema/glue-data-quality.schema.json.",
		[]string{"testdata/events/aws/glue-dq-*.json"}},
	{"ExecutionSchema", "infra/schema/stepfunctions-execution.schema.json", signal.ExecutionDetailType,
		"A Step Functions execution's status change; detail is infra/schema/stepfunctions-execution.schema.json.",
		[]string{"testdata/events/aws/stepfunctions-*.json"}},
}

// registrySchema is the schema registered for reg: the whole event in
// draft-04 (the registry's JSON Schema dialect), its detail being reg.file.
func registrySchema(t *testing.T, reg registered) map[string]any {
	t.Helper()
	b, err := os.ReadFile(reg.file)
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	if err := json.Unmarshal(b, &detail); err != nil {
		t.Fatal(err)
	}
	defs, _ := detail["definitions"].(map[string]any)
	delete(detail, "definitions")
	delete(detail, "$schema")
	delete(detail, "$id")
	if defs == nil {
		defs = map[string]any{}
	}
	defs["Detail"] = detail
	str := map[string]any{"type": "string"}
	return map[string]any{
		"$schema":     "http://json-schema.org/draft-04/schema#",
		"title":       reg.detailType,
		"description": reg.description,
		"type":        "object",
		"required":    []any{"detail-type", "source", "detail"},
		"properties": map[string]any{
			"version": str, "id": str, "source": str, "account": str, "region": str,
			"detail-type": map[string]any{"type": "string", "enum": []any{reg.detailType}},
			"time":        map[string]any{"type": "string", "format": "date-time"},
			"resources":   map[string]any{"type": "array", "items": str},
			"detail":      map[string]any{"$ref": "#/definitions/Detail"},
		},
		"definitions": defs,
	}
}

// contentBlock is the Content of one resource's schema in template.yaml.
func contentBlock(resource string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)(\n  ` + resource + `:\n.*?      Content: \|\n)(.*?)(\n\n)`)
}

func TestSchemaRegistryHoldsTheEventSchema(t *testing.T) {
	for _, reg := range registry {
		t.Run(reg.resource, func(t *testing.T) { checkRegistered(t, reg) })
	}
}

// checkRegistered checks that reg's resource holds its schema (rewriting
// it with -update) and that its samples validate against it.
func checkRegistered(t *testing.T, reg registered) {
	t.Helper()
	tmpl := loadTemplate(t)
	want := registrySchema(t, reg)
	if *update {
		b, _ := json.MarshalIndent(want, "", "  ")
		src, err := os.ReadFile("template.yaml")
		if err != nil {
			t.Fatal(err)
		}
		indented := "        " + strings.ReplaceAll(string(b), "\n", "\n        ")
		src = contentBlock(reg.resource).ReplaceAll(src, []byte("${1}"+strings.ReplaceAll(indented, "$", "$$")+"${3}"))
		if err := os.WriteFile("template.yaml", src, 0o644); err != nil {
			t.Fatal(err)
		}
		tmpl = loadTemplate(t)
	}
	content, _ := tmpl.Resources[reg.resource].Properties["Content"].(string)
	var got map[string]any
	if err := json.Unmarshal([]byte(content), &got); err != nil {
		t.Fatalf("%s Content is not JSON: %v", reg.resource, err)
	}
	if !reflect.DeepEqual(jsonRoundTrip(t, want), got) {
		t.Fatalf("%s Content differs from %s; run go test -run TestSchemaRegistry -update . to rewrite it", reg.resource, reg.file)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("registry.json", jsonRoundTrip(t, want)); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("registry.json")
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string][]byte{}
	for _, glob := range reg.samples {
		maps.Copy(samples, events(t, glob))
	}
	for name, ev := range samples {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(ev))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s does not match the registered schema: %v", name, err)
		}
	}
}

func jsonRoundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// stakeout must tell someone when it fails: each function's errors and
// throttles, the dead letters and lost notifications raise an alarm on the
// topic the AlarmEmail parameter subscribes to.
func TestAlarmsWatchStakeoutItself(t *testing.T) {
	tmpl := loadTemplate(t)
	r := resolver(t, tmpl, nil)
	watched := map[string]bool{}
	for _, a := range tmpl.OfType("AWS::CloudWatch::Alarm") {
		v, err := r.Resolve(a.Properties)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(samtemplate.StringList(samtemplate.Dig(v, "AlarmActions")), "<AlarmTopic>") {
			t.Errorf("%s does not notify AlarmTopic", a.Name)
		}
		dims, _ := samtemplate.Dig(v, "Dimensions").([]any)
		for _, d := range dims {
			watched[fmt.Sprint(samtemplate.Dig(v, "MetricName"))+" "+fmt.Sprint(samtemplate.Dig(d, "Value"))] = true
		}
	}
	for fn := range functionsDir {
		for _, m := range []string{"Errors", "Throttles"} {
			if !watched[m+" <"+fn+">"] {
				t.Errorf("no alarm on %s of %s", m, fn)
			}
		}
	}
	for _, want := range []string{"ApproximateNumberOfMessagesVisible <RouterDeadLetterQueue.QueueName>", "NotificationFailures <AWS::StackName>"} {
		if !watched[want] {
			t.Errorf("no alarm on %s", want)
		}
	}
	// CloudWatch cannot publish to a topic under the AWS-managed SNS key.
	if k := samtemplate.Dig(tmpl.Resources["AlarmTopic"].Properties, "KmsMasterKeyId"); k == "alias/aws/sns" {
		t.Error("AlarmTopic uses alias/aws/sns, whose key policy refuses CloudWatch alarms")
	}
	if !watched["Invocations <EscalatorFunction>"] {
		t.Error("no alarm on the escalator not running (Invocations)")
	}
	sub := tmpl.Resources["AlarmSubscription"]
	if sub == nil || sub.Condition != "HasAlarmEmail" || samtemplate.Dig(sub.Properties, "Endpoint", "Ref") != "AlarmEmail" {
		t.Error("AlarmSubscription must subscribe the AlarmEmail parameter when it is set")
	}
}

// The dashboard body is JSON once CloudFormation substitutes it, and every
// stakeout metric it graphs is one the functions emit.
func TestDashboard(t *testing.T) {
	tmpl := loadTemplate(t)
	r := resolver(t, tmpl, nil)
	body, err := r.Resolve(tmpl.Resources["Dashboard"].Properties["DashboardBody"])
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Widgets []struct {
			Properties struct {
				Title   string
				Metrics [][]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body.(string)), &dash); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	if len(dash.Widgets) == 0 {
		t.Fatal("dashboard has no widgets")
	}
	emitted := emittedMetrics()
	quoted := regexp.MustCompile(`MetricName="(\w+)"`)
	namespace := ""
	for _, w := range dash.Widgets {
		for _, m := range w.Properties.Metrics {
			var names []string
			if s, ok := m[0].(string); ok && len(m) > 1 {
				if s != "." && s != "..." {
					namespace = s
				}
				if n, ok := m[1].(string); ok && n != "." && namespace == "stakeout" {
					names = append(names, n)
				}
			}
			if e, ok := m[0].(map[string]any); ok {
				for _, sm := range quoted.FindAllStringSubmatch(fmt.Sprint(e["expression"]), -1) {
					names = append(names, sm[1])
				}
			}
			for _, n := range names {
				if !slices.Contains(emitted, n) {
					t.Errorf("widget %q graphs stakeout metric %s, which no function emits", w.Properties.Title, n)
				}
			}
		}
	}
}

// No secret value in the template: secrets are named, never given.
func TestTemplateHoldsNoSecret(t *testing.T) {
	src, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`xox[abpr]-`, `AKIA[0-9A-Z]{16}`, `(?i)routing_key:\s*[0-9a-f]{32}`} {
		if regexp.MustCompile(re).Match(src) {
			t.Errorf("template.yaml contains something like a secret (%s)", re)
		}
	}
}

func emittedMetrics() []string { return metrics.Names }

// The Slack app manifest points both of its URLs at the stack output the
// deploy guide tells users to paste, asks for every scope the code's Slack
// calls need, and offers the command the app implements.
func TestSlackManifest(t *testing.T) {
	src, err := os.ReadFile("infra/slack/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := samtemplate.Parse(append(src, []byte("\nResources: {}\n")...))
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "https://REPLACE-WITH-SlackUrl-OUTPUT/"
	if got := samtemplate.Dig(m.Raw, "settings", "interactivity", "request_url"); got != placeholder {
		t.Errorf("interactivity request_url = %v, want %s", got, placeholder)
	}
	cmds, _ := samtemplate.Dig(m.Raw, "features", "slash_commands").([]any)
	if len(cmds) != 1 || samtemplate.Dig(cmds[0], "command") != "/stakeout" || samtemplate.Dig(cmds[0], "url") != placeholder {
		t.Errorf("slash_commands = %v, want /stakeout at %s", cmds, placeholder)
	}
	for _, sub := range strings.Split(fmt.Sprint(samtemplate.Dig(cmds[0], "usage_hint")), " | ") {
		if word := strings.Fields(sub)[0]; !strings.Contains(slackapp.Usage, "/stakeout "+word) {
			t.Errorf("usage_hint offers %q; the app's usage has no /stakeout %s", sub, word)
		}
	}
	scopes := samtemplate.StringList(samtemplate.Dig(m.Raw, "oauth_config", "scopes", "bot"))
	// chat.postMessage and chat.update; conversations.history and
	// .replies (finding a post whose answer was lost) in public and
	// private channels; the slash command.
	for _, want := range []string{"chat:write", "channels:history", "groups:history", "commands"} {
		if !slices.Contains(scopes, want) {
			t.Errorf("the manifest does not ask for %s", want)
		}
	}
	if samtemplate.Dig(loadTemplate(t).Raw, "Outputs", "SlackUrl") == nil {
		t.Error("template.yaml has no SlackUrl output for the manifest's URLs")
	}
}

// Each AWS service sample the adapters read (testdata/events/aws) reaches
// the router by its own rule and by no other; runs still going match none.
func TestAWSServiceRulesMatchTheirSamples(t *testing.T) {
	tmpl := loadTemplate(t)
	r := resolver(t, tmpl, nil)
	want := map[string]string{
		"sagemaker-": "ProcessingJobRule", "glue-dq-": "DataQualityRule", "stepfunctions-": "ExecutionRule",
		"cloudwatch-": "AlarmRule", "sagemaker-model-package-": "ModelPackageRule",
	}
	rules := []string{"SignalRule", "AlarmRule", "ProcessingJobRule", "DataQualityRule", "ExecutionRule", "ModelPackageRule"}
	matched := func(ev []byte) []string {
		var names []string
		for _, rule := range rules {
			ok, err := rulePattern(t, tmpl, r, rule).Match(ev)
			if err != nil {
				t.Fatalf("%s: %v", rule, err)
			}
			if ok {
				names = append(names, rule)
			}
		}
		return names
	}
	for name, ev := range events(t, "testdata/events/aws/*.json") {
		base := filepath.Base(name)
		var rule, longest string // the longest prefix names the rule
		for prefix, r := range want {
			if strings.HasPrefix(base, prefix) && len(prefix) > len(longest) {
				rule, longest = r, prefix
			}
		}
		if got := matched(ev); len(got) != 1 || got[0] != rule {
			t.Errorf("%s matches %v, want only %s", base, got, rule)
		}
	}
	// The native deploy event (the version timeline) goes where native
	// signals go: the stack's bus, the sources it accepts.
	for name, ev := range events(t, "testdata/events/versions/*.json") {
		if got := matched(ev); len(got) != 1 || got[0] != "SignalRule" {
			t.Errorf("%s matches %v, want only SignalRule", name, got)
		}
	}
	for _, running := range []string{
		strings.Replace(string(events(t, "testdata/events/aws/stepfunctions-execution-failed.json")["testdata/events/aws/stepfunctions-execution-failed.json"]), `"FAILED"`, `"RUNNING"`, 1),
		strings.Replace(string(events(t, "testdata/events/aws/sagemaker-processing-job-failed.json")["testdata/events/aws/sagemaker-processing-job-failed.json"]), `"Failed"`, `"InProgress"`, 1),
	} {
		if got := matched([]byte(running)); len(got) != 0 {
			t.Errorf("a run still going matches %v, want no rule", got)
		}
	}
}
