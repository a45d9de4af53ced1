package eventpattern

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile(%s) error: %v", tc.pattern, err)
			}
			got, err := p.Match([]byte(tc.event))
			if err != nil {
				t.Fatalf("Match(%s) error: %v", tc.event, err)
			}
			if got != tc.want {
				t.Errorf("pattern %s: Match(%s) = %v, want %v", tc.pattern, tc.event, got, tc.want)
			}
		})
	}
}

// Events from AWS's "Event patterns", "Content filtering" and
// aws/event-ruler documentation.
const (
	ec2Event = `{
	  "version": "0",
	  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
	  "detail-type": "EC2 Instance State-change Notification",
	  "source": "aws.ec2",
	  "account": "111122223333",
	  "time": "2017-12-22T18:43:48Z",
	  "region": "us-west-1",
	  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
	  "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
	}`
	autoScalingEvent = `{
	  "version": "0",
	  "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
	  "detail-type": "EC2 Instance Launch Successful",
	  "source": "aws.autoscaling",
	  "account": "123456789012",
	  "time": "2015-11-11T21:31:47Z",
	  "region": "us-east-1",
	  "resources": [],
	  "detail": {"eventVersion": "", "responseElements": null}
	}`
	macieEvent = `{
	  "version": "0",
	  "detail-type": "Macie Alert",
	  "source": "aws.macie",
	  "resources": [
	    "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id/alert/alert_id",
	    "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id"
	  ],
	  "detail": {
	    "notification-type": "ALERT_CREATED",
	    "tags": ["Custom_Alert", "Insider"],
	    "risk-score": 80,
	    "trigger": {"alert-type": "basic", "risk": 8}
	  }
	}`
	rulerEvent = `{
	  "version": "0",
	  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
	  "detail-type": "EC2 Instance State-change Notification",
	  "source": "aws.ec2",
	  "account": "012345679012",
	  "time": "2017-10-02T16:24:49Z",
	  "region": "us-east-1",
	  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
	  "detail": {
	    "c-count": 5,
	    "d-count": 3,
	    "x-limit": 301.8,
	    "source-ip": "10.0.0.33",
	    "instance-id": "i-000000aaaaaa00000",
	    "state": "running"
	  }
	}`
)

