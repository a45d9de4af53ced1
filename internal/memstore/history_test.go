package memstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The store keeps every reading a series held, beyond the depth its rules
// read, up to MaxHistory, and a save and open keeps them.
func TestHistoryKeepsReadingsBeyondTheSeriesDepth(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)
	st := memstore.New(func() time.Time { return t0 })
	key := signal.SeriesKey{Model: "m", Kind: "drift", Metric: "psi", Feature: "f"}
	const depth, readings = 3, memstore.MaxHistory + 20
	var v int64
	var ss series.State
	for i := range readings {
		ss.Add(series.Observation{At: t0.Add(time.Duration(i) * time.Hour), Value: float64(i)}, depth)
		if err := st.Commit(ctx, &state.Commit{Series: &state.Series{Key: key, State: ss.Clone(), Version: v}}); err != nil {
			t.Fatal(err)
		}
		v++
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	opened, err := memstore.Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := opened.Histories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Key != key {
		t.Fatalf("histories = %+v, want one of %v", hs, key)
	}
	got := hs[0].Readings
	if len(got) != memstore.MaxHistory {
		t.Fatalf("kept %d readings, want MaxHistory = %d", len(got), memstore.MaxHistory)
	}
	if first, last := got[0].Value, got[len(got)-1].Value; first != 20 || last != readings-1 {
		t.Errorf("kept readings %v … %v, want the latest: 20 … %d", first, last, readings-1)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].At.After(got[i-1].At) {
			t.Fatalf("reading %d at %s is not after %s: not in order, or kept twice", i, got[i].At, got[i-1].At)
		}
	}
}
