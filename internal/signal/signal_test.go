package signal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func readEvent(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../testdata/events", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Every captured native event and envelope decodes, and re-encoding the
// decoded event gives the same fields back.
func TestNativeRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/events/native/*.json")
	envs, _ := filepath.Glob("../../testdata/events/envelope/*.json")
	if len(files) == 0 || len(envs) == 0 {
		t.Fatal("no captured events")
	}
	for _, f := range append(files, envs...) {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			in, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if in.Native == nil {
				t.Fatalf("Parse gave no native event")
			}
			if strings.Contains(f, "envelope") && in.ID == "" {
				t.Errorf("envelope id not kept")
			}
			again, err := json.Marshal(in.Native)
			if err != nil {
				t.Fatal(err)
			}
			ev2, err := DecodeDetail(again, true)
			if err != nil {
				t.Fatalf("DecodeDetail(Marshal(ev)): %v", err)
			}
			if diff := cmp.Diff(*in.Native, ev2); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
		})
	}
}

func TestOptionalFieldsKeepPresence(t *testing.T) {
	ev, err := DecodeDetail([]byte(`{"model":"m","kind":"quality","metric":"auc","value":0,"baseline":0,"observed_at":"2026-03-01T00:00:00Z"}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Baseline == nil || *ev.Baseline != 0 || ev.SampleSize != nil {
		t.Errorf("Baseline = %v, SampleSize = %v; want a present zero baseline and no sample size", ev.Baseline, ev.SampleSize)
	}
}

func TestBadEvents(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", ``, "empty event"},
		{"not an object", `[1,2]`, "want a JSON object, got an array"},
		{"truncated", "{\n  \"model\": \"m\",\n  \"kind\": \"dri", "malformed JSON at line 3, column"},
		{"syntax error position", "{\"model\": \"m\",\n \"kind\" \"drift\"}", "malformed JSON at line 2, column 9"},
		{"missing fields", `{"model":"m"}`, `missing required field "kind", "metric", "value", "observed_at"`},
		{"typo hint", `{"model":"m","kind":"drift","metric":"psi","value":1,"obsrved_at":"2026-03-01T00:00:00Z"}`, `unknown field "obsrved_at" present: a typo?`},
		{"wrong type", `{"model":"m","kind":"drift","metric":"psi","value":"1","observed_at":"2026-03-01T00:00:00Z"}`, `field "value": got a string, want a number`},
		{"labels must be strings", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","labels":{"a":1}}`, `field "labels": got a number, want a string`},
		{"fraction for a whole number", `{"model":"m","kind":"drift","metric":"psi","value":1,"sample_size":1.5,"observed_at":"2026-03-01T00:00:00Z"}`, `field "sample_size": 1.5 is not a whole number`},
		{"number out of range", `{"model":"m","kind":"drift","metric":"psi","value":1e400,"observed_at":"2026-03-01T00:00:00Z"}`, `field "value": 1e400 is out of range`},
		{"array for an object", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","lineage":[1]}`, `field "lineage": got an array, want an object`},
		{"null detail", `{"detail-type":"ML Model Signal","id":"x","detail":null}`, `has no detail`},
		{"type error inside an envelope", `{"detail-type":"ML Model Signal","id":"x","detail":{"model":"m","kind":"drift","metric":"psi","value":"1","observed_at":"2026-03-01T00:00:00Z"}}`, `detail: field "value": got a string, want a number`},
		{"unknown kind", `{"model":"m","kind":"latency","metric":"p99","value":1,"observed_at":"2026-03-01T00:00:00Z"}`, `unknown kind "latency"`},
		{"bad time", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"yesterday"}`, `field "observed_at": "yesterday" is not an RFC 3339 time`},
		{"window backwards", `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","window_start":"2026-03-02T00:00:00Z","window_end":"2026-03-01T00:00:00Z"}`, `field "window_end"`},
		{"unsupported detail-type", `{"detail-type":"EC2 Instance State-change Notification","id":"x","detail":{}}`, `unsupported detail-type`},
		{"envelope without detail", `{"detail-type":"ML Model Signal","id":"x"}`, "has no detail"},
		{"envelope detail bad", `{"detail-type":"ML Model Signal","id":"x","detail":{"model":"m"}}`, `detail: missing required field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestCloudWatchAlarms(t *testing.T) {
	fraud := func(_ MatchKind, name string) []string {
		if strings.HasPrefix(name, "fraud-detection-") {
			return []string{"fraud-detection"}
		}
		return nil
	}
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, tc := range []struct {
		file                   string
		kind, metric, feature  string
		value                  float64
		observedAt             time.Time
		state, labelKey, label string
	}{
		{"single-metric-alarm.json", "drift", "feature_baseline_drift", "merchant_category", 0.34, time.Time{}, "ALARM", "threshold", "0.1"},
		{"single-metric-ok.json", "drift", "feature_baseline_drift", "merchant_category", 0.04, time.Time{}, "OK", "previous_state", "ALARM"},
		{"single-metric-alarm-tags.json", "drift", "feature_baseline_drift", "card_country", 0.17, time.Time{}, "ALARM", "source", "cloudwatch"},
		{"metric-math-alarm.json", "drift", "mean_feature_baseline_drift", "", 0.21, time.Time{}, "ALARM", "expression", "AVG(METRICS())"},
		{"anomaly-detection-alarm.json", "operational", "Invocations", "", 312, at("2026-03-03T15:55:00Z"), "ALARM", "lower_threshold", "21340.5"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := Parse(readEvent(t, "cloudwatch/"+tc.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if in.Alarm == nil {
				t.Fatal("not decoded as an alarm")
			}
			ev, err := in.Resolve(fraud)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if ev.Model != "fraud-detection" || ev.Kind != tc.kind || ev.Metric != tc.metric || ev.Feature != tc.feature || ev.Value != tc.value {
				t.Errorf("Resolve = %s/%s/%s feature %q value %v, want fraud-detection/%s/%s feature %q value %v",
					ev.Model, ev.Kind, ev.Metric, ev.Feature, ev.Value, tc.kind, tc.metric, tc.feature, tc.value)
			}
			if !tc.observedAt.IsZero() && !ev.ObservedAt.Equal(tc.observedAt) {
				t.Errorf("ObservedAt = %v, want %v", ev.ObservedAt, tc.observedAt)
			}
			if ev.ObservedAt.IsZero() {
				t.Errorf("ObservedAt is zero")
			}
			if ev.Labels["alarm_state"] != tc.state || ev.Labels[tc.labelKey] != tc.label {
				t.Errorf("Labels = %v, want alarm_state %s and %s=%s", ev.Labels, tc.state, tc.labelKey, tc.label)
			}
		})
	}
}

func TestAlarmMapping(t *testing.T) {
	data := readEvent(t, "cloudwatch/single-metric-alarm.json")
	in, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Resolve(func(MatchKind, string) []string { return nil }); err == nil || !strings.Contains(err.Error(), "matches no model") {
		t.Errorf("Resolve with no matching model: error = %v, want 'matches no model'", err)
	}
	if _, err := in.Resolve(func(MatchKind, string) []string { return []string{"a", "b"} }); err == nil || !strings.Contains(err.Error(), "several models (a, b)") {
		t.Errorf("Resolve with two matching models: error = %v, want 'several models'", err)
	}
	tagged, err := Parse(readEvent(t, "cloudwatch/single-metric-alarm-tags.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := tagged.Resolve(func(MatchKind, string) []string { return nil })
	if err != nil || ev.Model != "fraud-detection" {
		t.Errorf("Resolve by stakeout:model tag = %q, %v; want fraud-detection", ev.Model, err)
	}
}

func TestAlarmWithoutDatapoint(t *testing.T) {
	raw := `{"detail-type":"CloudWatch Alarm State Change","id":"1","detail":{"alarmName":"fraud-detection-x","state":{"value":"INSUFFICIENT_DATA","timestamp":"2026-03-01T00:00:00.000+0000"},"configuration":{"metrics":[]}}}`
	in, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Resolve(func(MatchKind, string) []string { return []string{"fraud-detection"} }); err == nil || !strings.Contains(err.Error(), "no datapoint") {
		t.Errorf("Resolve = %v, want 'no datapoint'", err)
	}
}

// FuzzParse: no input may panic the decoder, whatever decodes must pass
// Check (times from 2000 on, alarms' included), nothing larger than
// MaxEventBytes decodes, and CheckClock never panics on what does.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/events/*/*.json")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	// The time checks' paths: a zero time, a window before 2000, an
	// alarm whose datapoints' span overflows.
	f.Add([]byte(`{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","window_start":"1999-12-31T23:59:59Z"}`))
	f.Add(alarm(`"{\"startDate\":\"2026-03-01T00:00:00.000+0000\",\"period\":9223372036,\"recentDatapoints\":[1,2,3]}"`, "2026-03-01T00:05:00.000+0000"))
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Parse(data)
		if err != nil {
			return
		}
		if len(data) > MaxEventBytes {
			t.Fatalf("Parse accepted %d bytes, more than MaxEventBytes", len(data))
		}
		ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"m"} })
		if err != nil {
			return
		}
		if err := ev.Check(); err != nil {
			t.Errorf("resolved event fails Check: %v", err)
		}
		if ev.ObservedAt.Before(Earliest) {
			t.Errorf("resolved event observed at %v, before %v", ev.ObservedAt, Earliest)
		}
		_ = ev.CheckClock(now, time.Hour)
	})
}

// FuzzDecoders holds the fast decoder to encoding/json: on every input they
// must agree on whether it decodes, and on what it decodes to. The router
// relies on the fast one; messages and the rest of the code on the other.
func FuzzDecoders(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/events/*/*.json")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, std anyEvent
		errFast, errStd := fastDecode(data, &fast), json.Unmarshal(data, &std)
		if (errFast == nil) != (errStd == nil) {
			t.Fatalf("decoders disagree on %q: fast %v, encoding/json %v", data, errFast, errStd)
		}
		if errFast == nil && !reflect.DeepEqual(fast, std) {
			t.Fatalf("decoders decode %q differently:\nfast %+v\nstd  %+v", data, fast, std)
		}
	})
}
