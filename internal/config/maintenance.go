package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
)

// Maintenance is a window of a model (rules/<model>.yaml `maintenance:`)
// during which its alerts are evaluated and recorded as usual but nobody is
// told and nothing escalates: a scheduled retrain's drift every Sunday
// night, a warehouse migration. It is either one-off (From–Until) or
// recurring, with Alertmanager's time_intervals fields (Interval), which
// Alertmanager's own timeinterval package evaluates.
type Maintenance struct {
	Name   string
	Reason string
	// Rules are the rules it silences (empty: every rule of the model).
	Rules []string
	// From and Until bound a one-off window (zero for a recurring one).
	From, Until time.Time
	// Interval is a recurring window (nil for a one-off one).
	Interval *timeinterval.TimeInterval
	// Long allows a window longer than MaxMaintenance.
	Long bool
	Pos  Pos
}

// MaxMaintenance is the longest a window may be without `long: true`: a
// window forgotten in a file must not hide a model's alerts for good.
const MaxMaintenance = 7 * 24 * time.Hour

// maxLongMaintenance bounds the search for a long recurring window's end;
// the window is looked at again then (see Model.Silenced).
const maxLongMaintenance = 92 * 24 * time.Hour

// Covers reports whether the window silences the alerts of rule.
func (w *Maintenance) Covers(rule string) bool {
	return len(w.Rules) == 0 || slices.Contains(w.Rules, rule)
}

// Active reports whether t is inside the window.
func (w *Maintenance) Active(t time.Time) bool {
	if w.Interval == nil {
		return !t.Before(w.From) && t.Before(w.Until)
	}
	return w.Interval.ContainsTime(t.UTC())
}

// End is when the window containing t ends: Until, or the first minute
// after t that the recurring interval does not contain (at most a week
// on, or maxLongMaintenance for a long window).
func (w *Maintenance) End(t time.Time) time.Time {
	if w.Interval == nil {
		return w.Until
	}
	limit := MaxMaintenance
	if w.Long {
		limit = maxLongMaintenance
	}
	start := t.UTC().Truncate(time.Minute)
	if end, ok := firstMinute(w.Interval, start.Add(time.Minute), false, limit-time.Minute); ok {
		return end
	}
	return start.Add(limit)
}

// Silenced returns the model's window that silences rule at t, with when
// it ends (nil: none). Alerts about a rule itself (rule errors) are about
// the configuration, not the model, and no window silences them. Of two
// windows, the one ending last wins: nobody is told before both end.
func (m *Model) Silenced(rule *Rule, t time.Time) (*Maintenance, time.Time) {
	if rule.IsErrorRule() {
		return nil, time.Time{}
	}
	var best *Maintenance
	var until time.Time
	for _, w := range m.Maintenance {
		if !w.Covers(rule.Name) || !w.Active(t) {
			continue
		}
		if end := w.End(t); best == nil || end.After(until) {
			best, until = w, end
		}
	}
	return best, until
}

// decodeMaintenance decodes `maintenance:`, after the rules (it names them).
func (l *loader) decodeMaintenance(d *doc, v *yaml.Node, m *Model) {
	lines := map[string]int{} // every window's name, good or not
	d.seq(v, "maintenance", func(item *yaml.Node) {
		w, ok := l.decodeWindow(d, item, m)
		if line, dup := lines[w.Name]; dup && w.Name != "" {
			d.errorAt(w.Pos, "duplicate maintenance window %q (first defined at line %d)", w.Name, line)
			return
		}
		lines[w.Name] = w.Pos.Line
		if ok {
			m.Maintenance = append(m.Maintenance, w)
		}
	})
}

// windowNodes are what a window's fields say beyond the window itself:
// its recurring interval, whether a recurring field was set, and the
// nodes of from, until and long (for messages at their line).
type windowNodes struct {
	interval          timeinterval.TimeInterval
	recurring         bool
	from, until, long *yaml.Node
}

// decodeWindow decodes one window; ok is false when it has errors (w
// still has its name and position).
func (l *loader) decodeWindow(d *doc, item *yaml.Node, m *Model) (w *Maintenance, ok bool) {
	w = &Maintenance{Pos: pos(item)}
	var n windowNodes
	errorsBefore := d.errors
	d.mapping(item, "maintenance window", d.windowFields(w, m, &n)...)
	oneOff := n.from != nil || n.until != nil
	switch {
	case d.errors > errorsBefore:
		return w, false
	case oneOff && n.recurring:
		d.errorf(item, "maintenance window %q has both from/until and recurring fields (times, weekdays, days_of_month, months, years, location): make two windows", w.Name)
		return w, false
	case oneOff:
		return w, l.checkOneOff(d, item, w, n)
	case !n.recurring:
		d.errorf(item, "maintenance window %q says neither when it is (from and until) nor when it recurs (times, weekdays, days_of_month, months, years)", w.Name)
		return w, false
	}
	return w, l.checkRecurring(d, item, w, &n)
}

