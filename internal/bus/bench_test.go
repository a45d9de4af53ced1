package bus_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/stakeout-ml/stakeout/internal/bus"
)

// accepting is EventBridge answering every entry with success, so the
// benchmark measures Publish's own work — encoding, sizing, batching — and
// not HTTP.
type accepting struct{}

func (accepting) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out := &eventbridge.PutEventsOutput{Entries: make([]types.PutEventsResultEntry, len(in.Entries))}
	for i := range out.Entries {
		out.Entries[i].EventId = aws.String("id")
	}
	return out, nil
}

// BenchmarkPublish publishes a burst of 23 alert events, as one grouped
// evaluation can open. Target: under 50 µs and 300 allocations per burst,
// nothing next to the PutEvents round trips (tens of ms) it prepares.
func BenchmarkPublish(b *testing.B) {
	p := bus.New(accepting{}, "stakeout")
	es := alerts(23)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Publish(ctx, es...); err != nil {
			b.Fatal(err)
		}
	}
}
