// Package duration parses and prints the durations people write in rules and
// owners files: Go's units plus days and weeks ("15m", "4h", "7d", "1d12h",
// "2w"), because "every: 7d" is how a weekly quality job is described.
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	Day  = 24 * time.Hour
	Week = 7 * Day
	// maxDuration is far beyond any sensible deadline or interval, and far
	// from time.Duration's overflow at ~292 years.
	maxDuration = 10 * 365 * Day
)

// Parse reads a positive duration. It accepts a sequence of number+unit pairs
// with units w, d, h, m, s, ms (e.g. "1d12h"); fractions are allowed for h, m,
// s and ms as in time.ParseDuration.
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	rest := s
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: want a number followed by a unit (w, d, h, m, s), like 15m or 7d", s)
		}
		num := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		switch unit {
		case "w", "d":
			n, err := strconv.Atoi(num)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: days and weeks must be whole numbers", s)
			}
			u := Day
			if unit == "w" {
				u = Week
			}
			if n > int(maxDuration/u) {
				return 0, fmt.Errorf("invalid duration %q: longer than %d days", s, maxDuration/Day)
			}
			total += time.Duration(n) * u
		case "h", "m", "s", "ms":
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			total += d
		case "":
			return 0, fmt.Errorf("invalid duration %q: missing unit after %s (w, d, h, m, s)", s, num)
		default:
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (use w, d, h, m, s)", s, unit)
		}
	}
	if total > maxDuration || total < 0 {
		return 0, fmt.Errorf("invalid duration %q: longer than %d days", s, maxDuration/Day)
	}
	if total <= 0 {
		return 0, fmt.Errorf("invalid duration %q: must be greater than zero", s)
	}
	return total, nil
}

// Format prints d the way Parse reads it, with the largest units first and no
// zero parts: 15m, 4h, 7d, 1d12h, 1h30m.
func Format(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if d > 0 {
		fmt.Fprintf(&b, "%dms", d/time.Millisecond)
	}
	return b.String()
}
