package noise

import (
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/duration"
)

// FormatWait prints a time to acknowledge as a person reads it at a glance
// ("45s", "12m", "3h05m", "2d04h"): the precision that matters shrinks as
// the wait grows.
func FormatWait(d time.Duration) string {
	if s := d.Round(time.Second); s < time.Minute {
		return fmt.Sprintf("%ds", s/time.Second)
	}
	m := d.Round(time.Minute)
	switch {
	case m < time.Hour:
		return fmt.Sprintf("%dm", m/time.Minute)
	case m < duration.Day:
		return fmt.Sprintf("%dh%02dm", m/time.Hour, m%time.Hour/time.Minute)
	}
	h := d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", h/duration.Day, h%duration.Day/time.Hour)
}
