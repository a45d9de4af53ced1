package burst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/kmstest"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	routerfn "github.com/stakeout-ml/stakeout/internal/router"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// routerTimeout is RouterFunction's Timeout in template.yaml: the deadline
// of an invocation's context.
const routerTimeout = 30 * time.Second

// A container drains up to sweepLimit notifications from the outbox once
// every sweepEvery, as internal/router's Handler does (its steps are
// repeated here to count the DynamoDB calls of each apart).
const (
	sweepEvery = routerfn.SweepEvery
	sweepLimit = routerfn.SweepLimit
)

// world is what the router talks to here: a fresh table on DynamoDB Local,
// the Slack and PagerDuty test servers, and the environment functions/router
// reads, secrets served from it.
type world struct {
	env   map[string]string
	cfg   *config.Config
	store *dynamostore.Store // uncounted: for looking at the outbox
	slack *notifytest.Slack
	pd    *notifytest.PagerDuty
	// kms holds the audit key, as in AWS: commits MAC their records.
	kms *kmstest.Server
	// stray counts DynamoDB calls made outside a counted invocation
	// (there should be none).
	stray *calls
}

// newWorld creates the table and the servers, for the configuration in dir.
func newWorld(tb testing.TB, dir string) *world {
	tb.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	table := dynamotest.TableName(tb)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(tb), table); err != nil {
		tb.Fatal(err)
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	tb.Setenv("AWS_REGION", "us-east-1")
	tb.Setenv("AWS_ACCESS_KEY_ID", "local")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	var channels []string
	for _, o := range cfg.Owners {
		if o.Slack.Channel != "" {
			channels = append(channels, o.Slack.Channel)
		}
	}
	w := &world{cfg: cfg, store: dynamostore.New(dynamotest.Client(tb), table, time.Now),
		slack: notifytest.NewSlack(tb, notifytest.WithChannels(channels...)), pd: notifytest.NewPagerDuty(tb), stray: newCalls(),
		kms: kmstest.New(tb)}
	const slackToken = "secret:stakeout/slack-bot-token"
	w.env = map[string]string{setup.EnvConfigDir: dir, setup.EnvTable: table, setup.EnvEndpoint: dynamotest.Endpoint(),
		setup.EnvAuditKeyID: w.kms.CreateKey(), setup.EnvKMSEndpoint: w.kms.URL(),
		setup.EnvSecrets: "env", setup.EnvSlackToken: slackToken, setup.EnvSlackAPI: w.slack.URL(), setup.EnvPagerDutyURL: w.pd.URL(),
		secret.EnvVar(slackToken): w.slack.Token()}
	for _, o := range cfg.Owners {
		if ref := o.PagerDuty.RoutingKey; ref != "" {
			w.env[secret.EnvVar(ref)] = w.pd.RoutingKey() // the test server's key, not a real one
		}
	}
	tb.Cleanup(func() {
		for _, r := range w.slack.Rejections() {
			tb.Errorf("Slack refused: %s", r)
		}
		for _, v := range w.pd.Violations() {
			tb.Errorf("PagerDuty refused: %s", v)
		}
	})
	return w
}

// slackCalls counts the calls that post or edit a message.
func (w *world) slackCalls() int {
	return w.slack.Calls("chat.postMessage") + w.slack.Calls("chat.update")
}

// router is one router container: what functions/router's newHandler
// builds, through setup as it does, with the DynamoDB client counted.
type router struct {
	proc      *pipeline.Processor
	sender    *deliver.Sender
	lastSweep time.Time
}

var discard = slog.New(slog.DiscardHandler)

func (w *world) newRouter(tb testing.TB) *router {
	tb.Helper()
	d, err := setup.LoadWith(context.Background(), func(k string) string { return w.env[k] }, discard,
		[]func(*dynamodb.Options){countCalls(w.stray), withoutChecksum})
	if err != nil {
		tb.Fatal(err)
	}
	return &router{proc: &pipeline.Processor{Config: d.Config, Store: d.Store, Now: time.Now, Log: discard, Sightings: d.Store},
		sender: d.Sender}
}

// withoutChecksum spares the log a warning per failed DynamoDB Local call:
// its error responses carry no X-Amz-Crc32 header, which the SDK checks
// against 0 (aws/aws-sdk-go-v2#3545); DynamoDB's own errors carry one.
func withoutChecksum(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }

// invocation is what one invocation did. DynamoDB calls are counted apart
// for processing the event (its TransactWriteItems are its commit
// attempts) and for delivering.
type invocation struct {
	out pipeline.Outcome
	// err is Process's: the invocation failed, and Lambda retries it.
	err error
	// deliverErr is the sender's (a store failure): logged by the
	// router, not the event's failure.
	deliverErr        error
	process, delivery *calls
}

