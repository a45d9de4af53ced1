package pdnotify

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

func ptr(f float64) *float64 { return &f }

func view(t testing.TB, kind string) *notify.View {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	a := state.Alert{ID: "credit-approval/accuracy-loss", Model: "credit-approval", Rule: "accuracy-loss",
		Kind: "quality", Metric: "accuracy", Status: state.Open, Severity: "critical", Role: "model", Owner: "credit-ds",
		Notify: []string{"slack", "pagerduty"}, AckWithin: "15m", Stakes: "critical",
		Summary: "Accuracy 0.81 against a 0.9 baseline", Why: "(baseline - value) = 0.09 > 0.03",
		Runbook: "https://wiki.example.com/runbooks/credit-accuracy", Value: 0.81, Baseline: ptr(0.90),
		Recent: []float64{0.9, 0.88, 0.81}, Impact: ptr(1620000.004), ModelVersion: "v42",
		Lineage: map[string]any{"training_data": "s3://ml/credit/2026-01"}, OpenedAt: t0, UpdatedAt: t0}
	n := &state.Notification{ID: "credit-approval/accuracy-loss@20260301T060000Z.1#1", Kind: kind,
		Group: "credit-approval/accuracy-loss@20260301T060000Z.1", Model: "credit-approval", Rule: "accuracy-loss",
		Owner: "credit-ds", Role: "model", Channels: []string{"slack", "pagerduty"}, Alert: a, Members: 1, Created: t0}
	v := notify.NewView(cfg, n)
	v.SlackLink = "https://slack.com/archives/C0CREDITDS/p1700000000000100"
	return v
}

func TestEventGolden(t *testing.T) {
	for _, kind := range []string{state.NoticeOpened, state.NoticeResolved} {
		t.Run(kind, func(t *testing.T) {
			ev, ok := Event(view(t, kind))
			if !ok {
				t.Fatal("no event")
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", kind+".json.golden")
			if *update {
				os.WriteFile(path, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
	if _, ok := Event(view(t, state.NoticeUpdated)); ok {
		t.Error("an update makes a PagerDuty event; it must not page again")
	}
}

// TestEventsPassPagerDutysSchema sends each kind of event, with hostile
// and oversized content, to a server that checks every body against
// PagerDuty's published OpenAPI document and documented limits.
func TestEventsPassPagerDutysSchema(t *testing.T) {
	pd := notifytest.NewPagerDuty(t)
	key := map[string]string{secret.EnvVar("secret:k"): pd.RoutingKey()}
	c := New(secret.NewEnv(func(k string) (string, bool) { v, ok := key[k]; return v, ok }), pd.URL())
	long := strings.Repeat("ü", 3000)
	views := []*notify.View{view(t, state.NoticeOpened), view(t, state.NoticeResolved)}
	hostile := view(t, state.NoticeOpened)
	hostile.Summary, hostile.Why, hostile.Feature, hostile.Group = long, long, "\x00<script>", "g/"+strings.Repeat("x", 400)
	hostile.Runbook, hostile.SlackLink = "javascript:alert(1)", "not a url"
	hostile.Severity = "bogus"
	views = append(views, hostile)
	for _, v := range views {
		ev, _ := Event(v)
		if err := c.Send(context.Background(), "secret:k", ev); err != nil {
			t.Errorf("Send(%s %s): %v", ev.Action, ev.DedupKey, err)
		}
		if n := len(ev.DedupKey); n > MaxDedupKey {
			t.Errorf("dedup key of %d bytes", n)
		}
	}
	for _, v := range pd.Violations() {
		t.Errorf("PagerDuty refused: %s", v)
	}
	if inc, ok := pd.Incident(DedupKey(views[0].Group)); !ok || inc.Status != notifytest.StatusResolved {
		t.Errorf("incident %+v, want resolved", inc)
	}
	if DedupKey(hostile.Group) == DedupKey(hostile.Group+"y") {
		t.Error("two long group ids share a dedup key")
	}
}

func TestErrorsNeverCarryTheRoutingKey(t *testing.T) {
	pd := notifytest.NewPagerDuty(t)
	const routingKey = "notifytestWRONG00000000000000key"
	c := New(secret.NewEnv(func(string) (string, bool) { return routingKey, true }), pd.URL())
	ev, _ := Event(view(t, state.NoticeOpened))
	err := c.Send(context.Background(), "secret:k", ev)
	if err == nil || !notify.Permanent(err) {
		t.Fatalf("Send with an unknown key = %v, want a permanent error", err)
	}
	if strings.Contains(err.Error(), routingKey) || strings.Contains(notify.Reason(err), routingKey) {
		t.Errorf("error %q carries the routing key", err)
	}
}

// BenchmarkEvent: building one PagerDuty event and encoding it as it is
// sent. Target ≤ 50 µs.
func BenchmarkEvent(b *testing.B) {
	v := view(b, state.NoticeOpened)
	b.ReportAllocs()
	for b.Loop() {
		ev, _ := Event(v)
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// Every incident of a group reads back as the group and its re-page count;
// keys not stakeout's do not.
func TestIncidentKeysLeadBackToTheirGroup(t *testing.T) {
	const group = "credit-approval/accuracy-loss@20260309T060000Z.1"
	for repages := range 12 {
		key := IncidentKey(group, repages)
		g, n, ok := ParseIncidentKey(key)
		if !ok || g != group || n != repages {
			t.Errorf("ParseIncidentKey(%q) = %q, %d, %v; want %q, %d", key, g, n, ok, group, repages)
		}
	}
	if IncidentKey(group, 0) != DedupKey(group) {
		t.Errorf("the first incident's key %q is not the group's %q", IncidentKey(group, 0), DedupKey(group))
	}
	for _, key := range []string{"other/" + group, group + "/2"} {
		if g, _, ok := ParseIncidentKey(key); ok {
			t.Errorf("ParseIncidentKey(%q) = %q: not stakeout's key", key, g)
		}
	}
	if g, n, _ := ParseIncidentKey("stakeout/" + group + "/1"); g != group+"/1" || n != 0 {
		t.Errorf("a suffix no incident has read as group %q, re-page %d", g, n)
	}
}
