package signal

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// AWS's sample of a model package state change becomes an entry of the
// timeline of the model whose match.model_packages accepts its group.
func TestModelPackageStateChangeBecomesATimelineEntry(t *testing.T) {
	in := parseFile(t, "sagemaker-model-package-state-change.json")
	if _, err := in.Resolve(matchAll(nil)); err == nil {
		t.Fatal("Resolve of a version change: want an error, it is no signal")
	}
	got, ok, err := in.VersionChange(matchAll(map[MatchKind][]string{MatchModelPackage: {"versionedmp-p-idy6c3e1fiqj"}}))
	if !ok || err != nil {
		t.Fatalf("VersionChange: ok %v, %v", ok, err)
	}
	want := VersionChange{Model: "m", Version: "2", At: time.Date(2021, 2, 24, 17, 0, 14, 0, time.UTC), Change: ChangeRegistry,
		Approval: "Rejected", Stage: "Development", StageStatus: "Approved", Event: "844e2571-85d4-695f-b930-0153b71dcb42",
		Lineage: map[string]any{"registry_uri": "arn:aws:sagemaker:us-east-2:111122223333:model-package/versionedmp-p-idy6c3e1fiqj/2",
			"generated_by": "arn:aws:sagemaker:us-east-2:111122223333:pipeline/versionedmp-p-idy6c3e1fiqj/execution/4r83jejmhorv"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("VersionChange (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(in.Key, "sagemaker-model-package/versionedmp-p-idy6c3e1fiqj/2/Rejected/") {
		t.Errorf("Key = %q: want the package and its state", in.Key)
	}
	_, _, err = in.VersionChange(matchAll(nil))
	if err == nil || !strings.Contains(err.Error(), `model_packages "versionedmp-p-idy6c3e1fiqj"`) {
		t.Errorf("unmatched package: error %v, want it to name the group tried", err)
	}
}

// The native deploy event says which version went live where and when.
func TestVersionDeployedBecomesATimelineEntry(t *testing.T) {
	b, err := os.ReadFile("../../testdata/events/versions/version-deployed.json")
	if err != nil {
		t.Fatal(err)
	}
	in, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := in.VersionChange(matchAll(nil))
	if !ok || err != nil {
		t.Fatalf("VersionChange: ok %v, %v", ok, err)
	}
	want := VersionChange{Model: "credit-approval", Version: "2026.04.2", At: time.Date(2026, 4, 14, 9, 30, 0, 0, time.UTC),
		Change: ChangeDeployed, Environment: "prod", Event: "7d3c2a10-5b1e-4f0a-9c7e-2d4b8e6f1a01",
		Lineage: map[string]any{"trained_through": "2026-03-31", "training_data": "s3://ml-data/credit/2026-03"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("VersionChange (-want +got):\n%s", d)
	}
	if got.TrainedThrough() != "2026-03-31" {
		t.Errorf("TrainedThrough = %q", got.TrainedThrough())
	}
}

// deployed_at is bounded as observed_at is: absent, the event's time
// (when EventBridge saw the deploy) stands for it; ahead of the event's
// time by more than MaxDeployedSkew, or before Earliest, it is refused
// with the field named.
func TestDeployedAtIsBoundedByTheEventsTime(t *testing.T) {
	b, err := os.ReadFile("../../testdata/events/versions/version-deployed.json")
	if err != nil {
		t.Fatal(err)
	}
	with := func(deployedAt string) (VersionChange, error) {
		s := strings.Replace(string(b), `"deployed_at": "2026-04-14T09:30:00Z",`, deployedAt, 1)
		in, err := Parse([]byte(s))
		if err != nil {
			return VersionChange{}, err
		}
		c, _, err := in.VersionChange(matchAll(nil))
		return c, err
	}
	if c, err := with(""); err != nil || !c.At.Equal(time.Date(2026, 4, 14, 9, 30, 5, 0, time.UTC)) {
		t.Errorf("no deployed_at: %v, %v; want the event's time", c.At, err)
	}
	if c, err := with(`"deployed_at": "2026-04-14T09:33:00Z",`); err != nil || c.At.Minute() != 33 {
		t.Errorf("deployed_at a few minutes ahead (clock skew): %v, %v; want it kept", c.At, err)
	}
	for _, tc := range []struct {
		deployedAt string
		want       error
	}{
		{`"deployed_at": "2026-04-15T09:30:00Z",`, ErrFuture},
		{`"deployed_at": "0001-01-01T00:00:00Z",`, ErrTooEarly},
		{`"deployed_at": "1970-01-01T00:00:00Z",`, ErrTooEarly},
	} {
		_, err := with(tc.deployedAt)
		var fe *FieldError
		if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Field != "deployed_at" {
			t.Errorf("%s: error %v, want %v naming deployed_at", tc.deployedAt, err, tc.want)
		}
	}
}
