package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// reliabilityModel: every reading breaches psi, and a history rule that
// never fires makes each series keep its last 200 readings.
const reliabilityModel = `model: m
stakes: critical
owners: {data: team, model: team, platform: team, product: team}
expect: [{kind: drift, every: 1d}]
rules:
  - name: psi
    when: kind == "drift" && metric == "psi" && value > 0.25
    severity: high
    owner: model
  - name: history
    when: kind == "drift" && metric == "psi" && mean(last(200)) > 1000
    severity: info
    owner: model
`

// Reliability runs the at-least-once scenario against a store: eight
// goroutines deliver perSeries events of each of features series (at most
// 200, the history kept), shuffled, a tenth of them twice. Whatever the
// order, each series' alert opens exactly once and is notified once, and
// no reading is lost to concurrent updates.
func Reliability(t *testing.T, st Store, features, perSeries int) {
	const workers = 8
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml":     {Data: []byte(reliabilityModel)},
		"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team\"}\n")},
	}, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	p := &pipeline.Processor{Config: cfg, Store: st, Now: func() time.Time { return Now }}
	var events [][]byte
	for f := range features {
		for i := range perSeries {
			events = append(events, []byte(fmt.Sprintf(`{"version":"0","id":"e-%d-%d","detail-type":"ML Model Signal","source":"test","detail":{"model":"m","kind":"drift","metric":"psi","feature":"f%02d","value":%v,"observed_at":%q}}`,
				f, i, f, 0.3+float64(i)/1000, t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))))
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
	notices, err := st.Pending(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 10*features)
	if err != nil {
		t.Fatal(err)
	}
	// The group's opening tells of its first alert, and its update
	// windows of the others, each once.
	told := map[string]int{}
	for _, n := range notices {
		if n.Kind == state.NoticeOpened {
			told[state.Subject(n.Alert.ID)]++
		}
		for _, s := range n.Joined {
			told[s]++
		}
	}
	if len(told) != features {
		t.Errorf("%d alerts told of in %d notifications, want %d (each alert opened)", len(told), len(notices), features)
	}
	for s, n := range told {
		if n != 1 {
			t.Errorf("%s told of %d times, want once", s, n)
		}
	}
	for f := range features {
		k := key
		k.Feature = fmt.Sprintf("f%02d", f)
		s, err := st.GetSeries(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if s.State.Len() != perSeries {
			t.Errorf("series %s keeps %d observations, want %d: some were lost", k.Feature, s.State.Len(), perSeries)
		}
		recs, err := st.AlertRecords(ctx, pipeline.AlertID("m", "psi", k.Feature, ""))
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.Verify(recs); err != nil {
			t.Errorf("audit chain of %s: %v", k.Feature, err)
		}
	}
}
