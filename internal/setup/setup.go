// Package setup builds what every stakeout Lambda function needs from its
// environment, once per container: the configuration (embedded in the
// binary or read from a directory), the DynamoDB store whose commits are
// signed with the audit key, the secret resolver, and the sender with its
// Slack, PagerDuty and EventBridge clients. The functions' mains stay thin
// and read the same variables. Local (local.go) builds the same for
// `stakeout serve`, on the embedded store or a table, with a channel that
// has no credentials printed to the log.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stakeout-ml/stakeout"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pdsync"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/version"
)

// Environment the functions read.
const (
	// EnvConfigDir names a directory holding rules/ and owners/ to read
	// instead of the configuration embedded at build time (local runs, tests).
	EnvConfigDir = "STAKEOUT_CONFIG_DIR"
	EnvTable     = "TABLE_NAME"
	EnvEndpoint  = "DYNAMODB_ENDPOINT" // optional: DynamoDB Local
	// EnvSlackToken is the bot token's secret reference
	// (secret:<Secrets Manager name or ARN>[#json-field]).
	EnvSlackToken = "SLACK_BOT_TOKEN_SECRET"
	// EnvSecrets set to "env" resolves secret references from environment
	// variables (STAKEOUT_SECRET_<NAME>) instead of Secrets Manager: for
	// running the functions outside AWS.
	EnvSecrets        = "STAKEOUT_SECRETS"
	EnvSlackAPI       = "SLACK_API_URL"        // optional: another Slack API base URL (tests)
	EnvSlackTeam      = "SLACK_TEAM_DOMAIN"    // optional: <team>.slack.com, for message links
	EnvPagerDutyURL   = "PAGERDUTY_EVENTS_URL" // optional: another Events API endpoint (tests)
	EnvSecretsManager = "SECRETSMANAGER_ENDPOINT"
	// EnvEventBus names the EventBridge bus lifecycle events go to; unset,
	// they are not published.
	EnvEventBus         = "EVENT_BUS_NAME"
	EnvEventBridgeURL   = "EVENTBRIDGE_ENDPOINT" // optional: another EventBridge endpoint (tests)
	EnvSlackSigning     = "SLACK_SIGNING_SECRET" // secret reference of the Slack app's signing secret
	EnvPagerDutyWebhook = "PAGERDUTY_WEBHOOK_SECRET"
	// EnvStack is the CloudFormation stack's name: the Stack dimension of
	// the functions' metrics. Unset (local runs), no metrics are written.
	EnvStack = "STAKEOUT_STACK"
	// EnvRoutingKeyPrefix is the name prefix of the PagerDuty routing
	// keys' secrets, the only ones under it the functions' roles may read:
	// a routing key elsewhere is refused with that reason, not an
	// AccessDenied at 3 a.m. Unset (local runs), any reference resolves.
	EnvRoutingKeyPrefix = "PAGERDUTY_ROUTING_KEY_PREFIX"
	// EnvAuditKeyID is the ARN of the KMS HMAC key the audit chain is
	// keyed with (internal/kmsmac).
	EnvAuditKeyID = "AUDIT_KEY_ID"
	// EnvAuditKey is, outside AWS, the audit key itself (hex of at least
	// 32 bytes) or "unkeyed" for an explicitly unkeyed chain; never logged.
	EnvAuditKey    = "STAKEOUT_AUDIT_KEY"
	EnvKMSEndpoint = "KMS_ENDPOINT" // optional: another KMS endpoint (tests)
)

// Deps is what a function is built from.
type Deps struct {
	Config  *config.Config
	Store   *Store
	Secrets secret.Resolver
	Sender  *deliver.Sender
	Log     *slog.Logger
	Getenv  func(string) string
	// Metrics records into CloudWatch's embedded metric format on stdout
	// (nil without EnvStack); handlers flush it per invocation.
	Metrics *metrics.Recorder
}

// LocalOnly lists the variables that point a function elsewhere than AWS
// (DynamoDB Local, test servers, secrets from the environment, a
// configuration directory): never set in template.yaml.
var LocalOnly = []string{EnvConfigDir, EnvEndpoint, EnvSecrets, EnvSlackAPI, EnvPagerDutyURL, EnvSecretsManager, EnvEventBridgeURL,
	EnvAuditKey, EnvKMSEndpoint}

