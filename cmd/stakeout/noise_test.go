package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// noiseStep is one record of an alert's trail: an action at a time.
type noiseStep struct {
	at     time.Time
	action string
	actor  string
}

// noiseTrail seals an alert's records into a hash chain, as the router and
// the Slack handler write them.
func noiseTrail(alert string, steps ...noiseStep) []audit.Record {
	parts := strings.Split(alert, "/")
	var recs []audit.Record
	seq, head := 0, ""
	for _, s := range steps {
		r := audit.Record{Alert: alert, At: s.at, Recorded: s.at, Action: s.action, Actor: s.actor,
			Model: parts[0], Rule: parts[1], ConfigDigest: "test"}
		seq, head = r.Seal(seq, head)
		recs = append(recs, r)
	}
	return recs
}

func opened(at time.Time) noiseStep   { return noiseStep{at, audit.Opened, "router"} }
func resolved(at time.Time) noiseStep { return noiseStep{at, audit.Resolved, "router"} }
func acked(at time.Time) noiseStep    { return noiseStep{at, audit.Acknowledged, "slack:U012ABCDE"} }
func falseAlarm(at time.Time) noiseStep {
	return noiseStep{at, audit.FalseAlarm, "slack:U012ABCDE"}
}
func escalated(at time.Time) noiseStep { return noiseStep{at, audit.Escalated, "escalator"} }

func march(day, hour, minute, second int) time.Time {
	return time.Date(2026, 3, day, hour, minute, second, 0, time.UTC)
}

// noiseTrails is a month of alerts on the example models: a rule reopened
// and marked a false alarm once, a drift alert dismissed without being
// acknowledged (and an older one acknowledged in the window, which is not
// the window's), a fraud alert taken in under a minute, and a playlist
// alert opened before the window.
func noiseTrails() [][]audit.Record {
	return [][]audit.Record{
		noiseTrail("credit-approval/accuracy-loss",
			opened(march(2, 6, 0, 0)), acked(march(2, 6, 12, 0)), resolved(march(2, 9, 0, 0)),
			opened(march(5, 9, 0, 0)), acked(march(5, 12, 5, 0)), falseAlarm(march(5, 12, 6, 0)),
			opened(march(10, 10, 0, 0)), escalated(march(10, 10, 30, 0)), resolved(march(10, 14, 0, 0))),
		noiseTrail("credit-approval/feature-drift/feature=income",
			opened(time.Date(2026, 2, 27, 8, 0, 0, 0, time.UTC)), acked(march(1, 1, 0, 0)), resolved(march(1, 2, 0, 0)),
			opened(march(3, 8, 0, 0)), falseAlarm(march(3, 8, 40, 0))),
		noiseTrail("fraud-detection/recall-loss", opened(march(4, 0, 0, 0)), acked(march(4, 0, 0, 45))),
		noiseTrail("playlist-recommender/ctr-drop", opened(time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)), acked(march(1, 0, 5, 0))),
	}
}