// windowFields are a window's fields: its own decoded into w, the
// recurring ones into n's interval.
func (d *doc) windowFields(w *Maintenance, m *Model, n *windowNodes) []field {
	ti := &n.interval
	interval := func(what string, decode func(item *yaml.Node) error) func(_, v *yaml.Node) {
		return func(_, v *yaml.Node) {
			n.recurring = true
			d.seq(v, "maintenance."+what, func(item *yaml.Node) {
				if err := decode(item); err != nil {
					d.errorf(item, "maintenance.%s: %s (%s)", what, err, intervalHints[what])
				}
			})
		}
	}
	return []field{
		{name: "name", required: true, decode: func(_, v *yaml.Node) {
			w.Name, _ = d.str(v, "name")
			if w.Name != "" && !ruleName.MatchString(w.Name) {
				d.errorf(v, "maintenance window name %q must be lower-case words joined by dashes, like weekly-backfill (audit records name it)", w.Name)
			}
		}},
		{name: "reason", decode: func(_, v *yaml.Node) { w.Reason, _ = d.str(v, "reason") }},
		{name: "rules", decode: func(_, v *yaml.Node) { d.windowRules(v, w, m) }},
		{name: "from", decode: func(_, v *yaml.Node) { n.from = v; w.From, _ = d.instant(v, "from") }},
		{name: "until", decode: func(_, v *yaml.Node) { n.until = v; w.Until, _ = d.instant(v, "until") }},
		{name: "long", decode: func(_, v *yaml.Node) {
			n.long = v
			if v.Tag != "!!bool" || v.Decode(&w.Long) != nil {
				d.errorf(v, "long must be true or false")
			}
		}},
		{name: "times", decode: interval("times", func(v *yaml.Node) error { return appendTimes(&ti.Times, v) })},
		{name: "weekdays", decode: interval("weekdays", func(v *yaml.Node) error { return appendRange(&ti.Weekdays, v) })},
		{name: "days_of_month", decode: interval("days_of_month", func(v *yaml.Node) error { return appendRange(&ti.DaysOfMonth, v) })},
		{name: "months", decode: interval("months", func(v *yaml.Node) error { return appendRange(&ti.Months, v) })},
		{name: "years", decode: interval("years", func(v *yaml.Node) error { return appendRange(&ti.Years, v) })},
		{name: "location", decode: func(_, v *yaml.Node) { n.recurring = true; d.windowLocation(v, ti) }},
	}
}

