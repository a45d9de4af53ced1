package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// Environment `stakeout serve` reads besides the functions' audit key
// (STAKEOUT_AUDIT_KEY or AUDIT_KEY_ID), routing keys (STAKEOUT_SECRET_*),
// SLACK_TEAM_DOMAIN and EVENT_BUS_NAME (+ EVENTBRIDGE_ENDPOINT): the
// channels' credentials as `stakeout replay` reads them.
const (
	EnvLocalSlackToken   = "SLACK_BOT_TOKEN"        // the bot token itself, never logged
	EnvLocalSlackAPI     = "STAKEOUT_SLACK_API_URL" // optional: another Slack API base URL
	EnvLocalPagerDutyURL = "STAKEOUT_PAGERDUTY_EVENTS_URL"
)

// LocalOptions says what Local builds the dependencies around.
type LocalOptions struct {
	// Dir holds rules/ and owners/; empty, the configuration embedded in
	// the binary.
	Dir string
	// Embedded is the embedded store to run on (`serve --state`); nil,
	// Table names the DynamoDB table (`serve --table`), at Endpoint when
	// not empty (DynamoDB Local). Exactly one of Embedded and Table.
	Embedded        *memstore.Store
	Table, Endpoint string
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
	Log    *slog.Logger
	// Metrics records the functions' metrics (nil: none).
	Metrics *metrics.Recorder
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Local builds the functions' dependencies for `stakeout serve`: the same
// configuration loading, store signing and sender as Load, on an embedded
// store or a DynamoDB table, with secrets from the environment
// (STAKEOUT_SECRET_*). Each channel without credentials — Slack without
// SLACK_BOT_TOKEN, an owner without a routing key, no EVENT_BUS_NAME — is
// printed to the log instead of sent, said in one line per channel at
// start.
func Local(ctx context.Context, o LocalOptions) (*Deps, error) {
	getenv, now, log := o.Getenv, o.Now, o.Log
	if getenv == nil {
		getenv = os.Getenv
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if (o.Embedded == nil) == (o.Table == "") {
		return nil, errors.New("give one store: an embedded one (--state) or a DynamoDB table (--table)")
	}
	cfg, err := loadLogged(o.Dir, compactForm{}, log)
	if err != nil {
		return nil, err
	}
	var awsCfg aws.Config
	if o.Table != "" || getenv(EnvEventBus) != "" || getenv(EnvAuditKeyID) != "" {
		if awsCfg, err = awsConfig(ctx, log); err != nil {
			return nil, err
		}
	}
	st, err := localStore(o, getenv, log, awsCfg, now)
	if err != nil {
		return nil, err
	}
	secrets := secret.NewEnv(func(k string) (string, bool) { v := getenv(k); return v, v != "" })
	ch := channels{slack: localSlack(getenv, log, now), team: getenv(EnvSlackTeam), pager: localPager(cfg, secrets, getenv, log)}
	if name := getenv(EnvEventBus); name != "" {
		ch.bus = eventBus(awsCfg, getenv, name)
	} else {
		log.Warn("no event bus: lifecycle events are printed to the log, not published", "variable", EnvEventBus)
		ch.bus = logBus{log: log}
	}
	sender := newSender(cfg, st, ch, o.Metrics, log, now)
	return &Deps{Config: cfg, Store: st, Secrets: secrets, Sender: sender, Log: log, Getenv: getenv, Metrics: o.Metrics}, nil
}

// localStore is the table's store keyed as the functions key it (a key is
// required: the table may hold their trail), or the embedded store keyed
// with the local key — unkeyed, said, when none is set, as replay does.
func localStore(o LocalOptions, getenv func(string) string, log *slog.Logger, awsCfg aws.Config, now func() time.Time) (*Store, error) {
	if o.Table != "" {
		return newStore(getenv, log, awsCfg, DynamoDB(awsCfg, o.Endpoint), o.Table, now)
	}
	if getenv(EnvAuditKey) == "" && getenv(EnvAuditKeyID) == "" {
		log.Warn("audit chain unkeyed: anyone who can edit the state file can rewrite it; set "+EnvAuditKey+" to key it (openssl rand -hex 32)",
			"variable", EnvAuditKey)
		return NewStore(o.Embedded, nil), nil
	}
	key, err := auditKey(getenv, log, kmsClient(awsCfg, getenv))
	if err != nil {
		return nil, err
	}
	return NewStore(o.Embedded, key), nil
}

// localSlack is Slack's client with SLACK_BOT_TOKEN, else the log.
func localSlack(getenv func(string) string, log *slog.Logger, now func() time.Time) slacknotify.API {
	if token := getenv(EnvLocalSlackToken); token != "" {
		return slacknotify.NewClient(secret.New(token), getenv(EnvLocalSlackAPI))
	}
	log.Warn("no Slack bot token: Slack messages are printed to the log, not sent", "variable", EnvLocalSlackToken)
	return &logSlack{log: log, now: now}
}

// localPager pages with the owners' routing keys from the environment;
// the pages of an owner whose key is not set are printed to the log.
func localPager(cfg *config.Config, secrets secret.Resolver, getenv func(string) string, log *slog.Logger) pdnotify.Sender {
	client := pdnotify.New(secrets, getenv(EnvLocalPagerDutyURL))
	has := func(ref string) bool { return getenv(secret.EnvVar(ref)) != "" }
	var owners, vars []string
	for _, id := range slices.Sorted(maps.Keys(cfg.Owners)) {
		if ref := cfg.Owners[id].PagerDuty.RoutingKey; ref != "" && !has(ref) {
			owners, vars = append(owners, id), append(vars, secret.EnvVar(ref))
		}
	}
	if len(owners) == 0 {
		return client
	}
	log.Warn("no PagerDuty routing key for some owners: their pages are printed to the log, not sent", "owners", owners, "variables", vars)
	return &logPager{next: client, has: has, log: log}
}

// logSlack prints Slack messages to the log in place of posting them,
// rendered as replay shows them (slacknotify.Text).
type logSlack struct {
	log *slog.Logger
	now func() time.Time
	n   atomic.Int64
}

func (l *logSlack) Post(ctx context.Context, channel, threadTS string, m slacknotify.Message, _ string, _ bool) (string, error) {
	ts := fmt.Sprintf("%d.%06d", l.now().Unix(), l.n.Add(1)%1e6) // what a ts looks like
	l.log.InfoContext(ctx, "slack message (printed, not sent)", "channel", channel, "thread_ts", threadTS, "ts", ts, "text", slacknotify.Text(m))
	return ts, nil
}

func (l *logSlack) Update(ctx context.Context, channel, ts string, m slacknotify.Message) error {
	l.log.InfoContext(ctx, "slack message updated (printed, not sent)", "channel", channel, "ts", ts, "text", slacknotify.Text(m))
	return nil
}

// logPager prints the pages it has no routing key for to the log,
// rendered as replay shows them (pdnotify.Text), and sends the others.
type logPager struct {
	next pdnotify.Sender
	has  func(ref string) bool
	log  *slog.Logger
}

func (l *logPager) Send(ctx context.Context, ref string, ev *pagerduty.V2Event) error {
	if l.has(ref) {
		return l.next.Send(ctx, ref, ev)
	}
	l.log.InfoContext(ctx, "pagerduty event (printed, not sent)", "action", ev.Action, "routing_key", secret.Name(ref), "dedup_key", ev.DedupKey,
		"text", pdnotify.Text(ev))
	return nil
}

// logBus prints lifecycle events to the log in place of publishing them.
type logBus struct{ log *slog.Logger }

func (l logBus) Publish(ctx context.Context, entries ...bus.Entry) error {
	for _, e := range entries {
		l.log.InfoContext(ctx, "lifecycle event (printed, not published)", "detail_type", e.DetailType, "detail", e.Detail)
	}
	return nil
}
