package deliver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
)

// heldPagingConfig is testdata/working-hours with its warning cell paging
// as well, and held outside working hours: what a held opening would
// page about.
func heldPagingConfig(t *testing.T) option {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../testdata/working-hours")); err != nil {
		t.Fatal(err)
	}
	stakes := filepath.Join(dir, "rules", "stakes.yaml")
	b, err := os.ReadFile(stakes)
	if err != nil {
		t.Fatal(err)
	}
	held := strings.Replace(string(b), "warning:  {notify: [slack],", "warning:  {notify: [slack, pagerduty],", 1)
	if held == string(b) {
		t.Fatal("stakes.yaml has no warning cell to change")
	}
	if err := os.WriteFile(stakes, []byte(held), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(o *envOptions) { o.configDir = dir }
}

// A warning that opens at 03:00 in London is held to 09:00; it resolves
// at 04:00. At 09:00 nobody is paged, posted to or resolved at: the
// opening and the resolution after it are dropped, and the alert's trail
// says so.
func TestAHeldOpeningWhoseGroupIsOverIsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, heldPagingConfig(t))
	e.now = time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC) // a Tuesday, 03:00 in London
	drift := `"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.31`
	opened := e.observe(drift)
	if rep := e.deliver(opened); rep.Sent != 0 {
		t.Fatalf("report %+v: the opening went out before working hours", rep)
	}
	e.advance(time.Hour)
	resolved := e.observe(`"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.05`)
	if len(opened) != 1 || len(resolved) != 1 {
		t.Fatalf("queued %v then %v, want an opening then a resolution", opened, resolved)
	}
	e.deliver(resolved)
	e.advance(5 * time.Hour) // 08:00Z: 09:00 in London
	rep, err := e.sender.Drain(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 2 || rep.Sent != 0 {
		t.Errorf("report %+v, want the opening and its resolution dropped", rep)
	}
	if n := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.update"); n != 0 {
		t.Errorf("%d Slack calls for a group over before working hours, want 0", n)
	}
	if n := e.pd.Calls(); n != 0 {
		t.Errorf("%d PagerDuty events for a group over before working hours, want 0", n)
	}
	for _, id := range append(opened, resolved...) {
		n, err := e.st.GetNotice(context.Background(), id)
		if err != nil || n == nil || n.Dropped == "" || n.Sent.IsZero() {
			t.Fatalf("notification %s = %+v, %v; want it dropped and out of the outbox", id, n, err)
		}
	}
	alert := mustAlertOf(t, e, opened[0])
	recs, err := e.st.AlertRecords(context.Background(), alert)
	if err != nil {
		t.Fatal(err)
	}
	var dropped []string
	for _, r := range recs {
		if r.Action == audit.Dropped {
			dropped = append(dropped, r.Detail)
		}
	}
	if len(dropped) != 2 || !strings.Contains(dropped[0], "group was over") {
		t.Errorf("dropped records %q, want the opening's and the resolution's", dropped)
	}
}

func mustAlertOf(t *testing.T, e *env, notice string) string {
	t.Helper()
	n, err := e.st.GetNotice(context.Background(), notice)
	if err != nil || n == nil {
		t.Fatalf("notification %s: %+v, %v", notice, n, err)
	}
	return n.Alert.ID
}
