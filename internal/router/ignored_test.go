package router

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// The rules of AWS service events see every job of the account: AWS's own
// processing job sample, which no model of the example configuration
// matches, is ignored — neither quarantined nor dropped silently: logged
// with the reason and counted as EventsIgnored, on the real table.
func TestUnmatchedServiceEventIsIgnoredLoggedAndCounted(t *testing.T) {
	h, st, logs := newTestHandler(t)
	var emitted bytes.Buffer
	h.metrics = metrics.New(&emitted, metrics.Namespace, nil)
	ctx := context.Background()
	raw, err := os.ReadFile("../../testdata/events/aws/sagemaker-processing-job-failed.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, raw); err != nil {
		t.Fatalf("handle: %v", err)
	}
	if q, err := st.QuarantinedOn(ctx, h.now()); err != nil || len(q) != 0 {
		t.Errorf("quarantined %+v (%v), want nothing", q, err)
	}
	if !strings.Contains(logs.String(), `"msg":"event ignored"`) || !strings.Contains(logs.String(), `matches no model (tried processing_jobs \"integ-test-analytics-algo-`) {
		t.Errorf("ignored event not logged with its reason:\n%s", logs.String())
	}
	if got := strings.Count(emitted.String(), `"EventsIgnored":1`); got != 1 {
		t.Errorf("EventsIgnored recorded %d times, want once:\n%s", got, emitted.String())
	}
}
