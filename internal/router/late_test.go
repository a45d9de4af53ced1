package router

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// A reading dated year 1 is quarantined with its reason, and a late one is
// logged with why it is late and counted as EventsLate: neither is dropped
// silently, on the real table.
func TestHandleTimeSanity(t *testing.T) {
	h, st, logs := newTestHandler(t)
	var emitted bytes.Buffer
	h.metrics = metrics.New(&emitted, metrics.Namespace, nil)
	ctx := context.Background()
	ev := func(id, at string) []byte {
		return []byte(`{"version":"0","id":"` + id + `","detail-type":"ML Model Signal","source":"t","detail":{"model":"credit-approval","kind":"drift","metric":"psi","feature":"age","value":0.9,"observed_at":"` + at + `"}}`)
	}
	for _, raw := range [][]byte{ev("year-one", "0001-01-01T00:00:00Z"), ev("on-time", "2026-03-02T00:00:00Z"), ev("late", "2026-03-01T00:00:00Z")} {
		if err := h.Handle(ctx, raw); err != nil {
			t.Fatalf("handle: %v", err)
		}
	}
	q, err := st.QuarantinedOn(ctx, h.now())
	if err != nil || len(q) != 1 || q[0].ID != "year-one" || !strings.Contains(q[0].Reason, `field "observed_at": 0001-01-01T00:00:00Z is before 2000-01-01`) {
		t.Errorf("quarantined %+v (%v), want the year-one event with its reason", q, err)
	}
	if !strings.Contains(logs.String(), `"msg":"event late"`) || !strings.Contains(logs.String(), "late: observed_at 2026-03-01T00:00:00Z is no newer than the series' latest reading 2026-03-02T00:00:00Z") {
		t.Errorf("late event not logged with its reason:\n%s", logs.String())
	}
	if got := strings.Count(emitted.String(), `"EventsLate":1`); got != 1 {
		t.Errorf("EventsLate recorded %d times, want once:\n%s", got, emitted.String())
	}
}
