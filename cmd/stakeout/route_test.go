package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/pipeline"
)

// stakeout runs the CLI and returns its exit code, standard output and
// standard error.
func stakeout(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return stakeoutWith(t, "", args...)
}

func stakeoutWith(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, stdio{in: strings.NewReader(stdin), out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

// decisions are the pipeline's alert changes in a JSON lines output:
// replay --json's change lines, or the changes of route --json's events.
// The escalator's (escalated, silence) are replay's alone.
func decisions(t *testing.T, jsonLines string, nested bool) []pipeline.Change {
	t.Helper()
	var out []pipeline.Change
	sc := bufio.NewScanner(strings.NewReader(jsonLines))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var changes []pipeline.Change
		if nested {
			var ev struct {
				Alerts []pipeline.Change `json:"alerts"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("route --json line %q: %v", sc.Text(), err)
			}
			changes = ev.Alerts
		} else {
			var ch pipeline.Change
			if err := json.Unmarshal(sc.Bytes(), &ch); err != nil {
				t.Fatalf("replay --json line %q: %v", sc.Text(), err)
			}
			changes = []pipeline.Change{ch}
		}
		for _, ch := range changes {
			switch ch.State {
			case "opened", "reopened", "updated", "suppressed", "resolved":
				out = append(out, ch)
			}
		}
	}
	return out
}

// route and replay run the same pipeline: for the same events they open,
// update, suppress and resolve the same alerts, for the same owners, at
// the same times — inhibition and for: included.
func TestRouteAndReplayAgree(t *testing.T) {
	t.Chdir("../..")
	for _, file := range []string{
		"testdata/scenarios/credit-feed-break.jsonl",                  // inhibition
		"testdata/events/sequence/credit-approval-income-drift.jsonl", // for: 2
		"testdata/scenarios/churn-competitor-launch.jsonl",            // for: 3, slope, grouping
	} {
		t.Run(file, func(t *testing.T) {
			code, replayed, stderr := stakeout(t, "replay", "--json", file)
			if code != 0 {
				t.Fatalf("replay exited %d: %s", code, stderr)
			}
			code, routed, stderr := stakeout(t, "route", "--json", file)
			if code != 0 {
				t.Fatalf("route exited %d: %s", code, stderr)
			}
			want := decisions(t, replayed, false)
			if len(want) == 0 {
				t.Fatal("test broken: replay changed no alert")
			}
			if diff := cmp.Diff(want, decisions(t, routed, true)); diff != "" {
				t.Errorf("route's changes differ from replay's (-replay +route):\n%s", diff)
			}
		})
	}
}

// An alert that replay suppresses, route shows suppressed too, naming the
// alert that inhibits it and telling nobody.
func TestRouteShowsInhibition(t *testing.T) {
	t.Chdir("../..")
	const file = "testdata/scenarios/credit-feed-break.jsonl"
	const suppressed = "credit-approval/key-feature-drift/feature=income"
	const by = "credit-approval/bureau-feed-stale/feature=bureau_score"
	_, replayed, _ := stakeout(t, "replay", file)
	if !strings.Contains(replayed, "SUPPRESSED  "+suppressed+"  high, inhibited by "+by+": nobody told") {
		t.Fatalf("test broken: replay does not suppress %s:\n%s", suppressed, replayed)
	}
	code, routed, stderr := stakeout(t, "route", file)
	if code != 0 {
		t.Fatalf("route exited %d: %s", code, stderr)
	}
	if want := "suppressed " + suppressed + ", inhibited by " + by + ": nobody told"; !strings.Contains(routed, want) {
		t.Errorf("route does not say %q:\n%s", want, routed)
	}
}

// Each rejected input is an error of its own, the others are routed, and
// the exit code says the worst: 2 for a file that cannot be read, 1 for an
// event the router would quarantine.
func TestRouteKeepsGoingPastBadInputs(t *testing.T) {
	t.Chdir("../..")
	code, out, _ := stakeout(t, "route", "testdata/events/bad/unknown-model.json", "testdata/events/native/credit-approval-accuracy-drop.json")
	if code != 1 || !strings.Contains(out, `error: unknown model "credit-scoring"`) || !strings.Contains(out, "opened credit-approval/accuracy-loss") {
		t.Errorf("route of a rejected and a good event exited %d, want 1 with both reported:\n%s", code, out)
	}
	code, out, _ = stakeout(t, "route", "testdata/events/no-such-file.json", "testdata/events/bad/unknown-model.json", "testdata/events/native/credit-approval-accuracy-drop.json")
	if code != 2 || !strings.Contains(out, "no-such-file.json") || !strings.Contains(out, "opened credit-approval/accuracy-loss") {
		t.Errorf("route with a missing file exited %d, want 2 with the others routed:\n%s", code, out)
	}
}

// A time ahead of the wall clock is refused as the router refuses it,
// and a time in the past is the event's own: route binds the future as the
// router does and keeps today's behaviour for it.
func TestRouteRefusesTheFuture(t *testing.T) {
	t.Chdir("../..")
	future := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	code, out, _ := stakeoutWith(t, `{"model":"playlist-recommender","kind":"freshness","metric":"lag_seconds","value":200000,"observed_at":"`+future+`"}`, "route", "-")
	if code != 1 || !strings.Contains(out, "error: ") || !strings.Contains(out, "future") {
		t.Errorf("route of an event 3h ahead exited %d, want 1 with the router's reason:\n%s", code, out)
	}
}
