package samtemplate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the errors a check reports, so that
// a test can show the check fails where it must.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }
func (r *recorder) Helper()           {}

// A two-function template in the shape of stakeout's: each function reads
// the bot token and routing keys; F reads its own signing secret too.
const secretsDoc = `
Parameters:
  Bot: {Type: String, Default: app/slack/bot}
  Signing: {Type: String, Default: app/slack/signing}
  Keys: {Type: String, Default: app/pd/}
Globals:
  Function:
    Environment:
      Variables:
        BOT: !Sub "secret:${Bot}"
        KEYS: !Ref Keys
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt FRole.Arn
      Environment: {Variables: {SIGNING: !Sub "secret:${Signing}"}}
  G:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt GRole.Arn
  FRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource:
                  - !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Bot}-??????"
                  - !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Signing}-??????"
                  - !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Keys}*"
  GRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource:
                  - !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Bot}-??????"
                  - !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Keys}*"
%s`

const denySigning = `              - Effect: Deny
                Action: secretsmanager:GetSecretValue
                Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Signing}-??????"
`

func writeTemplate(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func reads(names ...string) func(getenv func(string) string) error {
	return func(getenv func(string) string) error {
		for _, n := range names {
			getenv(n)
		}
		return nil
	}
}

func TestCheckSecretsWantsExactlyWhatIsRead(t *testing.T) {
	// G's statement list ends where the deny goes.
	withoutDeny := writeTemplate(t, strings.Replace(secretsDoc, "%s", "", 1))
	withDeny := writeTemplate(t, strings.Replace(secretsDoc, "%s", denySigning, 1))
	grant := `                  - !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Signing}-??????"` + "\n"
	noSigning := writeTemplate(t, strings.Replace(strings.Replace(secretsDoc, "%s", denySigning, 1), grant, "", 1))
	for _, tc := range []struct {
		name, template, function string
		read                     []string
		want                     []string // each in some error; none: no error
	}{
		{"F reads all it may", withDeny, "F", []string{"BOT", "SIGNING", "KEYS"}, nil},
		{"F may read a secret it never reads", withDeny, "F", []string{"BOT", "KEYS"}, []string{"FRole may read"}},
		{"F reads a secret it may not", noSigning, "F", []string{"BOT", "SIGNING", "KEYS"}, []string{"F reads app/slack/signing-AbCdEf; FRole does not let it"}},
		{"G, exact and denied the rest", withDeny, "G", []string{"BOT", "KEYS"}, nil},
		// Keys=app/ covers app/slack/signing: only the deny keeps G from it.
		{"G's prefix widened over F's secret", withoutDeny, "G", []string{"BOT", "KEYS"}, []string{"with map[Keys:app/]: GRole may read app/slack/signing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			CheckSecrets(r, tc.template, tc.function, []string{"KEYS"}, reads(tc.read...))
			if (len(r.errs) == 0) != (len(tc.want) == 0) {
				t.Fatalf("errors %q, want errors containing %q", r.errs, tc.want)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(r.errs, func(e string) bool { return strings.Contains(e, w) }) {
					t.Errorf("errors %q, want one containing %q", r.errs, w)
				}
			}
		})
	}
}

func TestPermitsEvaluatesDenyFirst(t *testing.T) {
	p := &Policy{Allow: map[string][]string{"s:Get": {"arn:secret:app/*"}}, Deny: map[string][]string{"s:Get": {"arn:secret:app/x-??????"}}}
	for res, want := range map[string]bool{"arn:secret:app/y-AbCdEf": true, "arn:secret:app/deep/y": true, "arn:secret:app/x-AbCdEf": false, "arn:secret:other": false} {
		if got := p.Permits("s:Get", res); got != want {
			t.Errorf("Permits(%s) = %v, want %v", res, got, want)
		}
	}
}

type store struct{}

func (store) GetAlert(context.Context, string) error { return nil }
func (store) Commit(context.Context) error           { return nil }
func (store) Read(context.Context) error             { return nil }

type reader interface {
	GetAlert(context.Context, string) error
}
type writer interface {
	reader
	Commit(context.Context) error
}
type consumer struct {
	Store  writer
	Other  fmt.Stringer // not the store's
	Notify func()
}

func TestStoreMethodsAreTheConsumersInterfaces(t *testing.T) {
	got := StoreMethods(reflect.TypeFor[store](), consumer{}, &struct{ R reader }{})
	if want := []string{"Commit", "GetAlert"}; !slices.Equal(got, want) {
		t.Errorf("StoreMethods = %v, want %v", got, want)
	}
}

func TestDynamoDBActionsFollowTheStoresCalls(t *testing.T) {
	const dir = "../dynamostore"
	for _, tc := range []struct {
		methods []string
		want    []string
	}{
		{[]string{"GetAlert"}, []string{"dynamodb:GetItem"}},
		{[]string{"Read"}, []string{"dynamodb:BatchGetItem"}},
		{[]string{"Commit"}, []string{"dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
		{[]string{"Pending", "Quarantine"}, []string{"dynamodb:PutItem", "dynamodb:Query"}},
	} {
		got, err := DynamoDBActions(dir, "Store", tc.methods)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("DynamoDBActions(%v) = %v, %v; want %v", tc.methods, got, err, tc.want)
		}
	}
	if _, err := DynamoDBActions(dir, "Store", []string{"NoSuchMethod"}); err == nil {
		t.Error("DynamoDBActions(unknown method) = nil error")
	}
}
