package noise_test

import (
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/noise"
)

func TestFormatWaitShrinksPrecisionAsTheWaitGrows(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{59*time.Second + 600*time.Millisecond, "1m"},
		{12*time.Minute + 20*time.Second, "12m"},
		{59*time.Minute + 40*time.Second, "1h00m"},
		{3*time.Hour + 5*time.Minute, "3h05m"},
		{23*time.Hour + 59*time.Minute + 50*time.Second, "1d00h"},
		{50 * time.Hour, "2d02h"},
	} {
		if got := noise.FormatWait(tc.d); got != tc.want {
			t.Errorf("FormatWait(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
