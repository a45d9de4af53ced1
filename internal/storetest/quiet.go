package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// runQuiets: a model's windows made from Slack are one record, absent
// (empty, version 0) until a commit writes it, written conditionally on
// its version with the window's audit trail, and kept per model.
func runQuiets(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("a model's quiet windows are written on their version and read back", func(t *testing.T) {
		st := newStore(t)
		empty, err := st.GetQuiets(ctx, "m")
		if err != nil || empty.Version != 0 || len(empty.Windows) != 0 || empty.Model != "m" {
			t.Fatalf("GetQuiets(none) = %+v, %v; want an empty record of m at version 0", empty, err)
		}
		w := state.Quiet{Name: "quiet/m/1", Model: "m", Rule: "r", Reason: "backfill", From: base, Until: base.Add(2 * time.Hour), By: "slack:U1", ByName: "ana"}
		q := &state.Quiets{Model: "m", Windows: []state.Quiet{w}}
		a := &state.Alert{ID: w.AuditID(), Model: state.QuietModel, Rule: "m", Status: state.Open}
		c := &state.Commit{Quiets: q}
		c.Record(a, record(a.ID, 1, base))
		if err := st.Commit(ctx, c); err != nil {
			t.Fatalf("commit the window with its audit record: %v", err)
		}
		got, err := st.GetQuiets(ctx, "m")
		if err != nil || got.Version != 1 {
			t.Fatalf("GetQuiets = %+v, %v; want version 1", got, err)
		}
		if diff := cmp.Diff(q.Windows, got.Windows); diff != "" {
			t.Errorf("windows read back (-written +read):\n%s", diff)
		}
		recs, err := st.Read(ctx, state.Keys{Quiets: "m"})
		if err != nil || recs.Quiets == nil || recs.Quiets.Version != 1 || len(recs.Quiets.Windows) != 1 {
			t.Errorf("Read(Quiets: m) = %+v, %v; want version 1 with the window", recs, err)
		}
		if none, err := st.Read(ctx, state.Keys{Quiets: "m2"}); err != nil || none.Quiets == nil || none.Quiets.Version != 0 || none.Quiets.Model != "m2" {
			t.Errorf("Read(Quiets: m2) = %+v, %v; want an empty record of m2", none, err)
		}
		if other, _ := st.GetQuiets(ctx, "m2"); len(other.Windows) != 0 {
			t.Errorf("model m2 has m's windows: %+v", other.Windows)
		}
		stale := &state.Quiets{Model: "m"} // read before the first commit
		if err := st.Commit(ctx, &state.Commit{Quiets: stale}); !errors.Is(err, state.ErrConflict) {
			t.Errorf("a write on a stale version = %v, want ErrConflict", err)
		}
		got.Windows = nil // ended
		if err := st.Commit(ctx, &state.Commit{Quiets: got}); err != nil {
			t.Fatalf("end the window: %v", err)
		}
		if after, _ := st.GetQuiets(ctx, "m"); after.Version != 2 || len(after.Windows) != 0 {
			t.Errorf("after ending it: %+v; want version 2, no windows", after)
		}
		if recs, err := st.AlertRecords(ctx, w.AuditID()); err != nil || len(recs) != 1 {
			t.Errorf("the window's audit trail = %d records, %v; want 1", len(recs), err)
		}
	})
}
