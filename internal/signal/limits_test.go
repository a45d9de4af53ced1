package signal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A zero or unset clock (year 1, the Unix epoch) is not a measurement
// time: every time field of a native event before 2000 is refused, naming
// the field, as ErrTooEarly.
func TestTimesBefore2000AreRefused(t *testing.T) {
	const base = `"model":"m","kind":"drift","metric":"psi","value":1`
	for _, tc := range []struct{ name, fields, field string }{
		{"year one", `"observed_at":"0001-01-01T00:00:00Z"`, "observed_at"},
		{"unix epoch", `"observed_at":"1970-01-01T00:00:00Z"`, "observed_at"},
		{"a second before 2000", `"observed_at":"1999-12-31T23:59:59Z"`, "observed_at"},
		{"before 2000 in another zone", `"observed_at":"2000-01-01T00:30:00+01:00"`, "observed_at"},
		{"window start", `"observed_at":"2026-03-01T00:00:00Z","window_start":"0001-01-01T00:00:00Z"`, "window_start"},
		{"window end", `"observed_at":"2026-03-01T00:00:00Z","window_start":"0001-01-01T00:00:00Z","window_end":"0001-01-02T00:00:00Z"`, "window_start"},
		{"window end alone", `"observed_at":"2026-03-01T00:00:00Z","window_end":"1999-01-01T00:00:00Z"`, "window_end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, raw := range []string{
				`{` + base + `,` + tc.fields + `}`,
				`{"detail-type":"ML Model Signal","id":"e1","detail":{` + base + `,` + tc.fields + `}}`,
			} {
				_, err := Parse([]byte(raw))
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrTooEarly) ||
					!strings.Contains(err.Error(), "before 2000-01-01") {
					t.Errorf("Parse(%s) = %v, want a %q error that it is before 2000-01-01 (ErrTooEarly)", raw, err, tc.field)
				}
			}
		})
	}
	ev, err := Parse([]byte(`{` + base + `,"observed_at":"2000-01-01T00:00:00Z"}`))
	if err != nil || !ev.Native.ObservedAt.Equal(Earliest) {
		t.Errorf("Parse at exactly 2000-01-01 = %v, want it accepted", err)
	}
}

// Test cases in rules files decode through DecodeDetail: the same floor.
func TestDecodeDetailRefusesYearOne(t *testing.T) {
	_, err := DecodeDetail([]byte(`{"kind":"drift","metric":"psi","value":1,"observed_at":"0001-01-01T00:00:00Z"}`), false)
	if !errors.Is(err, ErrTooEarly) {
		t.Errorf("DecodeDetail = %v, want ErrTooEarly", err)
	}
}

// alarm is a CloudWatch alarm event whose reasonData and state timestamp
// are given.
func alarm(reasonData, stateTime string) []byte {
	return []byte(`{"detail-type":"CloudWatch Alarm State Change","id":"a1","source":"aws.cloudwatch","detail":{` +
		`"alarmName":"fraud-detection-x","configuration":{"metrics":[{"id":"m1","metricStat":{"metric":{"name":"psi","namespace":"custom"},"period":60,"stat":"Average"}}]},` +
		`"state":{"value":"ALARM","reasonData":` + reasonData + `,"timestamp":"` + stateTime + `"}}}`)
}

// The times an alarm event carries (a datapoint's, the state's, the start
// of the datapoints) meet the same floor, and the error names the alarm.
func TestAlarmTimesBefore2000AreRefused(t *testing.T) {
	for _, tc := range []struct{ name, reasonData, stateTime string }{
		{"evaluated datapoint", `"{\"evaluatedDatapoints\":[{\"timestamp\":\"1970-01-01T00:00:00.000+0000\",\"value\":1}]}"`, "2026-03-01T00:00:00.000+0000"},
		{"state timestamp", `"{\"evaluatedDatapoints\":[{\"value\":1}]}"`, "0001-01-01T00:00:00.000+0000"},
		{"start date", `"{\"startDate\":\"1999-12-01T00:00:00.000+0000\",\"period\":60,\"recentDatapoints\":[1,2]}"`, "2026-03-01T00:00:00.000+0000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse(alarm(tc.reasonData, tc.stateTime))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = in.Resolve(func(MatchKind, string) []string { return []string{"fraud-detection"} })
			if !errors.Is(err, ErrTooEarly) || !strings.Contains(err.Error(), `CloudWatch alarm "fraud-detection-x"`) {
				t.Errorf("Resolve = %v, want ErrTooEarly naming the alarm", err)
			}
		})
	}
}

// A period so long that the datapoints' span overflows a duration must
// not wrap around to some time that passes the checks: the query date is
// used instead.
func TestAlarmPeriodOverflow(t *testing.T) {
	in, err := Parse(alarm(`"{\"queryDate\":\"2026-03-01T00:05:00.000+0000\",\"startDate\":\"2026-03-01T00:00:00.000+0000\",\"period\":9223372036,\"recentDatapoints\":[1,2,3]}"`,
		"2026-03-01T00:05:00.000+0000"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"fraud-detection"} })
	if want := time.Date(2026, 3, 1, 0, 5, 0, 0, time.UTC); err != nil || !ev.ObservedAt.Equal(want) {
		t.Errorf("Resolve = %v, %v; want observed_at %v (the query date)", ev.ObservedAt, err, want)
	}
}

// CheckClock bounds every time field from above: a time ahead of now by
// more than the skew is ErrFuture, naming the field; within it is fine.
func TestCheckClock(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tc := range []struct {
		name  string
		ev    Event
		field string
	}{
		{"observed_at ahead", Event{ObservedAt: now.Add(2 * time.Hour)}, "observed_at"},
		{"window_end ahead", Event{ObservedAt: now, WindowEnd: later(3 * time.Hour)}, "window_end"},
		{"window_start ahead", Event{ObservedAt: now, WindowStart: later(90 * time.Minute)}, "window_start"},
		{"within the skew", Event{ObservedAt: now.Add(59 * time.Minute), WindowEnd: later(time.Hour)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ev.CheckClock(now, time.Hour)
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("CheckClock = %v, want nil", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrFuture) || !strings.Contains(err.Error(), "in the future")):
				t.Errorf("CheckClock = %v, want ErrFuture on %q", err, tc.field)
			}
		})
	}
}

// An event over MaxEventBytes is refused by every decoder, whatever it
// holds, with its size and the limit; one at the limit decodes.
func TestEventSizeLimit(t *testing.T) {
	event := func(size int) []byte {
		head := `{"model":"m","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z","labels":{"pad":"`
		return []byte(head + strings.Repeat("x", size-len(head)-3) + `"}}`)
	}
	at, over := event(MaxEventBytes), event(MaxEventBytes+1)
	if _, err := Parse(at); err != nil {
		t.Errorf("Parse of %d bytes: %v", len(at), err)
	}
	want := "event is 65537 bytes, more than the 65536 (64 KiB) an event may have"
	if _, err := Parse(over); err == nil || err.Error() != want {
		t.Errorf("Parse of %d bytes = %v, want %q", len(over), err, want)
	}
	if _, err := DecodeDetail(over, true); err == nil || err.Error() != want {
		t.Errorf("DecodeDetail of %d bytes = %v, want %q", len(over), err, want)
	}
}
