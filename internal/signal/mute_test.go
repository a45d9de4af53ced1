package signal

import (
	"strings"
	"testing"
	"time"
)

// mutedAlarm is an alarm event with the given detail.muteDetail.
func mutedAlarm(muteDetail string) []byte {
	raw := string(alarm(`"{\"evaluatedDatapoints\":[{\"timestamp\":\"2026-03-01T05:00:00.000+0000\",\"value\":1}]}"`, "2026-03-01T05:00:00.000+0000"))
	return []byte(strings.TrimSuffix(raw, "}}") + `,"muteDetail":` + muteDetail + "}}")
}

// An alarm muted by a mute rule carries who muted it and until when onto
// the event; a muteDetail stakeout cannot read is refused, naming the
// field, rather than paging someone who muted the alarm or hiding an
// alarm for an unknown time.
func TestAlarmMuteDetail(t *testing.T) {
	const arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm-mute-rule:deploy"
	for _, tc := range []struct {
		name, detail, err string
		want              *Mute
	}{
		{"cloudwatch times", `{"mutedByArn":"` + arn + `","muteWindowStart":"2026-03-01T04:00:00.000+0000","muteWindowEnd":"2026-03-01T06:00:00.000+0000"}`, "",
			&Mute{By: arn, Start: time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)}},
		{"rfc 3339 without a start", `{"mutedByArn":"` + arn + `","muteWindowEnd":"2026-03-01T06:00:00Z"}`, "",
			&Mute{By: arn, End: time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)}},
		{"no arn", `{"muteWindowEnd":"2026-03-01T06:00:00Z"}`, "muteDetail has no mutedByArn", nil},
		{"no end", `{"mutedByArn":"` + arn + `"}`, "muteDetail has no muteWindowEnd", nil},
		{"bad end", `{"mutedByArn":"` + arn + `","muteWindowEnd":"tonight"}`, `muteDetail.muteWindowEnd: timestamp "tonight"`, nil},
		{"backwards", `{"mutedByArn":"` + arn + `","muteWindowStart":"2026-03-01T06:00:00Z","muteWindowEnd":"2026-03-01T04:00:00Z"}`, "muteDetail ends", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse(mutedAlarm(tc.detail))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"fraud-detection"} })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `CloudWatch alarm "fraud-detection-x"`) {
					t.Fatalf("Resolve = %v, want an error naming the alarm and %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Mute == nil || ev.Mute.By != tc.want.By || !ev.Mute.Start.Equal(tc.want.Start) || !ev.Mute.End.Equal(tc.want.End) {
				t.Errorf("mute = %+v, want %+v", ev.Mute, tc.want)
			}
		})
	}
	in, err := Parse(alarm(`"{\"evaluatedDatapoints\":[{\"value\":1}]}"`, "2026-03-01T05:00:00.000+0000"))
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := in.Resolve(func(MatchKind, string) []string { return []string{"fraud-detection"} }); err != nil || ev.Mute != nil {
		t.Errorf("an alarm without muteDetail: mute %+v (%v), want none", ev.Mute, err)
	}
}
