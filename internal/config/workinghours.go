package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"go.yaml.in/yaml/v3"
)

// WorkingHours is when an owner is at work (owners/<id>.yaml
// working_hours): the days and times of day, in a time zone — an
// Alertmanager time interval (its location, weekdays and times), which
// Alertmanager's timeinterval package evaluates, as it does maintenance
// windows (see Interval). Outside them a stakes cell's outside_hours
// decides what an alert does.
type WorkingHours struct {
	Location *time.Location
	// Weekdays are the working days (none: every day).
	Weekdays []time.Weekday
	// Times are the working times of each working day, sorted (none: the
	// whole day).
	Times []TimeRange
}

// TimeRange is a time of day from Start (inclusive) to End (exclusive), in
// minutes after midnight; End is at most 24:00.
type TimeRange struct{ Start, End int }

// What outside_hours may say. Empty (not set) does as in hours: the
// default, so a critical alert still pages at night.
const (
	OutsidePage  = "page"  // page as well, even if the cell does not
	OutsideSlack = "slack" // Slack instead of a page
	OutsideHold  = "hold"  // deliver at the start of the next working period
)

// OutsideHoursValues are outside_hours' values, as validate lists them.
var OutsideHoursValues = []string{OutsidePage, OutsideSlack, OutsideHold}

// maxWorkingGap bounds the search for the next working period: every
// day of the week comes round in it, so a schedule with any working time
// has one.
const maxWorkingGap = 8 * 24 * time.Hour

// Interval is the working hours as an Alertmanager time interval.
func (w *WorkingHours) Interval() *timeinterval.TimeInterval {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	ti := &timeinterval.TimeInterval{Location: &timeinterval.Location{Location: loc}}
	for _, day := range w.Weekdays {
		ti.Weekdays = append(ti.Weekdays, timeinterval.WeekdayRange{InclusiveRange: timeinterval.InclusiveRange{Begin: int(day), End: int(day)}})
	}
	for _, r := range w.Times {
		ti.Times = append(ti.Times, timeinterval.TimeRange{StartMinute: r.Start, EndMinute: r.End})
	}
	return ti
}

// NextStart is t if t is within working hours, else the start of the next
// working period after t (zero if there is none within maxWorkingGap).
func (w *WorkingHours) NextStart(t time.Time) time.Time {
	ti := w.Interval()
	if ti.ContainsTime(t) {
		return t
	}
	start, _ := firstMinute(ti, t, true, maxWorkingGap)
	return start
}

// Within reports whether t is within working hours.
func (w *WorkingHours) Within(t time.Time) bool { return w.Interval().ContainsTime(t) }

// workingHours decodes an owner's working_hours. Its location defaults to
// the owner's timezone (settled by the caller once the whole file is read).
func (d *doc) workingHours(v *yaml.Node) *WorkingHours {
	w := &WorkingHours{}
	d.mapping(v, "working_hours",
		field{name: "location", decode: func(_, v *yaml.Node) {
			if s, ok := d.str(v, "working_hours.location"); ok {
				loc, err := time.LoadLocation(s)
				if err != nil || s == "" || s == "Local" {
					d.errorf(v, "working_hours.location: unknown time zone %q (use an IANA name like Europe/London)", s)
					w.Location = time.UTC // reported: not to be reported again as missing
					return
				}
				w.Location = loc
			}
		}},
		field{name: "weekdays", decode: func(_, v *yaml.Node) {
			d.seq(v, "working_hours.weekdays", func(item *yaml.Node) {
				if s, ok := d.str(item, "working_hours.weekdays entry"); ok {
					days, err := parseWeekdays(s)
					if err != nil {
						d.errorf(item, "working_hours.weekdays: %v", err)
					}
					w.Weekdays = append(w.Weekdays, days...)
				}
			})
			if len(resolve(v).Content) == 0 {
				d.errorf(v, "working_hours.weekdays is empty: the owner would never be at work (leave it out for every day)")
			}
		}},
		field{name: "times", decode: func(_, v *yaml.Node) {
			d.seq(v, "working_hours.times", func(item *yaml.Node) {
				if s, ok := d.str(item, "working_hours.times entry"); ok {
					r, err := parseTimeRange(s)
					if err != nil {
						d.errorf(item, "working_hours.times: %v", err)
						return
					}
					w.Times = append(w.Times, r)
				}
			})
			if len(resolve(v).Content) == 0 {
				d.errorf(v, "working_hours.times is empty: the owner would never be at work (leave it out for the whole day)")
			}
		}},
	)
	slices.Sort(w.Weekdays)
	w.Weekdays = slices.Compact(w.Weekdays)
	slices.SortFunc(w.Times, func(a, b TimeRange) int { return a.Start - b.Start })
	return w
}