// SecretPrefixes lists the variables holding a prefix of secret names the
// function reads under (the routing keys'); every other secret it reads is
// the reference of one variable (SLACK_BOT_TOKEN_SECRET, ...). The template
// test derives each role's secrets from these.
var SecretPrefixes = []string{EnvRoutingKeyPrefix}

// Load builds the dependencies from the environment. Models with errors
// are logged and not served; no model at all is an error (an init failure
// Lambda reports), and so is a missing variable of required (a function's
// signing secret): better a failed cold start than a function that refuses
// every request.
func Load(ctx context.Context, getenv func(string) string, log *slog.Logger, required ...string) (*Deps, error) {
	return LoadWith(ctx, getenv, log, nil, required...)
}

// LoadWith is Load with options for the DynamoDB client, applied after the
// environment's: a benchmark's middleware that counts calls, say.
func LoadWith(ctx context.Context, getenv func(string) string, log *slog.Logger, dynamoOpts []func(*dynamodb.Options), required ...string) (*Deps, error) {
	return load(ctx, getenv, log, dynamoOpts, compactForm{}, required...)
}

// LoadRouter is Load for the router function. When its build wrote the
// compact configuration next to the executable (config.CompactDir; make
// build-RouterFunction does, from what `stakeout validate` passed), it
// routes with that: owners and the models' index decoded at start, each
// model's rules compiled at its first event, so that a cold start grows
// with the models' index, not their rules. Only the router: every event it handles
// names its model, which pipeline.Find readies; the other functions read
// every model's rules (the escalator's windows and expectations, Slack's
// /stakeout commands) and load the embedded configuration whole.
// EnvConfigDir, when set, still wins; without a compact form (a plain go
// build, the tests' builds), or with one of other files than the binary
// embeds (a plain go build beside an older build's), the embedded
// configuration loads whole.
func LoadRouter(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Deps, error) {
	return load(ctx, getenv, log, nil, compactDir())
}

// compactForm is where the router found its build's compact configuration
// (dir), or why it found none (missing). The other functions never look:
// both are "".
type compactForm struct{ dir, missing string }

// compactDir is config.CompactDir beside the executable, or why there is
// none to load.
func compactDir() compactForm {
	exe, err := os.Executable()
	if err != nil {
		return compactForm{missing: fmt.Sprintf("the executable's directory is unknown (%v)", err)}
	}
	dir := filepath.Join(filepath.Dir(exe), config.CompactDir)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return compactForm{missing: fmt.Sprintf("no %s beside %s (built without make build-RouterFunction)", config.CompactDir, exe)}
	} else if err != nil {
		return compactForm{missing: err.Error()}
	}
	return compactForm{dir: dir}
}

// load builds the dependencies, with the configuration from EnvConfigDir,
// else from the compact form in compact (when it has one), else embedded.
func load(ctx context.Context, getenv func(string) string, log *slog.Logger, dynamoOpts []func(*dynamodb.Options), compact compactForm, required ...string) (*Deps, error) {
	for _, name := range required {
		if getenv(name) == "" {
			return nil, fmt.Errorf("%s is not set", name)
		}
	}
	cfg, err := loadLogged(getenv(EnvConfigDir), compact, log)
	if err != nil {
		return nil, err
	}
	table := getenv(EnvTable)
	if table == "" {
		return nil, fmt.Errorf("%s is not set", EnvTable)
	}
	awsCfg, err := awsConfig(ctx, log)
	if err != nil {
		return nil, err
	}
	client := dynamoClient(awsCfg, getenv, dynamoOpts)
	var secrets secret.Resolver
	if getenv(EnvSecrets) == "env" {
		secrets = secret.NewEnv(func(k string) (string, bool) { v := getenv(k); return v, v != "" })
	} else {
		secrets = secretsManager(awsCfg, getenv)
	}
	var rec *metrics.Recorder
	if stack := getenv(EnvStack); stack != "" {
		rec = metrics.New(os.Stdout, metrics.Namespace, time.Now).With(map[string]string{"Stack": stack})
	}
	st, err := newStore(getenv, log, awsCfg, client, table, time.Now)
	if err != nil {
		return nil, err
	}
	routingKeys := routingKeysUnder(secrets, getenv(EnvRoutingKeyPrefix), cfg, log)
	ch := channels{pager: pdnotify.New(routingKeys, getenv(EnvPagerDutyURL)), team: getenv(EnvSlackTeam)}
	if ref := getenv(EnvSlackToken); ref != "" {
		ch.slack = slacknotify.NewClientFromSecret(secrets, ref, getenv(EnvSlackAPI))
	} else {
		log.Error("no Slack bot token configured: Slack notifications will fail and be reported", "variable", EnvSlackToken)
	}
	if name := getenv(EnvEventBus); name != "" {
		ch.bus = eventBus(awsCfg, getenv, name)
	} else {
		log.Warn("no event bus configured: lifecycle events are not published", "variable", EnvEventBus)
	}
	sender := newSender(cfg, st, ch, rec, log, time.Now)
	return &Deps{Config: cfg, Store: st, Secrets: secrets, Sender: sender, Log: log, Getenv: getenv, Metrics: rec}, nil
}