// invoke handles one event as internal/router's Handle does: Process,
// then Deliver what the commit queued, and this container's outbox sweep
// when one is due.
func (r *router) invoke(ctx context.Context, raw []byte) invocation {
	ctx, cancel := context.WithTimeout(ctx, routerTimeout)
	defer cancel()
	inv := invocation{process: newCalls(), delivery: newCalls()}
	inv.out, inv.err = r.proc.Process(withCalls(ctx, inv.process), raw)
	if inv.err != nil {
		return inv
	}
	ctx = withCalls(ctx, inv.delivery)
	ids := make([]string, len(inv.out.Queued))
	for i, n := range inv.out.Queued {
		ids[i] = n.ID
	}
	_, inv.deliverErr = r.sender.Deliver(ctx, ids)
	if now := time.Now(); now.Sub(r.lastSweep) >= sweepEvery {
		r.lastSweep = now
		_, err := r.sender.Drain(ctx, sweepLimit)
		inv.deliverErr = errors.Join(inv.deliverErr, err)
	}
	return inv
}

// driftEvent is an EventBridge "ML Model Signal" event.
func driftEvent(id, model, feature string, value float64, at time.Time) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":%q,"detail-type":"ML Model Signal","source":"stakeout.burst","time":%q,`+
		`"detail":{"model":%q,"kind":"drift","metric":"psi","feature":%q,"value":%v,"observed_at":%q}}`,
		id, at.UTC().Format(time.RFC3339), model, feature, value, at.UTC().Format(time.RFC3339Nano))
}

// calls counts DynamoDB API calls by operation, and the transactions
// DynamoDB cancelled because a condition failed or another transaction
// held an item: the conflicts after which the pipeline decides again and
// the sender re-reads.
type calls struct {
	mu        sync.Mutex
	ops       map[string]int
	conflicts int
	// conflictsOn counts the items that failed in cancelled transactions,
	// by kind of record: the partition key's prefix (GROUP, NOTICE,
	// SERIES, ALERT, MODEL for the inhibitors, DELIVERY).
	conflictsOn map[string]int
}

func newCalls() *calls { return &calls{ops: map[string]int{}, conflictsOn: map[string]int{}} }

var readOps, writeOps = []string{"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"},
	[]string{"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}

func (c *calls) sum(ops []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, op := range ops {
		n += c.ops[op]
	}
	return n
}

func (c *calls) reads() int  { return c.sum(readOps) }
func (c *calls) writes() int { return c.sum(writeOps) }
func (c *calls) op(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[name]
}

func (c *calls) add(o *calls) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range o.ops {
		c.ops[k] += n
	}
	for k, n := range o.conflictsOn {
		c.conflictsOn[k] += n
	}
	c.conflicts += o.conflicts
}

// String lists the operations: "GetItem=4,TransactWriteItems=1".
func (c *calls) String() string { return joinCounts(c.ops, &c.mu, "=") }

// conflictsOnString lists the failing items by kind: "GROUP:12,NOTICE:3".
func (c *calls) conflictsOnString() string { return joinCounts(c.conflictsOn, &c.mu, ":") }

func joinCounts(m map[string]int, mu *sync.Mutex, sep string) string {
	mu.Lock()
	defer mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+sep+strconv.Itoa(m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

func (c *calls) record(op string, params any, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops[op]++
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return
	}
	in, _ := params.(*dynamodb.TransactWriteItemsInput)
	conflict := false
	for i, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed", "TransactionConflict":
			conflict = true
			c.conflictsOn[itemKind(in, i)]++
		}
	}
	if conflict {
		c.conflicts++
	}
}

// itemKind names the kind of the i-th item of a transaction by its
// partition key's prefix (see dynamostore's table layout).
func itemKind(in *dynamodb.TransactWriteItemsInput, i int) string {
	if in == nil || i >= len(in.TransactItems) {
		return "unknown"
	}
	var key map[string]types.AttributeValue
	switch it := in.TransactItems[i]; {
	case it.Put != nil:
		key = it.Put.Item
	case it.Update != nil:
		key = it.Update.Key
	case it.Delete != nil:
		key = it.Delete.Key
	case it.ConditionCheck != nil:
		key = it.ConditionCheck.Key
	}
	pk, ok := key["PK"].(*types.AttributeValueMemberS)
	if !ok {
		return "unknown"
	}
	kind, _, _ := strings.Cut(pk.Value, "#")
	return kind
}

type callsKey struct{}

// withCalls makes the DynamoDB calls made with ctx count in c.
func withCalls(ctx context.Context, c *calls) context.Context {
	return context.WithValue(ctx, callsKey{}, c)
}

// countCalls is a DynamoDB client option: a middleware that counts every
// API call — once, however often the SDK retries it over HTTP — in the
// calls its context carries, or in stray.
func countCalls(stray *calls) func(*dynamodb.Options) {
	count := middleware.InitializeMiddlewareFunc("CountCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		c, ok := ctx.Value(callsKey{}).(*calls)
		if !ok {
			c = stray
		}
		c.record(middleware.GetOperationName(ctx), in.Parameters, err)
		return out, md, err
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(count, middleware.After)
		})
	}
}