// saveNoiseState writes trails into an embedded store file, as a replay
// would leave it.
func saveNoiseState(t *testing.T, trails [][]audit.Record) string {
	t.Helper()
	st := memstore.New(func() time.Time { return march(31, 0, 0, 0) })
	for _, recs := range trails {
		if err := st.Commit(context.Background(), &state.Commit{Audit: recs}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func runNoise(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"noise"}, args...), stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

func TestNoise(t *testing.T) {
	path := saveNoiseState(t, noiseTrails())

	t.Run("table, noisiest rule first", func(t *testing.T) {
		code, out, errOut := runNoise(t, "--state", path, "--dir", "../..", "--since", "2026-03-01T00:00:00Z")
		if code != 0 {
			t.Fatalf("noise exited %d: %s", code, errOut)
		}
		want := `MODEL            RULE           ALERTS  ACKED  UNACKED  FALSE ALARMS  RATE  ESCALATED  MEDIAN ACK  P90 ACK
credit-approval  feature-drift  1       0      1        1             100%  0          -           -
credit-approval  accuracy-loss  3       2      1        1             33%   1          12m         3h05m
fraud-detection  recall-loss    1       1      0        0             0%    0          45s         45s

5 alerts from 3 rules since 2026-03-01 00:00Z: 2 false alarms (40%), 1 escalated, 2 never acknowledged
`
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("noise output differs (-want +got):\n%s", diff)
		}
	})

	t.Run("json, one object per rule", func(t *testing.T) {
		code, out, errOut := runNoise(t, "--state", path, "--dir", "../..", "--since", "2026-03-01T00:00:00Z", "--json")
		if code != 0 {
			t.Fatalf("noise --json exited %d: %s", code, errOut)
		}
		var got []noiseLine
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			var l noiseLine
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("noise --json printed a line that is not an object: %q: %v", line, err)
			}
			got = append(got, l)
		}
		secs := func(d time.Duration) *float64 { s := d.Seconds(); return &s }
		since := march(1, 0, 0, 0)
		want := []noiseLine{
			{Model: "credit-approval", Rule: "feature-drift", Since: since, Alerts: 1, Unacknowledged: 1, FalseAlarms: 1, FalseAlarmRate: 1},
			{Model: "credit-approval", Rule: "accuracy-loss", Since: since, Alerts: 3, Acknowledged: 2, Unacknowledged: 1, FalseAlarms: 1,
				FalseAlarmRate: 1.0 / 3, Escalations: 1, MedianAckSeconds: secs(12 * time.Minute), P90AckSeconds: secs(3*time.Hour + 5*time.Minute)},
			{Model: "fraud-detection", Rule: "recall-loss", Since: since, Alerts: 1, Acknowledged: 1,
				MedianAckSeconds: secs(45 * time.Second), P90AckSeconds: secs(45 * time.Second)},
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(noiseLine{}, "Until")); diff != "" {
			t.Errorf("noise --json differs (-want +got):\n%s", diff)
		}
		if !strings.Contains(out, `"median_ack_seconds":null`) {
			t.Errorf("noise --json does not say null for a rule nobody acknowledged:\n%s", out)
		}
	})

	t.Run("one model", func(t *testing.T) {
		code, out, errOut := runNoise(t, "--state", path, "--dir", "../..", "--since", "2026-03-01T00:00:00Z", "--model", "fraud-detection")
		if code != 0 {
			t.Fatalf("noise --model exited %d: %s", code, errOut)
		}
		if strings.Contains(out, "credit-approval") || !strings.Contains(out, "1 alert from 1 rule since") {
			t.Errorf("noise --model fraud-detection shows other models or miscounts:\n%s", out)
		}
	})

	t.Run("no alerts in the window", func(t *testing.T) {
		code, out, errOut := runNoise(t, "--state", path, "--dir", "../..", "--since", "2026-03-01T00:00:00Z", "--model", "playlist-recommender")
		if code != 0 || out != "no alerts since 2026-03-01 00:00Z\n" {
			t.Errorf("noise with no alerts = exit %d, %q (stderr %q), want exit 0 and a no alerts line", code, out, errOut)
		}
		code, out, errOut = runNoise(t, "--state", path, "--dir", "../..", "--since", "2026-03-01T00:00:00Z", "--model", "playlist-recommender", "--json")
		if code != 0 || out != "" || !strings.Contains(errOut, "no alerts since") {
			t.Errorf("noise --json with no alerts = exit %d, stdout %q, stderr %q; want exit 0, nothing on stdout", code, out, errOut)
		}
	})

	t.Run("since defaults to 30 days and takes durations", func(t *testing.T) {
		now := time.Now()
		recent := saveNoiseState(t, [][]audit.Record{
			noiseTrail("credit-approval/accuracy-loss", opened(now.Add(-40*24*time.Hour)), opened(now.Add(-10*24*time.Hour)),
				acked(now.Add(-10*24*time.Hour+20*time.Minute)), opened(now.Add(-2*time.Hour))),
		})
		_, out, errOut := runNoise(t, "--state", recent, "--dir", "../..")
		if !strings.Contains(out, "2 alerts from 1 rule") || !strings.Contains(out, "20m") {
			t.Errorf("noise (30 days) should count the last two openings, acknowledged in 20m:\n%s%s", out, errOut)
		}
		_, out, errOut = runNoise(t, "--state", recent, "--dir", "../..", "--since", "7d")
		if !strings.Contains(out, "1 alert from 1 rule") {
			t.Errorf("noise --since 7d should count the last opening only:\n%s%s", out, errOut)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no store", []string{"--dir", "../.."}, "name the store"},
		{"two stores", []string{"--state", path, "--table", "t", "--dir", "../.."}, "--state and --table name two stores: give one"},
		{"endpoint without table", []string{"--state", path, "--endpoint", "http://localhost:8000", "--dir", "../.."}, "--endpoint goes with --table"},
		{"bad since", []string{"--state", path, "--since", "a month", "--dir", "../.."}, `--since: "a month" is neither a duration`},
		{"since in the future", []string{"--state", path, "--since", "2999-01-01T00:00:00Z", "--dir", "../.."}, "not in the past"},
		{"unknown model", []string{"--state", path, "--model", "credit-aproval", "--dir", "../.."}, `no model "credit-aproval" in the configuration under ../.. (did you mean "credit-approval"?)`},
		{"missing state file", []string{"--state", filepath.Join(t.TempDir(), "none.json"), "--dir", "../.."}, "no such file"},
		{"argument", []string{"--state", path, "--dir", "../..", "credit-approval"}, `unexpected argument "credit-approval"`},
	} {
		t.Run("usage error: "+tc.name, func(t *testing.T) {
			code, out, errOut := runNoise(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("noise %s = exit %d, stderr %q, want exit 2 and %q (stdout %q)", strings.Join(tc.args, " "), code, errOut, tc.want, out)
			}
		})
	}
}

// The same month in the router's DynamoDB table reads the same.
func TestNoiseTable(t *testing.T) {
	ctx := context.Background()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(ctx, dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(dynamotest.Client(t), table, func() time.Time { return march(31, 0, 0, 0) })
	for _, recs := range noiseTrails() {
		if err := st.Commit(ctx, &state.Commit{Audit: recs}); err != nil {
			t.Fatal(err)
		}
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	code, out, errOut := runNoise(t, "--table", table, "--endpoint", dynamotest.Endpoint(), "--dir", "../..", "--since", "2026-03-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("noise --table exited %d: %s", code, errOut)
	}
	for _, want := range []string{"credit-approval  accuracy-loss  3       2      1        1             33%   1          12m         3h05m",
		"5 alerts from 3 rules since 2026-03-01 00:00Z: 2 false alarms (40%), 1 escalated, 2 never acknowledged"} {
		if !strings.Contains(out, want) {
			t.Errorf("noise --table output lacks %q:\n%s", want, out)
		}
	}
}