func TestMatchDocumentationExamples(t *testing.T) {
	runMatchCases(t, []matchCase{
		{
			name:    "EC2 termination pattern matches EC2 event",
			pattern: `{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["terminated"]}}`,
			event:   ec2Event,
			want:    true,
		},
		{
			name:    "source is one of several values",
			pattern: `{"source": ["aws.ec2", "aws.fargate"]}`,
			event:   ec2Event,
			want:    true,
		},
		{
			name:    "null value matches null",
			pattern: `{"source": ["aws.autoscaling"], "detail-type": ["EC2 Instance Launch Successful"], "detail": {"responseElements": [null]}}`,
			event:   autoScalingEvent,
			want:    true,
		},
		{
			name:    "empty string matches empty string",
			pattern: `{"detail": {"eventVersion": [""]}}`,
			event:   autoScalingEvent,
			want:    true,
		},
		{
			name:    "null pattern does not match empty string",
			pattern: `{"detail": {"eventVersion": [null]}}`,
			event:   autoScalingEvent,
			want:    false,
		},
		{
			name:    "empty string pattern does not match null",
			pattern: `{"detail": {"responseElements": [""]}}`,
			event:   autoScalingEvent,
			want:    false,
		},
		{
			name:    "Macie risk score and nested trigger risk",
			pattern: `{"source": ["aws.macie"], "detail-type": ["Macie Alert"], "detail": {"risk-score": [80], "trigger": {"risk": [8]}}}`,
			event:   macieEvent,
			want:    true,
		},
		{
			name: "resources intersect with the event array",
			pattern: `{"resources": [
			  "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
			  "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
			  "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`,
			event: `{"resources": [
			  "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
			  "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`,
			want: true,
		},
		{
			name:    "Ruler simple matching",
			pattern: `{"detail-type": ["EC2 Instance State-change Notification"], "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"], "detail": {"state": ["initializing", "running"]}}`,
			event:   rulerEvent,
			want:    true,
		},
		{
			name:    "prefix on time",
			pattern: `{"time": [{"prefix": "2017-10-02"}]}`,
			event:   rulerEvent,
			want:    true,
		},
		{
			name:    "numeric example, x-limit equals 3.018e2",
			pattern: `{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}`,
			event:   rulerEvent,
			want:    true,
		},
		{
			name: "complex example with prefix, anything-but, numeric and cidr",
			pattern: `{
			  "time": [{"prefix": "2017-10-02"}],
			  "detail": {
			    "state": [{"anything-but": "initializing"}],
			    "c-count": [{"numeric": [">", 0, "<=", 5]}],
			    "d-count": [{"numeric": ["<", 10]}],
			    "x-limit": [{"anything-but": [100, 200, 300]}],
			    "source-ip": [{"cidr": "10.0.0.0/8"}]
			  }
			}`,
			event: rulerEvent,
			want:  true,
		},
		{
			name:    "exists true matches a present leaf",
			pattern: `{"detail": {"state": [{"exists": true}]}}`,
			event:   `{"source": "aws.ec2", "detail": {"instance-id": "i-abcd1111", "state": "pending"}}`,
			want:    true,
		},
		{
			name:    "exists true does not match an event without the field",
			pattern: `{"detail": {"state": [{"exists": true}]}}`,
			event:   `{"detail-type": ["EC2 Instance State-change Notification"], "detail": {"c-count": {"c1": 100}}}`,
			want:    false,
		},
		{
			name:    "exists false matches an event without the field",
			pattern: `{"detail": {"c-count": [{"exists": false}]}}`,
			event:   `{"detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["initializing", "running"]}}`,
			want:    true,
		},
		{
			name:    "exists false matches when the field is an object, not a leaf",
			pattern: `{"detail": {"c-count": [{"exists": false}]}}`,
			event:   `{"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}}`,
			want:    true,
		},
		{
			name:    "last duplicate key wins",
			pattern: `{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}`,
			event:   `{"detail": {"location": "eu-west"}}`,
			want:    true,
		},
		{
			name:    "operator table: equals ignore case",
			pattern: `{"Name": [{"equals-ignore-case": "alice"}]}`,
			event:   `{"Name": "Alice"}`,
			want:    true,
		},
		{
			name:    "operator table: begins with ignore case",
			pattern: `{"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}`,
			event:   `{"service": "EventBridge"}`,
			want:    true,
		},
		{
			name:    "operator table: ends with ignore case",
			pattern: `{"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]}`,
			event:   `{"service": "EVENTBRIDGE"}`,
			want:    true,
		},
		{
			name:    "operator table: anything-but begins with",
			pattern: `{"Region": [{"anything-but": {"prefix": "us-"}}]}`,
			event:   `{"Region": "us-east-1"}`,
			want:    false,
		},
		{
			name:    "operator table: anything-but ends with",
			pattern: `{"FileName": [{"anything-but": {"suffix": ".png"}}]}`,
			event:   `{"FileName": "photo.jpg"}`,
			want:    true,
		},
		{
			name:    "operator table: anything-but ignore case",
			pattern: `{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}`,
			event:   `{"state": "INITIALIZING"}`,
			want:    false,
		},
		{
			name:    "operator table: anything-but wildcard",
			pattern: `{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}`,
			event:   `{"FilePath": "/usr/lib/libc.so"}`,
			want:    false,
		},
		{
			name:    "operator table: wildcard png in dir",
			pattern: `{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}`,
			event:   `{"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}`,
			want:    true,
		},
		{
			name:    "operator table: or across fields",
			pattern: `{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}`,
			event:   `{"Location": "Boston", "Day": "Monday"}`,
			want:    true,
		},
	})
}

func TestMatchExactValues(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"string matches equal string", `{"source": ["aws.ec2"]}`, `{"source": "aws.ec2"}`, true},
		{"string match is case sensitive", `{"source": ["aws.ec2"]}`, `{"source": "aws.EC2"}`, false},
		{"string does not match number", `{"n": ["300"]}`, `{"n": 300}`, false},
		{"number does not match string", `{"n": [300]}`, `{"n": "300"}`, false},
		{"number matches equal number", `{"n": [300]}`, `{"n": 300}`, true},
		{"number matches 300.0", `{"n": [300]}`, `{"n": 300.0}`, true},
		{"number matches 3e2", `{"n": [300]}`, `{"n": 3e2}`, true},
		{"number 3.0E+2 matches 300", `{"n": [3.0E+2]}`, `{"n": 300}`, true},
		{"decimal matches trailing zeros", `{"n": [0.1]}`, `{"n": 0.10}`, true},
		{"negative zero matches zero", `{"n": [0]}`, `{"n": -0.0}`, true},
		{"number does not match other number", `{"n": [300]}`, `{"n": 301}`, false},
		{"large integers compare exactly", `{"n": [12345678901234567890]}`, `{"n": 12345678901234567891}`, false},
		{"large integer matches itself", `{"n": [12345678901234567890]}`, `{"n": 1.2345678901234567890e19}`, true},
		{"true matches true", `{"b": [true]}`, `{"b": true}`, true},
		{"true does not match false", `{"b": [true]}`, `{"b": false}`, false},
		{"true does not match string true", `{"b": [true]}`, `{"b": "true"}`, false},
		{"false matches false", `{"b": [false]}`, `{"b": false}`, true},
		{"null does not match a missing field", `{"x": [null]}`, `{"y": 1}`, false},
		{"any alternative matches", `{"state": ["pending", "running"]}`, `{"state": "running"}`, true},
		{"no alternative matches", `{"state": ["pending", "running"]}`, `{"state": "stopped"}`, false},
		{"all fields must match", `{"source": ["aws.ec2"], "region": ["us-east-1"]}`, `{"source": "aws.ec2", "region": "eu-west-1"}`, false},
		{"fields not in the pattern are ignored", `{"source": ["aws.ec2"]}`, `{"source": "aws.ec2", "other": {"deep": [1, 2]}}`, true},
	})
}

