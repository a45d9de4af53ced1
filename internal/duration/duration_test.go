package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "15m", want: 15 * time.Minute},
		{in: "4h", want: 4 * time.Hour},
		{in: "7d", want: 7 * Day},
		{in: "2w", want: 14 * Day},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "", wantErr: true},
		{in: "7", wantErr: true},
		{in: "7x", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "0m", wantErr: true},
		{in: "-5m", wantErr: true},
		{in: "h", wantErr: true},
		{in: "99999999999d", wantErr: true},
		{in: "300000w", wantErr: true},
		{in: "3650d", want: 3650 * Day},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Parse(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	for _, in := range []string{"15m", "4h", "7d", "1d12h", "1h30m", "30s"} {
		d, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := Format(d); got != in {
			t.Errorf("Format(Parse(%q)) = %q, want %q", in, got, in)
		}
	}
}
