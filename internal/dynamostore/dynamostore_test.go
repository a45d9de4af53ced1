package dynamostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/storetest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// newStore creates a fresh table on DynamoDB Local.
func newStore(t *testing.T) storetest.Store {
	st, _ := newCountedStore(t)
	return st
}

// calls counts DynamoDB operations as they leave the SDK.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

func newCountedStore(t *testing.T) (*dynamostore.Store, *calls) {
	t.Helper()
	ctx := context.Background()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(ctx, dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	counted := &calls{n: map[string]int{}}
	count := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				counted.mu.Lock()
				counted.n[middleware.GetOperationName(ctx)]++
				counted.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		})
	}
	return dynamostore.New(dynamotest.Client(t, count), table, func() time.Time { return storetest.Now }), counted
}

// The tests run in parallel: each has its own table, and DynamoDB Local
// answers them concurrently, as the functions' invocations are answered.

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newStore)
}

// 20 series of 60 events on 8 workers: more conflicts per event than
// memstore's 50 series of 200, in a tenth of the events (11,000 took 100 s
// of DynamoDB Local on 2 cores).
func TestReliability(t *testing.T) {
	t.Parallel()
	storetest.Reliability(t, newStore(t), 20, 60)
}

// DynamoDB calls per event: a model whose rules keep no history costs one
// read and no write until an alert changes; a model with history costs one
// read and one conditional write.
func TestCallsPerEvent(t *testing.T) {
	t.Parallel()
	st, counted := newCountedStore(t)
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/quiet.yaml": {Data: []byte("model: quiet\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\n" +
			"expect: [{kind: drift, every: 1d}]\nrules:\n  - {name: psi, when: 'value > 0.25', severity: high, owner: model}\n")},
		"rules/history.yaml": {Data: []byte("model: history\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\n" +
			"expect: [{kind: drift, every: 1d}]\nrules:\n  - {name: trend, when: 'slope(5) > 0.1', severity: high, owner: model}\n")},
		"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\n")},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatal(err, cfg.Errors())
	}
	p := &pipeline.Processor{Config: cfg, Store: st, Now: func() time.Time { return storetest.Now }}
	ctx := context.Background()
	event := func(model string, i int, v float64) []byte {
		return []byte(fmt.Sprintf(`{"version":"0","id":"%s-%d","detail-type":"ML Model Signal","source":"t","detail":{"model":%q,"kind":"drift","metric":"psi","value":%v,"observed_at":"2026-03-01T%02d:00:00Z"}}`, model, i, model, v, i))
	}
	for i, tc := range []struct {
		name          string
		model         string
		value         float64
		reads, writes int
	}{
		{"no history, clean", "quiet", 0.1, 1, 0},
		{"no history, clean again", "quiet", 0.1, 1, 0},
		{"history kept, clean", "history", 0.1, 1, 1},
	} {
		counted.reset()
		if _, err := p.Process(ctx, event(tc.model, i+1, tc.value)); err != nil {
			t.Fatal(err)
		}
		if r, w := counted.get("GetItem"), counted.get("TransactWriteItems"); r != tc.reads || w != tc.writes {
			t.Errorf("%s: %d GetItem, %d TransactWriteItems; want %d and %d", tc.name, r, w, tc.reads, tc.writes)
		}
	}
	counted.reset()
	out, err := p.Process(ctx, event("quiet", 21, 0.4))
	if err != nil || len(out.Changes) != 1 {
		t.Fatalf("opening breach: %+v, %v", out, err)
	}
	// Opening reads the series, then in one batch the alert, the model's
	// inhibitors (drift is an inhibition target) and the rule's group,
	// and writes everything in one transaction.
	if r, b, w := counted.get("GetItem"), counted.get("BatchGetItem"), counted.get("TransactWriteItems"); r != 1 || b != 1 || w != 1 {
		t.Errorf("opening breach: %d GetItem, %d BatchGetItem, %d TransactWriteItems; want 1, 1 and 1", r, b, w)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	storetest.Limits(t, newStore)
}
