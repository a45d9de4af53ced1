package stakeout

// The template's least privilege: who may read which secret (with
// functions/*/template_test.go, which derive each function's secrets and
// DynamoDB actions from its code), the public URLs' reserved concurrency,
// and the audit key only the functions may MAC with.

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/samtemplate"
)

// allowedPattern compiles a parameter's AllowedPattern as CloudFormation
// applies it: to the whole value.
func allowedPattern(t *testing.T, tmpl *samtemplate.Template, param string) *regexp.Regexp {
	t.Helper()
	pat, ok := samtemplate.Dig(tmpl.Raw, "Parameters", param, "AllowedPattern").(string)
	if !ok {
		t.Fatalf("parameter %s has no AllowedPattern", param)
	}
	return regexp.MustCompile("^(?:" + pat + ")$")
}

// A prefix without its trailing / grants its siblings too: "stakeout"
// covers stakeout-prod/... and stakeout/slack/....
func TestRoutingKeyPrefixIsAFolder(t *testing.T) {
	tmpl := loadTemplate(t)
	re := allowedPattern(t, tmpl, "PagerDutyRoutingKeyPrefix")
	for _, ok := range []string{"stakeout/pagerduty/", "stakeout-prod/pagerduty/", "pd/", fmt.Sprint(samtemplate.Dig(tmpl.Raw, "Parameters", "PagerDutyRoutingKeyPrefix", "Default"))} {
		if !re.MatchString(ok) {
			t.Errorf("PagerDutyRoutingKeyPrefix refuses %q", ok)
		}
	}
	for _, bad := range []string{"stakeout", "stakeout/pagerduty", "/", "", "stakeout/pager duty/", "*/", "stakeout/*/"} {
		if re.MatchString(bad) {
			t.Errorf("PagerDutyRoutingKeyPrefix accepts %q", bad)
		}
	}
}

// The functions behind public Function URLs run under reserved
// concurrency (a parameter), so a flood of requests is throttled there and
// cannot starve the router and the escalator.
func TestFunctionURLsHaveReservedConcurrency(t *testing.T) {
	tmpl := loadTemplate(t)
	param := samtemplate.Dig(tmpl.Raw, "Parameters", "FunctionUrlConcurrency")
	if fmt.Sprintf("%v %v %v", samtemplate.Dig(param, "Type"), samtemplate.Dig(param, "Default"), samtemplate.Dig(param, "MinValue")) != "Number 10 1" {
		t.Errorf("FunctionUrlConcurrency = %v, want a Number, default 10, at least 1 (0 would stop the function)", param)
	}
	urls := tmpl.OfType("AWS::Lambda::Url")
	if len(urls) != 2 {
		t.Fatalf("%d Function URLs, want the Slack and PagerDuty ones", len(urls))
	}
	for _, u := range urls {
		fn := fmt.Sprint(samtemplate.Dig(u.Properties, "TargetFunctionArn", "Ref"))
		r := tmpl.Resources[fn]
		if r == nil {
			t.Fatalf("%s targets %s, not a function of the template", u.Name, fn)
		}
		if got := samtemplate.Dig(r.Properties, "ReservedConcurrentExecutions", "Ref"); got != "FunctionUrlConcurrency" {
			t.Errorf("%s (behind %s) has ReservedConcurrentExecutions %v, want !Ref FunctionUrlConcurrency", fn, u.Name, r.Properties["ReservedConcurrentExecutions"])
		}
	}
}

