package putevents_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/putevents"
)

type discard struct{}

func (discard) Route(context.Context, json.RawMessage) error { return nil }

// BenchmarkPutEvents measures the endpoint alone (decode, validate, build
// the envelope, match, answer) in process, with a router that does
// nothing, for calls of 1 and 10 entries.
//
// Target: at least 50,000 entries/s in calls of 10 entries and 25,000 in
// calls of 1 on the 2-core development box, so that the endpoint takes at
// most a quarter of one core's time (half for single-entry calls) at the
// goal for the whole system, 5 × Alertmanager's 2,396 alerts/s ≈ 12,000
// alerts/s (issue 16).
func BenchmarkPutEvents(b *testing.B) {
	h, err := putevents.New(putevents.Config{Router: discard{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 10} {
		body := entriesJSON(n, `{"model":"churn-prediction","kind":"drift","metric":"psi","feature":"tenure_months","value":0.27,"observed_at":"2026-03-02T03:00:00Z"}`)
		b.Run(map[int]string{1: "1 entry", 10: "10 entries"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
				req.Header.Set("X-Amz-Target", target)
				req.Header.Set("Content-Type", amzJSON)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
