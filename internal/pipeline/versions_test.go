package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func deployed(id, version string, at time.Duration) []byte {
	return deployedTo(id, version, "prod", at)
}

func deployedTo(id, version, env string, at time.Duration) []byte {
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ML Model Version Deployed","source":"ml.deploy","time":%q,"detail":{"model":"m","version":%q,"environment":%q,"deployed_at":%q,"lineage":{"trained_through":"2026-02-28"}}}`,
		id, t0.Add(at).Format(time.RFC3339), version, env, t0.Add(at).Format(time.RFC3339)))
}

func packageChange(id, group string, version int, approval string, at time.Duration) []byte {
	ts := t0.Add(at).Format(time.RFC3339)
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"SageMaker Model Package State Change","source":"aws.sagemaker","time":%q,"detail":{"ModelPackageGroupName":%q,"ModelPackageVersion":%d,"ModelApprovalStatus":%q,"ModelLifeCycle":{"Stage":"Production","StageStatus":"Approved"},"LastModifiedTime":%q}}`,
		id, ts, group, version, approval, ts))
}

// Registry and deploy events fill the model's timeline without evaluating
// a rule; an alert on an event without a version carries the version live
// when it was observed and the version approved before it.
func TestAlertsCarryTheVersionLiveWhenObserved(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(func() time.Time { return t0.Add(48 * time.Hour) })
	p := &Processor{Config: testConfig(t), Store: st, Timelines: st, Sightings: st}
	for _, raw := range [][]byte{
		packageChange("p1", "m", 1, "Approved", 0), // a group named as the model
		deployed("d1", "1", time.Hour),
		packageChange("p2", "m", 2, "Approved", 24*time.Hour),
		deployed("d2", "2", 25*time.Hour),
		deployedTo("s3", "3", "staging", 26*time.Hour), // not live where alerts come from
	} {
		out := process(t, p, raw)
		if out.Quarantined != "" || out.Evaluated != 0 || !out.Wrote {
			t.Fatalf("version event: %+v, want it recorded and no rule evaluated", out)
		}
	}
	if out := process(t, p, deployed("d2", "2", 25*time.Hour)); !out.Duplicate {
		t.Errorf("redelivered deploy: %+v, want Duplicate", out)
	}
	tl, _ := st.Timeline(ctx, "m")
	if len(tl.Entries) != 5 {
		t.Fatalf("timeline has %d entries, want 5", len(tl.Entries))
	}
	process(t, p, event("e1", "drift", "psi", "income", 0.4, 30*time.Hour))
	a, err := st.GetAlert(ctx, "m/psi/feature=income")
	if err != nil || a == nil {
		t.Fatalf("alert: %v, %v", a, err)
	}
	if a.ModelVersion != "2" {
		t.Errorf("ModelVersion = %q, want the version live in production at observed_at, 2", a.ModelVersion)
	}
	want := &state.Release{LiveSince: t0.Add(25 * time.Hour), Environment: "prod", TrainedThrough: "2026-02-28", Previous: "1"}
	if d := cmp.Diff(want, a.Release); d != "" {
		t.Errorf("Release (-want +got):\n%s", d)
	}
	// The registry's rule sees every package group of the account.
	if out := process(t, p, packageChange("p3", "unknown-group", 1, "Approved", 26*time.Hour)); out.Ignored == "" || out.Quarantined != "" || out.Recorded != nil {
		t.Errorf("package of no model: %+v, want it ignored with the reason", out)
	}
}
