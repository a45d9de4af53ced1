// Package deploytest gives a Lambda function under test the environment
// template.yaml deploys it with — the template's own variables, resolved
// for the default parameters — with the AWS and vendor endpoints pointed at
// DynamoDB Local and at test servers speaking Slack's, PagerDuty's,
// EventBridge's and KMS's wire formats (the audit key a KMS key of that
// server), and the secrets the template names served from the environment. The built bootstrap binaries run in it (see the
// runtime tests in functions/*): what is proven is the artifact with its
// deployed configuration, not a hand-written test setup.
package deploytest

import (
	"bufio"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout"
	"github.com/stakeout-ml/stakeout/internal/bustest"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/samtemplate"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// Test values, not credentials.
const (
	SlackSigning     = "test-slack-signing-not-real"
	PagerDutyWebhook = "test-pd-webhook-not-real"
	Stack            = "stakeout-test"
)

// World is what a deployed function talks to, in the test.
type World struct {
	Table string
	Store *dynamostore.Store
	Slack *notifytest.Slack
	PD    *notifytest.PagerDuty
	Bus   *bustest.Server
	// KMS holds the audit key, AuditKey its ARN.
	KMS      *kmstest.Server
	AuditKey string
	// Env is the function's process environment.
	Env map[string]string
}

// Option changes what New sets up.
type Option func(*options)

type options struct {
	configDir string // "": the embedded configuration
}

// WithConfigDir runs the function on the configuration in dir (rules/
// and owners/, set as STAKEOUT_CONFIG_DIR) instead of the one embedded in
// it: its owners' Slack channels exist and their routing keys resolve.
func WithConfigDir(dir string) Option { return func(o *options) { o.configDir = dir } }

// New creates a fresh table and test servers, and the environment of the
// template's function (a logical id such as "RouterFunction"); template is
// the path of template.yaml. The caller's package must run DynamoDB Local
// (dynamotest.Main).
func New(t testing.TB, template, function string, opts ...Option) *World {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tmpl, err := samtemplate.Load(template)
	if err != nil {
		t.Fatal(err)
	}
	env, err := tmpl.Environment(function)
	if err != nil {
		t.Fatal(err)
	}
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(o.configDir)
	if err != nil {
		t.Fatal(err)
	}
	var channels []string
	for _, o := range cfg.Owners {
		if o.Slack.Channel != "" {
			channels = append(channels, o.Slack.Channel)
		}
	}
	w := &World{Table: table, Store: dynamostore.New(dynamotest.Client(t), table, time.Now),
		Slack: notifytest.NewSlack(t, notifytest.WithChannels(channels...)), PD: notifytest.NewPagerDuty(t),
		Bus: bustest.New(t, bustest.WithBuses(env[setup.EnvEventBus])), KMS: kmstest.New(t)}
	w.AuditKey = w.KMS.CreateKey()
	// What CloudFormation would have filled in.
	env[setup.EnvTable] = table
	env[setup.EnvStack] = Stack
	env[setup.EnvAuditKeyID] = w.AuditKey
	// Where this test's AWS and vendors are; DynamoDB Local and the bus
	// server take any credentials: placeholders, not secrets.
	env[setup.EnvEndpoint] = dynamotest.Endpoint()
	env[setup.EnvEventBridgeURL] = w.Bus.URL()
	env[setup.EnvSlackAPI] = w.Slack.URL()
	env[setup.EnvPagerDutyURL] = w.PD.URL()
	env[setup.EnvKMSEndpoint] = w.KMS.URL()
	if o.configDir != "" {
		env[setup.EnvConfigDir] = o.configDir
	}
	env["AWS_REGION"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "us-east-1", "local", "local"
	// The secrets the template names, from the environment instead of
	// Secrets Manager.
	env[setup.EnvSecrets] = "env"
	values := map[string]string{setup.EnvSlackToken: w.Slack.Token(), setup.EnvSlackSigning: SlackSigning, setup.EnvPagerDutyWebhook: PagerDutyWebhook}
	for name, v := range values {
		if ref := env[name]; ref != "" {
			env[secret.EnvVar(ref)] = v
		}
	}
	for _, o := range cfg.Owners {
		if o.PagerDuty.RoutingKey != "" {
			env[secret.EnvVar(o.PagerDuty.RoutingKey)] = w.PD.RoutingKey()
		}
	}
	w.Env = env
	t.Cleanup(func() {
		for _, r := range w.Slack.Rejections() {
			t.Errorf("Slack refused: %s", r)
		}
		for _, v := range w.PD.Violations() {
			t.Errorf("PagerDuty refused: %s", v)
		}
	})
	return w
}

// loadConfig is the configuration in dir, or the embedded one when dir is
// empty: the one the function will run on.
func loadConfig(dir string) (*config.Config, error) {
	if dir == "" {
		return config.LoadFS(stakeout.Config, ".")
	}
	return config.Load(dir)
}

// Route runs the router's pipeline over the first n events of a JSON-lines
// file on the world's table, with cfg: the state a function under test
// then acts on (an open group to acknowledge, say).
func (w *World) Route(t *testing.T, cfg *config.Config, path string, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &pipeline.Processor{Config: cfg, Store: w.Store, Now: time.Now}
	sc := bufio.NewScanner(f)
	for i := 0; i < n && sc.Scan(); i++ {
		if _, err := p.Process(context.Background(), sc.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}
