package report

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// The geometry of a chart, in SVG user units (the page scales it to its
// width; 1280 px screens show it at about its size).
const (
	chartWidth  = 1120
	plotLeft    = 70
	plotRight   = chartWidth - 24
	markStrip   = 40 // above the plot: three rows of marks
	plotTop     = markStrip + 6
	plotHeight  = 170
	plotBottom  = plotTop + plotHeight
	chartHeight = plotBottom + 28
	quietHeight = 100 // a series no alert is about: a smaller chart
	maxDots     = 400 // beyond, the line alone: dots would be a smear
	markGap     = 9   // marks closer than this go to the next row
)

// markKind is a kind of mark: an action on the trail and how it is drawn.
type markKind struct {
	Action, Name, Kind string
}

// markKinds are the actions marked on the charts, in the legend's order.
// Kind names the symbol and colour (the page's CSS) and the data-mark.
var markKinds = []markKind{
	{audit.Opened, "opened", "opened"},
	{audit.Suppressed, "suppressed (inhibited)", "suppressed"},
	{audit.Acknowledged, "acknowledged", "acknowledged"},
	{audit.Escalated, "escalated or re-notified", "escalated"},
	{audit.Resolved, "resolved", "resolved"},
	{audit.FalseAlarm, "false alarm", "false-alarm"},
}

func kindOf(action string) (string, bool) {
	if action == audit.Snoozed { // acknowledged until a time
		return "acknowledged", true
	}
	for _, k := range markKinds {
		if k.Action == action {
			return k.Kind, true
		}
	}
	return "", false
}

// timeScale maps the window onto the plot's width.
type timeScale struct{ since, until time.Time }

func newTimeScale(since, until time.Time) timeScale {
	if !until.After(since) {
		until = since.Add(time.Hour)
	}
	return timeScale{since, until}
}

func (s timeScale) x(t time.Time) float64 {
	f := float64(t.Sub(s.since)) / float64(s.until.Sub(s.since))
	return round(plotLeft + f*(plotRight-plotLeft))
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

type tick struct {
	At    float64
	Label string
}

// timeSteps are the tick spacings tried, finest first.
var timeSteps = []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour}

// ticks are the window's time ticks: at most a dozen, on whole hours or
// UTC midnights, labelled with the date at midnight.
func (s timeScale) ticks() []tick {
	span := s.until.Sub(s.since)
	step := timeSteps[len(timeSteps)-1]
	for _, st := range timeSteps {
		if span/st <= 12 {
			step = st
			break
		}
	}
	// Steps of up to a day divide it: truncated (from the Unix epoch, a
	// UTC midnight) they fall on midnights, which carry the date.
	align := min(step, 24*time.Hour)
	var out []tick
	for t := s.since.UTC().Truncate(align); !t.After(s.until); t = t.Add(step) {
		if t.Before(s.since) {
			continue
		}
		label := t.Format("Jan 2")
		switch {
		case t.Hour() != 0 || t.Minute() != 0:
			label = t.Format("15:04")
			if len(out) == 0 { // the first tick says which day
				label = t.Format("Jan 2 15:04")
			}
		}
		out = append(out, tick{s.x(t), label})
	}
	return out
}

// valueScale maps readings onto the plot's height.
type valueScale struct {
	lo, hi      float64
	top, height float64
	ticksWanted float64 // about how many steps to label (0: 4)
}

func newValueScale(values []float64, top, height float64) valueScale {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	switch {
	case lo > hi:
		lo, hi = 0, 1
	case lo == hi:
		pad := math.Max(math.Abs(lo)*0.1, 1e-9)
		lo, hi = lo-pad, hi+pad
	}
	pad := (hi - lo) * 0.08
	step := niceStep((hi - lo + 2*pad) / 4)
	s := valueScale{lo: math.Floor((lo-pad)/step) * step, hi: math.Ceil((hi+pad)/step) * step, top: top, height: height}
	if lo >= 0 && s.lo < 0 { // lags, rates, counts: no axis below zero they never reach
		s.lo = 0
	}
	return s
}

func (s valueScale) y(v float64) float64 {
	f := (v - s.lo) / (s.hi - s.lo)
	return round(s.top + s.height - math.Max(0, math.Min(1, f))*s.height)
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func (s valueScale) ticks() []tick {
	step := niceStep((s.hi - s.lo) / cmp.Or(s.ticksWanted, 4))
	var out []tick
	for v := s.lo; v <= s.hi+step/2; v += step {
		v = math.Round(v/step) * step // no 0.30000000000000004
		out = append(out, tick{s.y(v), expression.FormatThousands(v)})
	}
	return out
}

// chartView is one chart as the template draws it.
type chartView struct {
	ID, Model, Rule, Alert  string
	Title, Subtitle         string
	Height, PlotTop, Bottom float64
	Left, Right             float64
	Line                    string
	Dots                    []dot
	Bands                   []band
	Limit                   *limit
	Note                    string
	XTicks, YTicks          []tick
	MarkList                []mark
	Marks                   int
	Empty                   string
}

type dot struct {
	X, Y float64
	Tip  string
}

// band shades the time an alert was open (or suppressed).
type band struct {
	X, W       float64
	Suppressed bool
}

// limit is the threshold line, and the side of it that breaches.
type limit struct {
	Y, ZoneY, ZoneH float64
	Label           string
}

type mark struct {
	X, Y       float64
	Kind, Tip  string
	Guide      bool
	GuideStart float64
}

// readingsIn are a series' readings in the window, with the values the
// trail recorded for them (a series that keeps no history has only those).
func readingsIn(s []series.Observation, recs []audit.Record, x timeScale) []series.Observation {
	seen := map[time.Time]bool{}
	var out []series.Observation
	for _, o := range s {
		if !o.At.Before(x.since) && o.At.Before(x.until) && !seen[o.At] {
			seen[o.At] = true
			out = append(out, o)
		}
	}
	for _, r := range recs {
		if r.Value != nil && r.Actor == "router" && !seen[r.At] {
			seen[r.At] = true
			out = append(out, series.Observation{At: r.At, Value: *r.Value})
		}
	}
	sortObservations(out)
	return out
}

func seriesTitle(k signal.SeriesKey) string {
	t := k.Kind + " · " + k.Metric
	if k.Feature != "" {
		t += " · " + k.Feature
	}
	if k.Segment != "" {
		t += " · " + k.Segment
	}
	return t
}

func readingsOf(in Input, k signal.SeriesKey) []series.Observation {
	for _, s := range in.Series {
		if s.Key == k {
			return s.Readings
		}
	}
	return nil
}

// plotLine draws readings as a path and dots.
func plotLine(c *chartView, obs []series.Observation, x timeScale, y valueScale) {
	var b strings.Builder
	for i, o := range obs {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%g %g", cmd, x.x(o.At), y.y(o.Value))
		if len(obs) <= maxDots {
			c.Dots = append(c.Dots, dot{x.x(o.At), y.y(o.Value), formatTime(o.At) + " · " + expression.FormatThousands(o.Value)})
		}
	}
	c.Line = b.String()
	c.XTicks, c.YTicks = x.ticks(), y.ticks()
}
