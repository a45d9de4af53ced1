package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
)

// BenchmarkReplayQuiet replays non-firing events (clean readings of a
// model whose rules keep no history) through the whole pipeline on the
// embedded store, as `stakeout replay` does.
// Target: ≥ 100,000 events/s on the 2-core development machine.
func BenchmarkReplayQuiet(b *testing.B) {
	p := &Processor{Config: testConfig(b), Store: memstore.New(func() time.Time { return t0 })}
	const n = 4096
	events := make([][]byte, n)
	for i := range events {
		events[i] = event(fmt.Sprintf("q%d", i), "drift", "psi", fmt.Sprintf("f%d", i%50), 0.1, time.Duration(i)*time.Minute)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := p.Process(ctx, events[i%n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
