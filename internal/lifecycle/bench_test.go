package lifecycle_test

import (
	"bufio"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
)

// BenchmarkApply is one person's change to a group — here alternately a
// snooze and an acknowledgement, each a read of the group and its alert
// and one conditional write with audit records and a notification — on the
// embedded store: stakeout's own work in a Slack button press, which must
// fit in Slack's 3 s next to a few DynamoDB round trips of milliseconds.
// Target: under 250 µs per change (a thousandth of the budget); most of it
// is hashing the two audit records into the alert's chain.
func BenchmarkApply(b *testing.B) {
	cfg, err := config.Load("../..")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	p := &pipeline.Processor{Config: cfg, Store: st, Now: clock}
	f, err := os.Open("../../testdata/scenarios/credit-accuracy-collapse.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for i := 0; i < 3 && sc.Scan(); i++ {
		if _, err := p.Process(context.Background(), sc.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	g, err := st.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
	if err != nil || g == nil {
		b.Fatal(g, err)
	}
	m := &lifecycle.Manager{Config: cfg, Store: st, Now: clock}
	by := lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := lifecycle.Change{Action: lifecycle.Acknowledge, Group: g.ID, By: by}
		if i%2 == 0 {
			c = lifecycle.Change{Action: lifecycle.Snooze, Group: g.ID, By: by, Until: now.Add(time.Hour)}
		}
		i++
		res, err := m.Apply(context.Background(), c)
		if err != nil || !res.Done {
			b.Fatal(res, err)
		}
	}
}