func TestMatchNestingAndArrays(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"nested object matches", `{"detail": {"labels": {"env": ["prod"]}}}`, `{"detail": {"labels": {"env": "prod"}}}`, true},
		{"nested object mismatch", `{"detail": {"labels": {"env": ["prod"]}}}`, `{"detail": {"labels": {"env": "dev"}}}`, false},
		{"nested pattern against scalar event value", `{"detail": {"state": ["x"]}}`, `{"detail": "x"}`, false},
		{"leaf pattern against object event value", `{"detail": ["x"]}`, `{"detail": {"x": 1}}`, false},
		{"event array matches if any element matches", `{"tags": ["b"]}`, `{"tags": ["a", "b", "c"]}`, true},
		{"event array with no matching element", `{"tags": ["z"]}`, `{"tags": ["a", "b"]}`, false},
		{"empty event array does not match", `{"tags": ["a"]}`, `{"tags": []}`, false},
		{"nested event arrays are flattened", `{"tags": ["c"]}`, `{"tags": [["a"], ["b", ["c"]]]}`, true},
		{"mixed types in event array", `{"v": [{"numeric": [">", 10]}]}`, `{"v": ["big", 3, 42]}`, true},
		{"array of objects: one element matches", `{"items": {"id": ["b"]}}`, `{"items": [{"id": "a"}, {"id": "b"}]}`, true},
		{
			"array of objects: fields must match in the same element",
			`{"items": {"id": ["a"], "ok": [true]}}`,
			`{"items": [{"id": "a", "ok": false}, {"id": "b", "ok": true}]}`,
			false,
		},
		{
			"array of objects: all fields in one element",
			`{"items": {"id": ["a"], "ok": [true]}}`,
			`{"items": [{"id": "b", "ok": false}, {"id": "a", "ok": true}]}`,
			true,
		},
		{"deep CloudWatch-style metric array", `{"detail": {"configuration": {"metrics": {"metricStat": {"period": [3600]}}}}}`,
			`{"detail": {"configuration": {"metrics": [{"id": "m1", "metricStat": {"period": 3600}}]}}}`, true},
	})
}

func TestMatchMissingFields(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"missing field does not match a value", `{"source": ["aws.ec2"]}`, `{"region": "us-east-1"}`, false},
		{"missing field does not match prefix", `{"source": [{"prefix": "aws."}]}`, `{}`, false},
		{"missing field does not match anything-but", `{"state": [{"anything-but": "stopped"}]}`, `{"other": 1}`, false},
		{"missing field does not match numeric", `{"n": [{"numeric": [">", 0]}]}`, `{"other": 1}`, false},
		{"missing parent object does not match", `{"detail": {"state": ["x"]}}`, `{"source": "a"}`, false},
		{"exists false matches a missing field", `{"detail": {"error": [{"exists": false}]}}`, `{"detail": {"state": "ok"}}`, true},
		{"exists false does not match a present field", `{"detail": {"error": [{"exists": false}]}}`, `{"detail": {"error": "boom"}}`, false},
		{"exists false does not match a null value", `{"detail": {"error": [{"exists": false}]}}`, `{"detail": {"error": null}}`, false},
		{"exists false matches a missing parent", `{"detail": {"error": [{"exists": false}]}}`, `{"source": "a"}`, true},
		{"exists false matches an empty array", `{"tags": [{"exists": false}]}`, `{"tags": []}`, true},
		{"exists false or a value, value given", `{"env": [{"exists": false}, "prod"]}`, `{"env": "prod"}`, true},
		{"exists false or a value, field missing", `{"env": [{"exists": false}, "prod"]}`, `{}`, true},
		{"exists false or a value, other value", `{"env": [{"exists": false}, "prod"]}`, `{"env": "dev"}`, false},
		{"exists true matches a null value", `{"x": [{"exists": true}]}`, `{"x": null}`, true},
		{"exists true matches an array with values", `{"x": [{"exists": true}]}`, `{"x": [1]}`, true},
		{"exists true does not match an empty array", `{"x": [{"exists": true}]}`, `{"x": []}`, false},
		{"exists true does not match an object", `{"x": [{"exists": true}]}`, `{"x": {"y": 1}}`, false},
	})
}