// windowLocation decodes a recurring window's time zone.
func (d *doc) windowLocation(v *yaml.Node, ti *timeinterval.TimeInterval) {
	s, ok := d.str(v, "location")
	if !ok {
		return
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "" || s == "Local" {
		d.errorf(v, "maintenance.location: unknown time zone %q (use an IANA name like Europe/Berlin, or UTC)", s)
		return
	}
	ti.Location = &timeinterval.Location{Location: loc}
}

// checkOneOff checks a one-off window's bounds; one that ended already
// is kept, with a warning.
func (l *loader) checkOneOff(d *doc, item *yaml.Node, w *Maintenance, n windowNodes) bool {
	switch {
	case n.from == nil || n.until == nil:
		d.errorf(item, "maintenance window %q: a one-off window needs both from and until", w.Name)
	case !w.Until.After(w.From):
		d.errorf(n.until, "maintenance window %q ends (%s) before it starts (%s)", w.Name, w.Until.Format(time.RFC3339), w.From.Format(time.RFC3339))
	case w.Until.Sub(w.From) > MaxMaintenance && !w.Long:
		d.errorf(n.until, "maintenance window %q lasts %s, more than 7 days: add long: true if it is meant to (a forgotten window hides real alerts)", w.Name, duration.Format(w.Until.Sub(w.From)))
	default:
		if !w.Until.After(l.now) {
			d.warnf(n.until, "maintenance window %q ended on %s: remove it", w.Name, w.Until.Format(time.RFC3339))
		}
		return true
	}
	return false
}

// checkRecurring checks how long a recurring window lasts at most, and
// gives w its interval.
func (l *loader) checkRecurring(d *doc, item *yaml.Node, w *Maintenance, n *windowNodes) bool {
	ti := &n.interval
	w.Interval = ti
	if days := longestRun(ti, l.now); days > 7 && !w.Long {
		d.errorf(item, "maintenance window %q covers %d days in a row, more than 7: add long: true if it is meant to (a forgotten window hides real alerts)", w.Name, days)
		return false
	}
	if n.long != nil && w.Long && longestRun(ti, l.now) <= 7 {
		d.warnf(n.long, "maintenance window %q never lasts more than 7 days: long: true is not needed", w.Name)
	}
	return true
}

// intervalHints say, in errors, what each recurring field takes.
var intervalHints = map[string]string{
	"times":         `want "HH:MM-HH:MM", like "01:00-05:00", the end excluded`,
	"weekdays":      "want a day like sunday, or a range like monday:friday",
	"days_of_month": "want a day from 1 to 31, or -1 for the last, or a range like 1:5",
	"months":        "want a month like january or 1, or a range like january:march",
	"years":         "want a year like 2026, or a range like 2026:2027",
}

// windowRules decodes a window's rules, each of which must be the model's.
func (d *doc) windowRules(v *yaml.Node, w *Maintenance, m *Model) {
	names, ps := d.strings(v, "maintenance.rules")
	for i, name := range names {
		if !slices.Contains(m.ruleNames, name) {
			d.errorAt(ps[i], "maintenance window names unknown rule %q%s (the rules of %s are %s)", name, expression.Suggest(name, m.ruleNames), m.ID, strings.Join(m.ruleNames, ", "))
			continue
		}
		w.Rules = append(w.Rules, name)
	}
}

// instant decodes an RFC 3339 time with its zone.
func (d *doc) instant(v *yaml.Node, what string) (time.Time, bool) {
	s, ok := d.str(v, what)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d.errorf(v, "%s: %q is not a time like 2026-06-01T08:00:00Z (RFC 3339, with its zone)", what, s)
		return time.Time{}, false
	}
	return t, true
}

// appendTimes decodes one `times` entry: "01:00-05:00", or Alertmanager's
// {start_time: "01:00", end_time: "05:00"}.
func appendTimes(out *[]timeinterval.TimeRange, n *yaml.Node) error {
	var tr timeinterval.TimeRange
	if n.Kind == yaml.ScalarNode {
		start, end, ok := strings.Cut(n.Value, "-")
		if !ok {
			return fmt.Errorf("%q is not a time range like 01:00-05:00", n.Value)
		}
		if err := tr.UnmarshalJSON(fmt.Appendf(nil, `{"start_time":%q,"end_time":%q}`, strings.TrimSpace(start), strings.TrimSpace(end))); err != nil {
			return fmt.Errorf("%q: %w", n.Value, err)
		}
	} else if err := n.Decode(&tr); err != nil {
		return err
	}
	*out = append(*out, tr)
	return nil
}

// appendRange decodes one entry of weekdays, days_of_month, months or
// years by Alertmanager's rules ("monday:friday", "-1", "2026").
func appendRange[T any](out *[]T, n *yaml.Node) error {
	var r T
	if err := n.Decode(&r); err != nil {
		return err
	}
	*out = append(*out, r)
	return nil
}

// longestRun is the longest run of whole days in a row the interval
// contains, over the two years from now (0 when it holds no whole day):
// only a window of whole days can last more than a day.
func longestRun(ti *timeinterval.TimeInterval, now time.Time) int {
	if !wholeDay(ti.Times) {
		return 0
	}
	loc := time.UTC
	if ti.Location != nil {
		loc = ti.Location.Location
	}
	local := now.In(loc)
	run, longest := 0, 0
	for day := range 2 * 366 {
		noon := time.Date(local.Year(), local.Month(), local.Day()+day, 12, 0, 0, 0, loc)
		if ti.ContainsTime(noon.UTC()) {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// wholeDay reports whether the times, together, cover a whole day (no
// times: the whole day). Ranges are joined first, so 00:00-12:00 and
// 12:00-24:00 make a whole day as surely as 00:00-24:00 does.
func wholeDay(times []timeinterval.TimeRange) bool {
	if len(times) == 0 {
		return true
	}
	sorted := slices.Clone(times)
	slices.SortFunc(sorted, func(a, b timeinterval.TimeRange) int { return a.StartMinute - b.StartMinute })
	covered := 0 // minutes of the day covered from midnight on
	for _, t := range sorted {
		if t.StartMinute > covered {
			return false
		}
		covered = max(covered, t.EndMinute)
	}
	return covered >= 1440
}