// newStore is the table's store, its commits signed with the audit key.
func newStore(getenv func(string) string, log *slog.Logger, awsCfg aws.Config, client *dynamodb.Client, table string, now func() time.Time) (*Store, error) {
	key, err := auditKey(getenv, log, kmsClient(awsCfg, getenv))
	if err != nil {
		return nil, err
	}
	return NewStore(dynamostore.New(client, table, now), key), nil
}

// channels are the clients the sender's notifiers call, built from the
// Lambda environment (Load) or serve's (Local).
type channels struct {
	slack slacknotify.API // nil: no Slack notifier
	team  string          // <team>.slack.com, for message links
	pager pdnotify.Sender
	bus   bus.Publishing // nil: lifecycle events not published
}

// newSender is the delivery core the functions and serve deliver through.
func newSender(cfg *config.Config, st deliver.Store, ch channels, rec *metrics.Recorder, log *slog.Logger, now func() time.Time) *deliver.Sender {
	s := &deliver.Sender{Config: cfg, Store: st, Now: now, Sleep: deliver.Sleep, Log: log, Metrics: rec,
		Notifiers: map[string]deliver.Notifier{"pagerduty": &pdnotify.Notifier{Config: cfg, Sender: ch.pager}}}
	if ch.slack != nil {
		s.Notifiers["slack"] = &slacknotify.Notifier{API: ch.slack, Team: ch.team}
	}
	if ch.bus != nil {
		s.Notifiers[deliver.Events] = &bus.Notifier{Bus: ch.bus}
	}
	return s
}

// loadLogged loads the configuration (loadConfig) and logs what it holds:
// the digest is on every audit record, and the version and revision name
// the binary, so the start line ties a process's decisions to the rules
// and the code it ran. Models with errors are logged and not served; no
// model at all is an error.
func loadLogged(dir string, compact compactForm, log *slog.Logger) (*config.Config, error) {
	cfg, from, err := loadConfig(dir, compact, log)
	if err != nil {
		return nil, err
	}
	log.Info("configuration loaded", append([]any{"from", from, "digest", cfg.Digest, "models", len(cfg.Models), "owners", len(cfg.Owners)},
		version.Read().LogAttrs()...)...)
	for _, p := range cfg.Errors() {
		log.Error("configuration problem", "problem", p.String())
	}
	for id, m := range cfg.Broken {
		log.Error("model not served", "model", id, "reason", m.Broken)
	}
	if len(cfg.Models) == 0 {
		return nil, fmt.Errorf("no model loaded from %s", from)
	}
	return cfg, nil
}

// loadConfig reads the configuration from dir, else from the compact form
// (models compiled at first use) when it is of the files the binary
// embeds, else the one embedded in the binary. Why a router loads the
// embedded configuration whole is logged.
func loadConfig(dir string, compact compactForm, log *slog.Logger) (*config.Config, string, error) {
	if dir != "" {
		cfg, err := config.Load(dir)
		if err != nil {
			return nil, "", fmt.Errorf("load configuration from %s: %w", dir, err)
		}
		return cfg, dir, nil
	}
	if compact.dir != "" {
		cfg, err := loadCompact(compact.dir, log)
		if cfg != nil || err != nil {
			return cfg, compact.dir, err
		}
	} else if compact.missing != "" {
		log.Info("the router loads the embedded configuration whole", "why", compact.missing)
	}
	cfg, err := config.LoadFS(stakeout.Config, ".")
	if err != nil {
		return nil, "", fmt.Errorf("load the embedded configuration: %w", err)
	}
	return cfg, "embedded", nil
}

