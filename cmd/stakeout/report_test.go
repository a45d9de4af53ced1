package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
)

// replayToState replays a scenario with the example configuration, as the
// README's quick start does, and returns the state file it saved. The
// test runs in the repository root from then on.
func replayToState(t *testing.T, scenario string, flags ...string) string {
	t.Helper()
	t.Chdir("../..")
	path := filepath.Join(t.TempDir(), scenario+".json")
	args := append(append([]string{"replay", "--state", path}, flags...), "testdata/scenarios/"+scenario+".jsonl")
	var out, errOut bytes.Buffer
	if code := run(args, stdio{in: strings.NewReader(""), out: &out, err: &errOut}); code != 0 {
		t.Fatalf("stakeout %s exited %d:\n%s", strings.Join(args, " "), code, errOut.String())
	}
	return path
}

func runReport(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"report"}, args...), stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

// writeReport runs stakeout report on a state and returns the page.
func writeReport(t *testing.T, statePath string, flags ...string) string {
	t.Helper()
	page := filepath.Join(t.TempDir(), "report.html")
	code, _, stderr := runReport(append([]string{"--state", statePath, "-o", page}, flags...)...)
	if code != 0 {
		t.Fatalf("stakeout report exited %d: %s", code, stderr)
	}
	return page
}

// marksByRule counts the page's marks by chart (model/rule) and kind, as
// the DOM holds them: elements with data-mark inside an svg with data-rule.
func marksByRule(t *testing.T, page string) map[string]map[string]int {
	t.Helper()
	f, err := os.Open(page)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	var walk func(n *html.Node, chart string)
	walk = func(n *html.Node, chart string) {
		if n.Type == html.ElementNode {
			if r := attr(n, "data-rule"); r != "" {
				chart = attr(n, "data-model") + "/" + r
			}
			if k := attr(n, "data-mark"); k != "" {
				if out[chart] == nil {
					out[chart] = map[string]int{}
				}
				out[chart][k]++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, chart)
		}
	}
	walk(doc, "")
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// quickStartMarks are the marks of the quick start's story
// (testdata/scenarios/README.md): feature-drift and predicted-churn-surge
// open once each; auc-slow-slide opens, escalates to head-of-ml 8 hours
// later and re-notifies them until the last reading (8 steps).
var quickStartMarks = map[string]map[string]int{
	"churn-prediction/auc-slow-slide":        {"opened": 1, "escalated": 8},
	"churn-prediction/feature-drift":         {"opened": 1},
	"churn-prediction/predicted-churn-surge": {"opened": 1},
}

func TestReportMarksEachAlertsTrail(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		flags    []string
		want     map[string]map[string]int
	}{
		{"churn-competitor-launch", nil, quickStartMarks},
		// The feed alert pages data-platform and escalates; the three drift
		// alerts it causes are suppressed, and resolve with it.
		{"credit-feed-break", nil, map[string]map[string]int{
			"credit-approval/bureau-feed-stale": {"opened": 1, "escalated": 7, "resolved": 1},
			"credit-approval/key-feature-drift": {"suppressed": 3, "resolved": 3},
		}},
		// Escalation along the chain until night 4 resolves it; then the
		// silence alert opens and escalates in turn.
		{"credit-silent-drift-job", []string{"--silence", "--until", "2026-04-05T06:00:00Z"}, map[string]map[string]int{
			"credit-approval/key-feature-drift": {"opened": 1, "escalated": 7, "resolved": 1},
			"credit-approval/silent:drift":      {"opened": 1, "escalated": 2},
		}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			page := writeReport(t, replayToState(t, tc.scenario, tc.flags...))
			if diff := cmp.Diff(tc.want, marksByRule(t, page)); diff != "" {
				t.Errorf("marks by chart and kind (-want +got):\n%s", diff)
			}
		})
	}
}

// --since counts back from the state's latest time (2026-04-05 06:00),
// not the wall clock: the last 7 days hold auc-slow-slide's opening and
// escalations and predicted-churn-surge's opening, not feature-drift's.
func TestReportSinceCountsBackFromTheStatesLatestTime(t *testing.T) {
	page := writeReport(t, replayToState(t, "churn-competitor-launch"), "--since", "7d")
	want := map[string]map[string]int{
		"churn-prediction/auc-slow-slide":        {"opened": 1, "escalated": 8},
		"churn-prediction/predicted-churn-surge": {"opened": 1},
	}
	if diff := cmp.Diff(want, marksByRule(t, page)); diff != "" {
		t.Errorf("marks of the last 7 days (-want +got):\n%s", diff)
	}
}

