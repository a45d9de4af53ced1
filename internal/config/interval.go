package config

import (
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// Maintenance windows and working hours are both Alertmanager time
// intervals, which its timeinterval package evaluates minute by minute
// (ContainsTime). What neither it nor Alertmanager needs — where a window
// ends, when the next working period starts — is found here, the one
// place that walks an interval through time.

// firstMinute is the first minute from t's on at which ti contains the
// time if want (does not, if !want), looking no further than limit past
// t's minute; ok is false when there is none by then.
func firstMinute(ti *timeinterval.TimeInterval, t time.Time, want bool, limit time.Duration) (at time.Time, ok bool) {
	start := t.UTC().Truncate(time.Minute)
	for at := start; at.Sub(start) <= limit; at = nextChange(ti, at) {
		if ti.ContainsTime(at) == want {
			return at, true
		}
	}
	return time.Time{}, false
}

// nextChange is the next minute after at where the interval may start or
// stop containing the time: a boundary of its times or a local midnight
// (its other fields are whole local days). Between two of them nothing
// changes, so a walk checks a few minutes a day, not 1,440, with the same
// result; across a change of the zone's offset (summer time) it goes
// minute by minute, as wall-clock boundaries move then.
func nextChange(ti *timeinterval.TimeInterval, at time.Time) time.Time {
	loc := time.UTC
	if ti.Location != nil {
		loc = ti.Location.Location
	}
	local := at.In(loc)
	minute := local.Hour()*60 + local.Minute()
	step := 1440 - minute // to the next local midnight
	for _, tr := range ti.Times {
		for _, b := range []int{tr.StartMinute, tr.EndMinute} {
			if b > minute && b-minute < step {
				step = b - minute
			}
		}
	}
	next := at.Add(time.Duration(step) * time.Minute)
	_, before := local.Zone()
	if _, after := next.In(loc).Zone(); after != before {
		return at.Add(time.Minute)
	}
	return next
}