func TestMatchContentFilters(t *testing.T) {
	runMatchCases(t, []matchCase{
		// prefix
		{"prefix matches", `{"s": [{"prefix": "com.example."}]}`, `{"s": "com.example.monitoring"}`, true},
		{"prefix does not match", `{"s": [{"prefix": "com.example."}]}`, `{"s": "aws.cloudwatch"}`, false},
		{"prefix is case sensitive", `{"s": [{"prefix": "Com"}]}`, `{"s": "com.example"}`, false},
		{"prefix does not match numbers", `{"n": [{"prefix": "3"}]}`, `{"n": 300}`, false},
		{"prefix ignore case matches", `{"s": [{"prefix": {"equals-ignore-case": "COM.EX"}}]}`, `{"s": "com.example"}`, true},
		{"prefix ignore case does not match", `{"s": [{"prefix": {"equals-ignore-case": "aws"}}]}`, `{"s": "com.example"}`, false},
		// suffix
		{"suffix matches", `{"f": [{"suffix": ".png"}]}`, `{"f": "a/b.png"}`, true},
		{"suffix does not match", `{"f": [{"suffix": ".png"}]}`, `{"f": "a/b.PNG"}`, false},
		{"suffix ignore case matches", `{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}`, `{"f": "a/b.PNG"}`, true},
		{"suffix ignore case does not match", `{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}`, `{"f": "a/b.jpg"}`, false},
		// equals-ignore-case
		{"equals-ignore-case matches", `{"s": [{"equals-ignore-case": "ALARM"}]}`, `{"s": "alarm"}`, true},
		{"equals-ignore-case does not match a longer string", `{"s": [{"equals-ignore-case": "ALARM"}]}`, `{"s": "alarms"}`, false},
		{"equals-ignore-case does not match numbers", `{"s": [{"equals-ignore-case": "1"}]}`, `{"s": 1}`, false},
		// wildcard
		{"wildcard in the middle matches", `{"s": [{"wildcard": "Simple*Service"}]}`, `{"s": "SimpleQueueService"}`, true},
		{"wildcard matches the empty string", `{"s": [{"wildcard": "Simple*Service"}]}`, `{"s": "SimpleService"}`, true},
		{"wildcard needs the suffix", `{"s": [{"wildcard": "Simple*Service"}]}`, `{"s": "SimpleQueue"}`, false},
		{"wildcard needs the prefix", `{"s": [{"wildcard": "Simple*Service"}]}`, `{"s": "AmazonSimpleQueueService"}`, false},
		{"wildcard on both ends", `{"s": [{"wildcard": "*Title*"}]}`, `{"s": "The Title Page"}`, true},
		{"several wildcards in order", `{"s": [{"wildcard": "dir/*/*.png"}]}`, `{"s": "dir/a/b/c.png"}`, true},
		{"several wildcards out of order", `{"s": [{"wildcard": "a*b*c"}]}`, `{"s": "acb"}`, false},
		{"suffix part does not overlap", `{"s": [{"wildcard": "ab*ba"}]}`, `{"s": "aba"}`, false},
		{"wildcard without star is exact", `{"s": [{"wildcard": "abc"}]}`, `{"s": "abcd"}`, false},
		{"escaped star is literal", `{"s": [{"wildcard": "a\\*b"}]}`, `{"s": "a*b"}`, true},
		{"escaped star does not match other text", `{"s": [{"wildcard": "a\\*b"}]}`, `{"s": "axb"}`, false},
		{"escaped backslash is literal", `{"s": [{"wildcard": "a\\\\*"}]}`, `{"s": "a\\bc"}`, true},
		{"wildcard does not match numbers", `{"n": [{"wildcard": "*"}]}`, `{"n": 1}`, false},
		// anything-but
		{"anything-but string matches another string", `{"state": [{"anything-but": "initializing"}]}`, `{"state": "running"}`, true},
		{"anything-but string excludes the string", `{"state": [{"anything-but": "initializing"}]}`, `{"state": "initializing"}`, false},
		{"anything-but list matches another string", `{"state": [{"anything-but": ["stopped", "overloaded"]}]}`, `{"state": "running"}`, true},
		{"anything-but list excludes each string", `{"state": [{"anything-but": ["stopped", "overloaded"]}]}`, `{"state": "overloaded"}`, false},
		{"anything-but number matches another number", `{"x": [{"anything-but": 123}]}`, `{"x": 124}`, true},
		{"anything-but number excludes the number", `{"x": [{"anything-but": 123}]}`, `{"x": 123}`, false},
		{"anything-but number list excludes by value", `{"x": [{"anything-but": [100, 200, 300]}]}`, `{"x": 300.0}`, false},
		{"anything-but number list matches another number", `{"x": [{"anything-but": [100, 200, 300]}]}`, `{"x": 250}`, true},
		{"anything-but number matches a string", `{"x": [{"anything-but": [100]}]}`, `{"x": "100"}`, true},
		{"anything-but event array with another value", `{"state": [{"anything-but": "stopped"}]}`, `{"state": ["stopped", "running"]}`, true},
		{"anything-but event array of only excluded values", `{"state": [{"anything-but": "stopped"}]}`, `{"state": ["stopped", "stopped"]}`, false},
		{"anything-but prefix matches", `{"s": [{"anything-but": {"prefix": "init"}}]}`, `{"s": "running"}`, true},
		{"anything-but prefix excludes", `{"s": [{"anything-but": {"prefix": "init"}}]}`, `{"s": "initializing"}`, false},
		{"anything-but prefix list", `{"r": [{"anything-but": {"prefix": ["us-", "eu-"]}}]}`, `{"r": "eu-west-1"}`, false},
		{"anything-but prefix list matches", `{"r": [{"anything-but": {"prefix": ["us-", "eu-"]}}]}`, `{"r": "ap-south-1"}`, true},
		{"anything-but suffix excludes", `{"f": [{"anything-but": {"suffix": ".png"}}]}`, `{"f": "a.png"}`, false},
		{"anything-but ignore case list", `{"s": [{"anything-but": {"equals-ignore-case": ["OK", "Pending"]}}]}`, `{"s": "pending"}`, false},
		{"anything-but ignore case matches", `{"s": [{"anything-but": {"equals-ignore-case": ["OK", "Pending"]}}]}`, `{"s": "ALARM"}`, true},
		{"anything-but wildcard matches", `{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}`, `{"p": "/usr/bin/ls"}`, true},
		// numeric
		{"numeric equals", `{"n": [{"numeric": ["=", 100]}]}`, `{"n": 100.0}`, true},
		{"numeric equals other", `{"n": [{"numeric": ["=", 100]}]}`, `{"n": 100.5}`, false},
		{"numeric less than", `{"n": [{"numeric": ["<", 10]}]}`, `{"n": 9.999}`, true},
		{"numeric less than at bound", `{"n": [{"numeric": ["<", 10]}]}`, `{"n": 10}`, false},
		{"numeric at most at bound", `{"n": [{"numeric": ["<=", 10]}]}`, `{"n": 10}`, true},
		{"numeric greater than at bound", `{"n": [{"numeric": [">", 0]}]}`, `{"n": 0}`, false},
		{"numeric greater than negative", `{"n": [{"numeric": [">", -5]}]}`, `{"n": -4.5}`, true},
		{"numeric at least at bound", `{"n": [{"numeric": [">=", 0.1]}]}`, `{"n": 1e-1}`, true},
		{"numeric at least below bound", `{"n": [{"numeric": [">=", 0.1]}]}`, `{"n": 0.0999999}`, false},
		{"numeric range inside", `{"n": [{"numeric": [">", 0, "<=", 5]}]}`, `{"n": 5}`, true},
		{"numeric range above", `{"n": [{"numeric": [">", 0, "<=", 5]}]}`, `{"n": 5.0000001}`, false},
		{"numeric range at open lower bound", `{"n": [{"numeric": [">", 0, "<=", 5]}]}`, `{"n": 0}`, false},
		{"numeric range closed bounds", `{"n": [{"numeric": [">=", 0, "<", 5]}]}`, `{"n": 0}`, true},
		{"numeric does not match a numeric string", `{"n": [{"numeric": [">", 0]}]}`, `{"n": "3"}`, false},
		{"numeric does not match true", `{"n": [{"numeric": [">", 0]}]}`, `{"n": true}`, false},
		{"numeric large values compare exactly", `{"n": [{"numeric": [">", 9007199254740992]}]}`, `{"n": 9007199254740993}`, true},
		{"numeric small values compare exactly", `{"n": [{"numeric": ["<", 1e-30]}]}`, `{"n": 2e-31}`, true},
		{"numeric two ranges as alternatives", `{"n": [{"numeric": ["<", 0]}, {"numeric": [">", 100]}]}`, `{"n": 150}`, true},
		// cidr
		{"cidr matches an address in the block", `{"ip": [{"cidr": "10.0.0.0/24"}]}`, `{"ip": "10.0.0.255"}`, true},
		{"cidr does not match an address outside", `{"ip": [{"cidr": "10.0.0.0/24"}]}`, `{"ip": "10.0.1.0"}`, false},
		{"cidr matches IPv6", `{"ip": [{"cidr": "2001:db8::/32"}]}`, `{"ip": "2001:db8::1"}`, true},
		{"cidr does not match a non-address", `{"ip": [{"cidr": "10.0.0.0/8"}]}`, `{"ip": "ten"}`, false},
		// exists
		{"exists true matches a value", `{"x": [{"exists": true}]}`, `{"x": "v"}`, true},
		{"exists true does not match missing", `{"x": [{"exists": true}]}`, `{"y": "v"}`, false},
		// several filters in one leaf
		{"filters are alternatives", `{"s": [{"prefix": "a"}, {"suffix": "z"}, "exact"]}`, `{"s": "xyz"}`, true},
	})
}