// parseWeekdays reads "monday" or a range "monday:friday" by
// Alertmanager's rules, except that a range may not wrap round the end of
// the week (it reads as a mistake in working hours).
func parseWeekdays(s string) ([]time.Weekday, error) {
	var r timeinterval.WeekdayRange
	if err := r.UnmarshalJSON(fmt.Appendf(nil, "%q", strings.TrimSpace(s))); err != nil {
		return nil, fmt.Errorf("%q is not a day of the week or a range like monday:friday", s)
	}
	if r.Begin > r.End {
		return nil, fmt.Errorf("%q runs backwards (weeks start on sunday: write it as two entries)", s)
	}
	var out []time.Weekday
	for day := r.Begin; day <= r.End; day++ {
		out = append(out, time.Weekday(day))
	}
	return out, nil
}

// parseTimeRange reads "09:00-18:00" (24-hour, end after start, at most
// 24:00).
func parseTimeRange(s string) (TimeRange, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return TimeRange{}, fmt.Errorf("%q is not a range of times like 09:00-18:00", s)
	}
	start, err := minuteOfDay(from)
	if err != nil {
		return TimeRange{}, fmt.Errorf("%q: %v", s, err)
	}
	end, err := minuteOfDay(to)
	if err != nil {
		return TimeRange{}, fmt.Errorf("%q: %v", s, err)
	}
	if end <= start {
		return TimeRange{}, fmt.Errorf("%q ends before it starts (a range over midnight is two entries, like 22:00-24:00 and 00:00-06:00)", s)
	}
	return TimeRange{Start: start, End: end}, nil
}

func minuteOfDay(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "24:00" {
		return 24 * 60, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day like 09:00 (24-hour HH:MM)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// outsideHours decodes a stakes cell's outside_hours into pol, once its
// channels are known.
func (d *doc) outsideHours(v *yaml.Node, what string, pol *Policy) {
	s, ok := d.enum(v, what+".outside_hours", OutsideHoursValues)
	if !ok {
		return
	}
	if len(pol.Notify) > 0 && !pol.Notifies("slack") && !pol.Notifies("pagerduty") {
		d.errorf(v, "%s: outside_hours has no effect on a digest-only cell: digests go out at the owner's digest_at", what)
		return
	}
	pol.OutsideHours = s
}

// checkOutsideHoursOwner reports, for a rule routed by pol to owner o (or
// escalating to it), a channel its outside_hours needs that o lacks.
func (d *doc) checkOutsideHoursOwner(r *Rule, m *Model, pol Policy, o *Owner, how string) {
	if o.broken {
		return
	}
	switch {
	case pol.OutsideHours == OutsidePage && !pol.Notifies("pagerduty") && o.PagerDuty.RoutingKey == "":
		d.errorAt(r.severityPos, "rule %q pages outside working hours: it %s owner %q on PagerDuty (stakes %s × severity %s outside_hours: page) but %s has no pagerduty.routing_key",
			r.Name, how, o.ID, m.Stakes, r.Severity, o.File)
	case pol.OutsideHours == OutsideSlack && !pol.Notifies("slack") && o.Slack.Channel == "":
		d.errorAt(r.severityPos, "rule %q posts to Slack outside working hours: it %s owner %q on Slack (stakes %s × severity %s outside_hours: slack) but %s has no slack.channel",
			r.Name, how, o.ID, m.Stakes, r.Severity, o.File)
	}
}

// OutsideHoursRouting is what a cell's channels become outside working
// hours, and whether the alert is held to the next working period.
func (p Policy) OutsideHoursRouting() (notify []string, hold bool) {
	notify = slices.Clone(p.Notify)
	switch p.OutsideHours {
	case OutsidePage:
		if !slices.Contains(notify, "pagerduty") {
			notify = append(notify, "pagerduty")
		}
	case OutsideSlack:
		notify = slices.DeleteFunc(notify, func(ch string) bool { return ch == "pagerduty" })
		if !slices.Contains(notify, "slack") {
			notify = append([]string{"slack"}, notify...)
		}
	case OutsideHold:
		hold = true
	}
	return notify, hold
}

// OutsideHoursAt is how the cell routes what it tells owner o at `at`: ok
// false when at is within o's working hours (or o keeps none, or the cell
// says no outside_hours, or o has no working period at all: never held
// forever) — the cell's own channels apply; else the channels
// outside_hours gives and, with hold, when the message goes out: the
// start of o's next working period. Openings, raises and reminders are
// all routed by it.
func (p Policy) OutsideHoursAt(o *Owner, at time.Time) (notify []string, hold time.Time, ok bool) {
	if o == nil || o.WorkingHours == nil || p.OutsideHours == "" {
		return nil, time.Time{}, false
	}
	start := o.WorkingHours.NextStart(at)
	if !start.After(at) {
		return nil, time.Time{}, false
	}
	notify, held := p.OutsideHoursRouting()
	if held {
		hold = start.UTC()
	}
	return notify, hold, true
}

// settleWorkingHours gives an owner's working hours the owner's timezone
// when they name no location of their own; with neither, the hours would
// silently be UTC's, which is rarely what a team in another zone means.
func (d *doc) settleWorkingHours(o *Owner, v *yaml.Node) {
	w := o.WorkingHours
	if w == nil || w.Location != nil {
		return
	}
	if o.Timezone == nil {
		d.errorf(v, "working_hours needs a location (an IANA zone like Europe/London), or the owner a timezone")
		return
	}
	w.Location = o.Timezone
}