// The audit chain's key is an HMAC KMS key the stack creates (or one
// given), retained with the stack's data; every function may MAC with it
// (GenerateMac, HMAC_SHA_256 only) and none may verify; its key policy
// refuses GenerateMac to anyone but the stack's function roles.
func TestAuditKeyOnlyTheFunctionsMACWith(t *testing.T) {
	tmpl := loadTemplate(t)
	key := tmpl.Resources["AuditKey"]
	if key == nil || key.Type != "AWS::KMS::Key" || key.Condition != "CreateAuditKey" {
		t.Fatalf("AuditKey = %+v, want an AWS::KMS::Key under CreateAuditKey", key)
	}
	if key.Properties["KeySpec"] != "HMAC_256" || key.Properties["KeyUsage"] != "GENERATE_VERIFY_MAC" {
		t.Errorf("AuditKey is %v/%v, want HMAC_256/GENERATE_VERIFY_MAC", key.Properties["KeySpec"], key.Properties["KeyUsage"])
	}
	for _, p := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if got := samtemplate.Dig(tmpl.Raw, "Resources", "AuditKey", p); got != "Retain" {
			t.Errorf("AuditKey %s = %v, want Retain: the trail's MACs are checked with it for as long as the table lives", p, got)
		}
	}
	const tag = "stakeout:audit-writer"
	r := resolver(t, tmpl, nil)
	policy, err := r.Resolve(key.Properties["KeyPolicy"])
	if err != nil {
		t.Fatal(err)
	}
	denied := false
	for _, s := range samtemplate.Dig(policy, "Statement").([]any) {
		if samtemplate.Dig(s, "Effect") == "Deny" && samtemplate.Dig(s, "Action") == "kms:GenerateMac" &&
			samtemplate.Dig(s, "Condition", "StringNotEquals", "aws:PrincipalTag/"+tag) == "<AWS::StackName>" {
			denied = true
		}
	}
	if !denied {
		t.Errorf("AuditKey's policy does not deny GenerateMac to principals without the tag %s = the stack", tag)
	}
	for _, params := range []map[string]string{nil, {"AuditKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}} {
		r := resolver(t, tmpl, params)
		want := "<AuditKey.Arn>"
		if params != nil {
			want = params["AuditKeyArn"]
		}
		for fn := range functionsDir {
			p, err := tmpl.RolePolicy(r, fn)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Allow["kms:GenerateMac"]; !slices.Equal(got, []string{want}) {
				t.Errorf("%s: %s may GenerateMac on %v, want %s", fn, p.Role, got, want)
			}
			if fmt.Sprint(p.Conditions["kms:GenerateMac"]) != "[map[StringEquals:map[kms:MacAlgorithm:HMAC_SHA_256]]]" {
				t.Errorf("%s: GenerateMac conditions %v, want HMAC_SHA_256 only", p.Role, p.Conditions["kms:GenerateMac"])
			}
			if len(p.Actions("kms")) != 1 {
				t.Errorf("%s allows %v; the functions only MAC (verifying is for operators)", p.Role, p.Actions("kms"))
			}
			tags, _ := r.Resolve(tmpl.Resources[p.Role].Properties["Tags"])
			if !slices.ContainsFunc(tags.([]any), func(t any) bool {
				return samtemplate.Dig(t, "Key") == tag && samtemplate.Dig(t, "Value") == "<AWS::StackName>"
			}) {
				t.Errorf("%s is not tagged %s: the key policy refuses it GenerateMac", p.Role, tag)
			}
			env, err := tmpl.EnvironmentWith(r, fn)
			if err != nil || env["AUDIT_KEY_ID"] != want {
				t.Errorf("%s: AUDIT_KEY_ID = %q (%v), want %s", fn, env["AUDIT_KEY_ID"], err, want)
			}
		}
	}
	re := allowedPattern(t, tmpl, "AuditKeyArn")
	for v, ok := range map[string]bool{"": true, "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab": true,
		"alias/stakeout-audit": false, "arn:aws:kms:eu-west-1:111122223333:alias/x": false} {
		if re.MatchString(v) != ok {
			t.Errorf("AuditKeyArn pattern on %q = %v, want %v", v, !ok, ok)
		}
	}
	if samtemplate.Dig(tmpl.Raw, "Outputs", "AuditKeyArn") == nil {
		t.Error("no AuditKeyArn output for stakeout audit --verify --kms-key")
	}
}

// EventBridge puts an event it could not deliver on a target's
// dead-letter queue only when the queue's policy lets that rule send
// (aws:SourceArn): a rule left out of the policy loses its failed
// deliveries with no trace. Every rule whose target has a dead-letter
// queue must be allowed by that queue's policy.
func TestEveryRuleMayDeadLetter(t *testing.T) {
	tmpl := loadTemplate(t)
	r := resolver(t, tmpl, nil)
	allowed := map[string][]string{} // queue ARN → rule ARNs its policy lets send
	for _, qp := range tmpl.OfType("AWS::SQS::QueuePolicy") {
		v, err := r.Resolve(qp.Properties["PolicyDocument"])
		if err != nil {
			t.Fatal(err)
		}
		stmts, _ := samtemplate.Dig(v, "Statement").([]any)
		for _, s := range stmts {
			if samtemplate.Dig(s, "Effect") != "Allow" || samtemplate.Dig(s, "Principal", "Service") != "events.amazonaws.com" ||
				!slices.Contains(samtemplate.StringList(samtemplate.Dig(s, "Action")), "sqs:SendMessage") {
				continue
			}
			for _, q := range samtemplate.StringList(samtemplate.Dig(s, "Resource")) {
				allowed[q] = append(allowed[q], samtemplate.StringList(samtemplate.Dig(s, "Condition", "ArnEquals", "aws:SourceArn"))...)
			}
		}
	}
	checked := 0
	for _, rule := range tmpl.OfType("AWS::Events::Rule") {
		targets, err := r.Resolve(rule.Properties["Targets"])
		if err != nil {
			t.Fatal(err)
		}
		list, _ := targets.([]any)
		for _, tg := range list {
			dlq, ok := samtemplate.Dig(tg, "DeadLetterConfig", "Arn").(string)
			if !ok {
				continue
			}
			checked++
			if arn := "<" + rule.Name + ".Arn>"; !slices.Contains(allowed[dlq], arn) {
				t.Errorf("%s dead-letters to %s, whose policy lets only %v send: its failed deliveries would be lost", rule.Name, dlq, allowed[dlq])
			}
		}
	}
	if checked < 2 {
		t.Errorf("%d rule targets with a dead-letter queue checked, want every router rule's", checked)
	}
}