func TestMatchOr(t *testing.T) {
	runMatchCases(t, []matchCase{
		{
			"or: first branch",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}`,
			`{"source": "aws.cloudwatch", "metricName": "ReadLatency"}`,
			true,
		},
		{
			"or: second branch",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}`,
			`{"source": "aws.cloudwatch", "namespace": "AWS/ES"}`,
			true,
		},
		{
			"or: no branch",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}`,
			`{"source": "aws.cloudwatch", "namespace": "AWS/S3"}`,
			false,
		},
		{
			"or: other fields still ANDed",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}`,
			`{"source": "aws.ec2", "namespace": "AWS/EC2"}`,
			false,
		},
		{
			"or: parallel groups at two levels",
			`{"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}], "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]}}`,
			`{"namespace": "AWS/EC2", "detail": {"detail-type": "CloudWatch Alarm State Change"}}`,
			true,
		},
		{
			"or: branch with AND inside needs both",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"]}, {"scope": ["Service"]}]}`,
			`{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/S3"}`,
			false,
		},
		{
			"or: nested or",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}`,
			`{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}`,
			true,
		},
		{
			"or: nested or without its branch",
			`{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}`,
			`{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 999}`,
			false,
		},
		{
			"or: branch with exists false",
			`{"$or": [{"env": ["prod"]}, {"env": [{"exists": false}]}]}`,
			`{"source": "x"}`,
			true,
		},
	})
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, want string
	}{
		{"not JSON", `{"source": [`, "pattern is not valid JSON: unexpected end of JSON input"},
		{"data after the object", `{"source": ["a"]} {}`, "pattern is not valid JSON: invalid character '{' after top-level value"},
		{"not an object", `["aws.ec2"]`, "pattern must be a JSON object, got array"},
		{"empty pattern", `{}`, "pattern: empty object: a pattern object needs at least one field"},
		{"empty nested object", `{"detail": {}}`, "detail: empty object: a pattern object needs at least one field"},
		{"leaf is not an array", `{"source": "aws.ec2"}`, `source: want an array of values or a nested object, got string "aws.ec2"`},
		{"leaf is a number", `{"detail": {"value": 5}}`, `detail.value: want an array of values or a nested object, got number 5`},
		{"empty array", `{"source": []}`, "source: empty array: want at least one value to match"},
		{"nested array", `{"tags": [["a"]]}`, "tags: nested array is not allowed; values are strings, numbers, true, false, null or filter objects"},
		{"unknown filter", `{"type": [{"contains": "Normal"}]}`, `type: unknown filter "contains", want one of prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr`},
		{"empty filter", `{"type": [{}]}`, "type: empty filter object: want one of prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"},
		{"two filters in one object", `{"f": [{"prefix": "a", "suffix": "b"}]}`, "f: filter object has 2 keys (prefix, suffix), want exactly one"},
		{"prefix not a string", `{"f": [{"prefix": 5}]}`, `f: prefix: want a string or {"equals-ignore-case": string}, got number 5`},
		{"prefix unknown form", `{"f": [{"prefix": {"wildcard": "a*"}}]}`, `f: prefix: unknown form "wildcard", want a string or {"equals-ignore-case": string}`},
		{"suffix ignore case not a string", `{"f": [{"suffix": {"equals-ignore-case": true}}]}`, `f: suffix: equals-ignore-case: want a string, got boolean true`},
		{"equals-ignore-case not a string", `{"f": [{"equals-ignore-case": ["a"]}]}`, `f: equals-ignore-case: want a string, got array`},
		{"wildcard consecutive stars", `{"f": [{"wildcard": "a**b"}]}`, `f: wildcard: consecutive '*' in "a**b" are not allowed`},
		{"wildcard bad escape", `{"f": [{"wildcard": "a\\b"}]}`, `f: wildcard: invalid escape in "a\\b": a backslash may only escape '*' or '\'`},
		{"numeric unknown operator", `{"detail": {"value": [{"numeric": ["=>", 5]}]}}`, `detail.value: numeric: unknown operator "=>", want =, <, <=, > or >=`},
		{"numeric not an array", `{"n": [{"numeric": 5}]}`, `n: numeric: want an array like [">", 0, "<=", 5], got number 5`},
		{"numeric empty", `{"n": [{"numeric": []}]}`, `n: numeric: empty array, want an operator and a number like ["<", 10]`},
		{"numeric operand not a number", `{"n": [{"numeric": ["<", "5"]}]}`, `n: numeric: operator "<" needs a number, got string "5"`},
		{"numeric missing operand", `{"n": [{"numeric": [">", 0, "<"]}]}`, `n: numeric: operator "<" has no number after it`},
		{"numeric operator not a string", `{"n": [{"numeric": [5, ">"]}]}`, `n: numeric: want an operator (=, <, <=, >, >=) at position 0, got number 5`},
		{"numeric upper bound first", `{"n": [{"numeric": ["<", 5, ">", 0]}]}`, `n: numeric: too many elements: "<" must be the last operator`},
		{"numeric two lower bounds", `{"n": [{"numeric": [">", 0, ">=", 5]}]}`, `n: numeric: operator ">=" cannot follow ">"; a range is [">" or ">=", n, "<" or "<=", m]`},
		{"numeric equals in a range", `{"n": [{"numeric": ["=", 5, "<", 6]}]}`, `n: numeric: "=" cannot be combined with other operators`},
		{"numeric too many elements", `{"n": [{"numeric": [">", 0, "<", 5, "<", 6]}]}`, `n: numeric: too many elements: "<" must be the last operator`},
		{"numeric empty range", `{"n": [{"numeric": [">", 5, "<=", 1]}]}`, `n: numeric: empty range: nothing is > 5 and <= 1`},
		{"numeric empty range at a point", `{"n": [{"numeric": [">=", 5, "<", 5]}]}`, `n: numeric: empty range: nothing is >= 5 and < 5`},
		{"anything-but mixed list", `{"s": [{"anything-but": ["a", 1]}]}`, `s: anything-but: list mixes strings and numbers; use only one type`},
		{"anything-but empty list", `{"s": [{"anything-but": []}]}`, `s: anything-but: empty list`},
		{"anything-but boolean", `{"s": [{"anything-but": true}]}`, `s: anything-but: want a string, a number, a list of either, or an object, got boolean true`},
		{"anything-but null in list", `{"s": [{"anything-but": ["a", null]}]}`, `s: anything-but: want a string, a number, a list of either, or an object, got null`},
		{"anything-but unknown form", `{"s": [{"anything-but": {"contains": "x"}}]}`, `s: anything-but: unknown form "contains", want prefix, suffix, equals-ignore-case or wildcard`},
		{"anything-but empty prefix", `{"s": [{"anything-but": {"prefix": ""}}]}`, `s: anything-but: prefix: empty string is not allowed`},
		{"anything-but prefix number", `{"s": [{"anything-but": {"prefix": 5}}]}`, `s: anything-but: prefix: want a string or a list of strings, got number 5`},
		{"anything-but bad wildcard", `{"s": [{"anything-but": {"wildcard": "**"}}]}`, `s: anything-but: wildcard: consecutive '*' in "**" are not allowed`},
		{"exists not a boolean", `{"s": [{"exists": "yes"}]}`, `s: exists: want true or false, got string "yes"`},
		{"cidr invalid", `{"ip": [{"cidr": "10.0.0.0/33"}]}`, `ip: cidr: invalid CIDR block "10.0.0.0/33"`},
		{"cidr not a string", `{"ip": [{"cidr": 10}]}`, `ip: cidr: want a string like "10.0.0.0/24", got number 10`},
		{"or not an array", `{"$or": {"a": ["b"]}}`, `$or: want an array of at least 2 pattern objects, got object`},
		{"or with one branch", `{"$or": [{"a": ["b"]}]}`, `$or: want an array of at least 2 pattern objects, got 1`},
		{"or branch not an object", `{"$or": [{"a": ["b"]}, "c"]}`, `$or[1]: want a pattern object, got string "c"`},
		{"or branch error names the path", `{"detail": {"$or": [{"a": ["b"]}, {"x": {"y": []}}]}}`, `detail.$or[1].x.y: empty array: want at least one value to match`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("Compile(%s) = %v, nil, want error %q", tc.pattern, p, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Compile(%s) error = %q, want %q", tc.pattern, err, tc.want)
			}
		})
	}
}

