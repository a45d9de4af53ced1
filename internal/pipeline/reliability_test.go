package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// DeliveryStore is a Store the reliability test can inspect afterwards.
type DeliveryStore interface {
	Store
	Pending(ctx context.Context, limit int) ([]*state.Notification, error)
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
}

// Reliability runs the at-least-once scenario against a store: eight
// goroutines deliver 10,000 events of 50 series, shuffled, a tenth of them
// twice. Every reading breaches, so whatever the order each series' alert
// opens exactly once; a history rule keeps all 200 readings of each series,
// so none may be lost to concurrent updates.
func Reliability(t *testing.T, st DeliveryStore) {
	const features, perSeries, workers = 50, 200, 8
	model := testModel + `  - name: history
    when: kind == "drift" && metric == "psi" && mean(last(200)) > 1000
    severity: info
    owner: model
`
	p := &Processor{Config: configFrom(t, model), Store: st, Now: func() time.Time { return t0.Add(30 * 24 * time.Hour) }}
	var events [][]byte
	for f := range features {
		for i := range perSeries {
			id := fmt.Sprintf("e-%d-%d", f, i)
			events = append(events, event(id, "drift", "psi", fmt.Sprintf("f%02d", f), 0.3+float64(i)/1000, time.Duration(i)*time.Minute))
		}
	}
	for i := range len(events) / 10 {
		events = append(events, events[i*10])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	var wg sync.WaitGroup
	var mu sync.Mutex
	opened := map[string]int{}
	next := make(chan []byte)
	for range workers {
		wg.Go(func() {
			for raw := range next {
				for attempt := 0; ; attempt++ {
					out, err := p.Process(context.Background(), raw)
					if err != nil {
						if attempt > 50 {
							t.Errorf("event kept failing: %v", err)
							break
						}
						continue // what Lambda does with an error: deliver again
					}
					mu.Lock()
					for _, c := range out.Changes {
						if c.State == "opened" {
							opened[c.Alert]++
						}
					}
					mu.Unlock()
					break
				}
			}
		})
	}
	for _, raw := range events {
		next <- raw
	}
	close(next)
	wg.Wait()

	if len(opened) != features {
		t.Errorf("%d alerts opened, want %d", len(opened), features)
	}
	for id, n := range opened {
		if n != 1 {
			t.Errorf("alert %s opened %d times, want once", id, n)
		}
	}
	ctx := context.Background()
	notices, err := st.Pending(ctx, 10*features)
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != features {
		t.Errorf("%d notifications queued, want %d (one per alert opened)", len(notices), features)
	}
	for f := range features {
		s, err := st.GetSeries(ctx, event2key(fmt.Sprintf("f%02d", f)))
		if err != nil {
			t.Fatal(err)
		}
		if s.State.Len() != perSeries {
			t.Errorf("series f%02d keeps %d observations, want %d: some were lost", f, s.State.Len(), perSeries)
		}
		recs, err := st.AlertRecords(ctx, AlertID("m", "psi", fmt.Sprintf("f%02d", f), ""))
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.Verify(recs); err != nil {
			t.Errorf("audit chain of f%02d: %v", f, err)
		}
	}
}

func TestReliabilityOnMemstore(t *testing.T) {
	Reliability(t, memstore.New(func() time.Time { return t0.Add(30 * 24 * time.Hour) }))
}

func event2key(feature string) (k seriesKey) {
	k.Model, k.Kind, k.Metric, k.Feature = "m", "drift", "psi", feature
	return k
}