// loadCompact loads the compact form in dir, or returns nil when it is not
// of the files the binary embeds or not of the format it reads: a plain go
// build beside an older build's stakeout-config/ would otherwise route
// with the older rules, unlike every other function, or not start at all.
// The embedded configuration, loaded whole, is then right and only slower:
// failing instead would fail every event until the next deploy. The index's
// version and digest are read first; the check costs a hash of the
// embedded files.
func loadCompact(dir string, log *slog.Logger) (*config.Config, error) {
	form, err := config.OpenCompact(dir)
	if err != nil {
		return nil, fmt.Errorf("load the compact configuration: %w", err)
	}
	embedded, err := config.Digest(stakeout.Config)
	if err != nil {
		return nil, fmt.Errorf("digest the embedded configuration: %w", err)
	}
	if form.Version != config.CompactVersion || form.Digest != embedded {
		log.Error("the compact configuration beside the router is not of the files it embeds or not of the format it reads: loading the embedded configuration whole (a slower cold start); build with make build-RouterFunction",
			"compact", dir, "compact_version", form.Version, "reads_version", config.CompactVersion,
			"compact_digest", form.Digest, "embedded_digest", embedded)
		return nil, nil
	}
	cfg, err := form.Load()
	if err != nil {
		return nil, fmt.Errorf("load the compact configuration: %w", err)
	}
	return cfg, nil
}

// SecretBytes is a function returning the secret that the environment
// variable name refers to (the signing secrets of the webhook handlers):
// resolved per request through the resolver's cache, so that a rotated
// secret is picked up.
func (d *Deps) SecretBytes(name string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		v, err := d.Secret(ctx, name)
		if err != nil {
			return nil, err
		}
		return []byte(v.Reveal()), nil
	}
}

// Deliver sends notifications by id (for handlers that queue them).
func (d *Deps) Deliver(ctx context.Context, ids []string) error {
	_, err := d.Sender.Deliver(ctx, ids)
	return err
}

// Secret resolves the secret reference in the environment variable name
// (for signing secrets): the error names the variable, never the value.
func (d *Deps) Secret(ctx context.Context, name string) (secret.Value, error) {
	ref := d.Getenv(name)
	if ref == "" {
		return secret.Value{}, fmt.Errorf("%s is not set", name)
	}
	v, err := d.Secrets.Resolve(ctx, ref)
	if err != nil {
		return secret.Value{}, fmt.Errorf("resolve %s: %w", name, err)
	}
	return v, nil
}

// Fail ends a function that cannot start. The reason goes to the log and to
// the Lambda Runtime API as an init error, so that it is the error the
// invocation reports (a bare exit shows only "Runtime exited"). Setup
// errors name variables and files, never a secret's value.
func Fail(log *slog.Logger, function string, err error) {
	log.Error(function+" cannot start", append([]any{"error", err}, version.Read().LogAttrs()...)...)
	if rerr := runtimeapi.ReportInitError(context.Background(), os.Getenv("AWS_LAMBDA_RUNTIME_API"), fmt.Errorf("%s cannot start: %w", function, err)); rerr != nil {
		log.Error("the init error could not be reported to the Lambda Runtime API", "error", rerr)
	}
	os.Exit(1)
}

// SlackApp is the Slack endpoint (buttons, /stakeout), as functions/slack
// and `stakeout serve` run it; its signing secret is SLACK_SIGNING_SECRET's
// reference, resolved per request from the cache, so that a rotated
// secret is picked up.
func (d *Deps) SlackApp() *slackapp.App {
	return &slackapp.App{Config: d.Config, Store: d.Store, Now: time.Now, Log: d.Log, Deliver: d.Deliver,
		SigningSecret: d.SecretBytes(EnvSlackSigning)}
}

// PagerDutyApp is the PagerDuty webhook receiver, as functions/pagerduty
// and `stakeout serve` run it (PAGERDUTY_WEBHOOK_SECRET's reference).
func (d *Deps) PagerDutyApp() *pdsync.App {
	return &pdsync.App{Config: d.Config, Store: d.Store, Now: time.Now, Log: d.Log, Deliver: d.Deliver,
		WebhookSecret: d.SecretBytes(EnvPagerDutyWebhook)}
}