func TestMatchEventErrors(t *testing.T) {
	p, err := Compile([]byte(`{"source": ["a"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, event, want string }{
		{"truncated JSON", `{"source": "a"`, "event is not valid JSON: unexpected end of JSON input"},
		{"data after the object", `{"source": "a"}}`, "event is not valid JSON: invalid character '}' after top-level value"},
		{"bad literal", `{"source": tru}`, "event is not valid JSON: invalid character '}' in literal true (expecting 'e')"},
		{"leading zero", `{"n": 01}`, "event is not valid JSON: invalid character '1' after object key:value pair"},
		{"empty input", ``, "event is not valid JSON: unexpected end of JSON input"},
		{"array event", `[{"source": "a"}]`, "event must be a JSON object, got array"},
		{"string event", `"a"`, "event must be a JSON object, got string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Match([]byte(tc.event))
			if err == nil || err.Error() != tc.want {
				t.Errorf("Match(%s) = %v, %v, want error %q", tc.event, got, err, tc.want)
			}
		})
	}
}

func TestFromValue(t *testing.T) {
	alarm := readFile(t, "../../testdata/events/cloudwatch/single-metric-alarm.json")
	t.Run("pattern decoded from YAML", func(t *testing.T) {
		const doc = `
source: [aws.cloudwatch]
detail-type: [CloudWatch Alarm State Change]
detail:
  alarmName: [{prefix: fraud-detection-}]
  state:
    value: [ALARM]
  configuration:
    metrics:
      metricStat:
        period: [{numeric: [">=", 3600]}]
        metric:
          namespace: [aws/sagemaker/Endpoints/data-metrics]
`
		var v any
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		p, err := FromValue(v)
		if err != nil {
			t.Fatalf("FromValue(%v) error: %v", v, err)
		}
		if got, err := p.Match(alarm); err != nil || !got {
			t.Errorf("Match(single-metric-alarm.json) = %v, %v, want true, nil", got, err)
		}
		ok := readFile(t, "../../testdata/events/cloudwatch/single-metric-ok.json")
		if got, err := p.Match(ok); err != nil || got {
			t.Errorf("Match(single-metric-ok.json) = %v, %v, want false, nil", got, err)
		}
	})
	t.Run("Go numbers compare by value", func(t *testing.T) {
		p, err := FromValue(map[string]any{
			"a": []any{300},
			"b": []any{map[string]any{"numeric": []any{">", 0.5, "<=", int64(2)}}},
			"c": []any{uint8(7), float32(1.5)},
		})
		if err != nil {
			t.Fatal(err)
		}
		event := `{"a": 300.0, "b": 2, "c": 1.50}`
		if got, err := p.Match([]byte(event)); err != nil || !got {
			t.Errorf("Match(%s) = %v, %v, want true, nil", event, got, err)
		}
	})
	t.Run("map with any keys", func(t *testing.T) {
		p, err := FromValue(map[any]any{"source": []any{"aws.cloudwatch"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := p.Match(alarm); err != nil || !got {
			t.Errorf("Match(single-metric-alarm.json) = %v, %v, want true, nil", got, err)
		}
	})
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"not a map", []any{"a"}, "pattern must be a JSON object, got array"},
		{"non-string key", map[any]any{1: []any{"a"}}, "pattern must be a JSON object, got map[interface {}]interface {}"},
		{"unsupported value type", map[string]any{"a": []any{struct{}{}}}, "a: unsupported value of type struct {}"},
		{"NaN", map[string]any{"a": []any{map[string]any{"numeric": []any{"<", nan()}}}}, "a: numeric: number NaN is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromValue(tc.v)
			if err == nil || err.Error() != tc.want {
				t.Errorf("FromValue(%v) = %v, %v, want error %q", tc.v, p, err, tc.want)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventFiles returns the *.json files under dir, relative to the package.
func eventFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.json events under %s", dir)
	}
	return files
}

// TestCapturedEvents checks the captured EventBridge envelopes against the
// patterns of the rules that receive them, and against each other's pattern.
func TestCapturedEvents(t *testing.T) {
	const (
		signalPattern = `{"detail-type": ["ML Model Signal"]}`
		alarmPattern  = `{"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"]}`
	)
	signal, err := Compile([]byte(signalPattern))
	if err != nil {
		t.Fatal(err)
	}
	alarm, err := Compile([]byte(alarmPattern))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []struct {
		path               string
		wantSignal, wantCW bool
	}{
		{"../../testdata/events/envelope", true, false},
		{"../../testdata/events/cloudwatch", false, true},
		{"../../testdata/events/cloudwatch-contributor", false, true},
		{"../../testdata/events/cloudwatch-composite", false, true},
		// AWS's own samples: its alarm events, and the service events other
		// rules receive (they are checked against those in template_test.go).
		{"../../testdata/events/aws", false, true},
	} {
		for _, file := range eventFiles(t, dir.path) {
			t.Run(filepath.Base(dir.path)+"/"+filepath.Base(file), func(t *testing.T) {
				event := readFile(t, file)
				if !json.Valid(event) {
					t.Fatalf("%s is not valid JSON", file)
				}
				if got, err := signal.Match(event); err != nil || got != dir.wantSignal {
					t.Errorf("pattern %s: Match(%s) = %v, %v, want %v, nil", signalPattern, file, got, err, dir.wantSignal)
				}
				wantCW := dir.wantCW && (filepath.Base(dir.path) != "aws" || strings.HasPrefix(filepath.Base(file), "cloudwatch-"))
				if got, err := alarm.Match(event); err != nil || got != wantCW {
					t.Errorf("pattern %s: Match(%s) = %v, %v, want %v, nil", alarmPattern, file, got, err, wantCW)
				}
			})
		}
	}
}

// BenchmarkMatch measures matching a rule-sized pattern against captured
// events, JSON decoding included.
//
// Target: ≤ 20 µs per event.
func BenchmarkMatch(b *testing.B) {
	for _, bc := range []struct {
		name, pattern, file string
	}{
		{
			name:    "envelope",
			pattern: `{"source": [{"prefix": "com.example."}], "detail-type": ["ML Model Signal"], "detail": {"kind": ["quality", "drift"], "value": [{"numeric": [">=", 0]}], "environment": [{"anything-but": "dev"}]}}`,
			file:    "../../testdata/events/envelope/credit-approval-accuracy-drop.json",
		},
		{
			name:    "cloudwatch",
			pattern: `{"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "detail": {"alarmName": [{"wildcard": "fraud-detection-*"}], "state": {"value": ["ALARM"]}, "configuration": {"metrics": {"metricStat": {"period": [{"numeric": [">=", 60]}]}}}}}`,
			file:    "../../testdata/events/cloudwatch/metric-math-alarm.json",
		},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := Compile([]byte(bc.pattern))
			if err != nil {
				b.Fatal(err)
			}
			event := readFile(b, bc.file)
			if ok, err := p.Match(event); err != nil || !ok {
				b.Fatalf("Match(%s) = %v, %v, want true, nil", bc.file, ok, err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(event)))
			for b.Loop() {
				if _, err := p.Match(event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