// An alert someone acknowledges gets its mark, and its owner's lane says
// how long it took.
func TestReportShowsAcknowledgementsAndTheWait(t *testing.T) {
	path := replayToState(t, "churn-competitor-launch")
	ctx := context.Background()
	ackAt := time.Date(2026, 4, 5, 7, 0, 0, 0, time.UTC)
	st, err := memstore.Open(path, func() time.Time { return ackAt })
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.GetGroup(ctx, "churn-prediction", "feature-drift")
	if err != nil || g == nil {
		t.Fatalf("the feature-drift group: %v, %v", g, err)
	}
	m := &lifecycle.Manager{Config: cfg, Store: st, Now: func() time.Time { return ackAt }}
	res, err := m.Apply(ctx, lifecycle.Change{Action: lifecycle.Acknowledge, Group: g.ID, By: lifecycle.Actor{ID: "slack:U0GROWTH1", Name: "dana"}})
	if err != nil || !res.Done {
		t.Fatalf("acknowledge: %+v, %v", res, err)
	}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	page := writeReport(t, path, "--model", "churn-prediction")
	if got := marksByRule(t, page)["churn-prediction/feature-drift"]; got["acknowledged"] != 1 {
		t.Errorf("feature-drift marks = %v, want one acknowledged", got)
	}
	body, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// Opened 2026-03-26 04:00, acknowledged 2026-04-05 07:00.
	if !strings.Contains(string(body), "answered after 10d03h: acknowledged by slack:U0GROWTH1") {
		t.Errorf("the page does not say growth-ds answered after 10d03h")
	}
	if !strings.Contains(string(body), "asked 2×, answered 1, median 10d03h") {
		t.Errorf("growth-ds's lane does not count one answer of two asks")
	}
}

func TestReportUsageAndExitCodes(t *testing.T) {
	state := replayToState(t, "churn-competitor-launch")
	for _, tc := range []struct {
		name     string
		args     []string
		wantExit int
		wantErr  string
	}{
		{"no state", []string{}, 2, "name the state: --state FILE"},
		{"missing state", []string{"--state", "testdata/no-such-state.json"}, 2, "no-such-state.json"},
		{"argument", []string{"--state", state, "churn-prediction"}, 2, `unexpected argument "churn-prediction"`},
		{"bad since", []string{"--state", state, "--since", "yesterday"}, 2, `--since: "yesterday" is neither a duration`},
		{"future since", []string{"--state", state, "--since", "2026-05-01T00:00:00Z"}, 2, "is not in the past (counted back from the state's latest time, 2026-04-05 06:00Z)"},
		{"unknown model", []string{"--state", state, "--model", "churn-predictoin"}, 1, `no model "churn-predictoin" in ` + state + ` (did you mean "churn-prediction"?)`},
		{"not a state", []string{"--state", "testdata/scenarios/long-names.jsonl"}, 2, "not a stakeout state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runReport(append(tc.args, "-o", filepath.Join(t.TempDir(), "r.html"))...)
			if code != tc.wantExit || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stakeout report %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, stderr, tc.wantExit, tc.wantErr)
			}
		})
	}
	t.Run("stdout", func(t *testing.T) {
		code, stdout, stderr := runReport("--state", state, "-o", "-")
		if code != 0 || !strings.HasPrefix(stdout, "<!doctype html>") || !strings.HasSuffix(strings.TrimSpace(stdout), "</html>") || stderr != "" {
			t.Errorf("-o -: exit %d, stderr %q, stdout starting %.40q; want 0, nothing, the page", code, stderr, stdout)
		}
	})
}

// The thresholds are read from the explanations the engine really writes
// (state.Alert.Why), not only from hand-written ones: the quick start's
// drift and churn-surge rules each draw their limit, labelled with what
// it compares.
func TestReportDrawsTheThresholdsTheEngineExplained(t *testing.T) {
	data, err := os.ReadFile(writeReport(t, replayToState(t, "churn-competitor-launch")))
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	for _, label := range []string{"&gt; 0.2<", "mean(last(7)) &gt; 0.0525 (business.expected_churn_rate * 1.5)<"} {
		if !strings.Contains(page, `class="limit-label"`) || !strings.Contains(page, label) {
			t.Errorf("the page draws no threshold labelled %q", label)
		}
	}
}
