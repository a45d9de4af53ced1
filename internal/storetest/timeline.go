package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// TimelineStore keeps each model's version timeline.
type TimelineStore interface {
	Timeline(ctx context.Context, model string) (*state.Timeline, error)
	RecordVersionChange(ctx context.Context, c signal.VersionChange) (bool, error)
}

func runTimeline(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	deploy := func(v string, at time.Time) signal.VersionChange {
		return signal.VersionChange{Model: "m", Version: v, At: at, Change: signal.ChangeDeployed, Environment: "prod",
			Lineage: map[string]any{"trained_through": "2026-03-31"}, Event: "e-" + v}
	}
	record := func(t *testing.T, st Store, c signal.VersionChange) bool {
		t.Helper()
		added, err := st.RecordVersionChange(ctx, c)
		if err != nil {
			t.Fatalf("RecordVersionChange(%s %s): %v", c.Version, c.Change, err)
		}
		return added
	}
	entries := func(t *testing.T, st Store, model string) []signal.VersionChange {
		t.Helper()
		tl, err := st.Timeline(ctx, model)
		if err != nil {
			t.Fatal(err)
		}
		return tl.Entries
	}

	t.Run("version timeline: in time order, idempotent, per model", func(t *testing.T) {
		st := newStore(t)
		approved := signal.VersionChange{Model: "m", Version: "v1", At: base.Add(frac), Change: signal.ChangeRegistry, Approval: signal.Approved, Stage: "Production", StageStatus: "Approved"}
		v2 := deploy("v2", base.Add(2*time.Hour))
		v1 := deploy("v1", base.Add(time.Hour))
		for _, c := range []signal.VersionChange{v2, approved, v1} { // out of order
			if !record(t, st, c) {
				t.Errorf("RecordVersionChange(%s %s) = false on first delivery", c.Version, c.Change)
			}
		}
		if record(t, st, v1) {
			t.Error("RecordVersionChange of a redelivery = true, want false")
		}
		record(t, st, deploy("v9", base))
		st.RecordVersionChange(ctx, signal.VersionChange{Model: "other", Version: "x", At: base, Change: signal.ChangeDeployed})
		want := []signal.VersionChange{deploy("v9", base), approved, v1, v2}
		if diff := cmp.Diff(want, entries(t, st, "m")); diff != "" {
			t.Errorf("Timeline(m) (-want +got):\n%s", diff)
		}
		if none := entries(t, st, "absent"); len(none) != 0 {
			t.Errorf("Timeline(absent) = %+v, want none", none)
		}
		// The pipeline reads it with the alerts an event touches.
		recs, err := st.Read(ctx, state.Keys{Timeline: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if recs.Timeline == nil || recs.Timeline.Model != "m" {
			t.Fatalf("Read(Timeline: m) = %+v, want m's timeline", recs.Timeline)
		}
		if diff := cmp.Diff(want, recs.Timeline.Entries); diff != "" {
			t.Errorf("Read(Timeline: m) (-want +got):\n%s", diff)
		}
	})

	t.Run("version timeline: bounded, the oldest dropped", func(t *testing.T) {
		st := newStore(t)
		for i := range state.MaxTimeline + 3 {
			record(t, st, deploy(fmt.Sprintf("v%03d", i), base.Add(time.Duration(i)*time.Minute)))
		}
		got := entries(t, st, "m")
		if len(got) != state.MaxTimeline || got[0].Version != "v003" || got[len(got)-1].Version != fmt.Sprintf("v%03d", state.MaxTimeline+2) {
			t.Errorf("Timeline after %d deploys: %d entries from %s, want %d from v003", state.MaxTimeline+3, len(got), got[0].Version, state.MaxTimeline)
		}
	})

	t.Run("version timeline: concurrent writers lose nothing", func(t *testing.T) {
		st := newStore(t)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				if _, err := st.RecordVersionChange(ctx, deploy(fmt.Sprintf("c%d", i), base.Add(time.Duration(i)*time.Minute))); err != nil {
					t.Errorf("concurrent RecordVersionChange: %v", err)
				}
			})
		}
		wg.Wait()
		if got := entries(t, st, "m"); len(got) != 4 {
			t.Errorf("Timeline after 4 concurrent deploys: %d entries, want 4", len(got))
		}
	})
}

// runTimelineLimits fills a timeline with the largest entries an event can
// make: the store keeps them all (DynamoDB's item limit holds).
func runTimelineLimits(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("version timeline: the largest entries fit", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		name := strings.Repeat("v", signal.MaxVersionField)
		for i := range state.MaxTimeline + 1 {
			c := signal.VersionChange{Model: strings.Repeat("m", 200), Version: fmt.Sprintf("%03d", i) + name[3:], At: base.Add(time.Duration(i) * time.Minute),
				Change: signal.ChangeDeployed, Environment: name, Approval: name, Stage: name, StageStatus: name, Event: strings.Repeat("e", 2000),
				Lineage: map[string]any{"a": strings.Repeat("é", 5000), "b": strings.Repeat("x", 3000), "c": strings.Repeat("<&>", 2000)}}
			if _, err := st.RecordVersionChange(ctx, c); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		tl, err := st.Timeline(ctx, strings.Repeat("m", 200))
		if err != nil || len(tl.Entries) != state.MaxTimeline {
			t.Fatalf("Timeline: %d entries, %v; want %d", len(tl.Entries), err, state.MaxTimeline)
		}
		if _, cut := tl.Entries[0].Lineage[state.LineageCut]; !cut {
			t.Errorf("a lineage over %d bytes was kept whole", state.MaxTimelineLineage)
		}
	})
}
