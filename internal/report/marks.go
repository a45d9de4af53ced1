package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/series"
)

// alertChart draws one alert's series: its readings, the threshold it last
// fired on, the time it was open, and the marks of its trail.
func alertChart(in Input, a *alertTrail, x timeScale, id int) chartView {
	obs := readingsIn(readingsOf(in, a.key), a.records, x)
	values := make([]float64, 0, len(obs)+1)
	for _, o := range obs {
		values = append(values, o.Value)
	}
	th, hasLimit := parseThreshold(a.why)
	offScale := hasLimit && th.Of != "" && !nearReadings(th.Value, values)
	if hasLimit && !offScale {
		values = append(values, th.Value)
	}
	y := newValueScale(values, plotTop, plotHeight)
	c := chartView{ID: fmt.Sprintf("chart-%d", id), Model: a.key.Model, Rule: a.rule, Alert: a.id, Title: a.rule, Subtitle: seriesTitle(a.key) + " · alert " + a.id,
		Height: chartHeight, PlotTop: plotTop, Bottom: plotBottom, Left: plotLeft, Right: plotRight}
	plotLine(&c, obs, x, y)
	kept := readingsOf(in, a.key)
	switch {
	case len(obs) == 0:
		c.Empty = "no readings of this series in the window: its marks alone"
		c.YTicks = nil
	case len(kept) == 0:
		c.Subtitle += " · readings as its alerts recorded them (its rules keep no history)"
	}
	switch {
	case offScale:
		c.Note = fmt.Sprintf("The rule fires when %s %s %s: another scale than the readings', so the line is not drawn.", th.Of, th.Op, expression.FormatNumber(th.Value))
	case hasLimit:
		c.Limit = limitLine(th, y)
		if th.Of != "" {
			c.Note = fmt.Sprintf("The rule compares %s, not each reading, with this line: the line is a guide.", th.Of)
		}
	case a.why != "":
		c.Note = "No single threshold to draw: the rule last fired because " + a.why + "."
	default:
		c.Note = "No threshold to draw: the state holds no explanation of this alert's firing."
	}
	c.MarkList = marks(a.records, x)
	c.Marks = len(c.MarkList)
	return c
}

// quietChart draws a series no alert of the window is about, smaller.
func quietChart(s Series, x timeScale, id int) (chartView, bool) {
	obs := readingsIn(s.Readings, nil, x)
	if len(obs) == 0 {
		return chartView{}, false
	}
	values := make([]float64, len(obs))
	for i, o := range obs {
		values[i] = o.Value
	}
	const top = 10
	y := newValueScale(values, top, quietHeight-top-30)
	y.ticksWanted = 2 // a small chart: fewer labels
	c := chartView{ID: fmt.Sprintf("chart-%d", id), Title: seriesTitle(s.Key), Height: quietHeight, PlotTop: top,
		Bottom: quietHeight - 30, Left: plotLeft, Right: plotRight}
	plotLine(&c, obs, x, y)
	return c, true
}

// nearReadings says whether a threshold on something other than the
// readings (a slope, a mean) is on their scale: within their range, or
// no further from it than the range is wide. A slope of -0.001 drawn
// beside an AUC of 0.78 would flatten the readings into a line.
func nearReadings(v float64, values []float64) bool {
	if len(values) == 0 {
		return true
	}
	lo, hi := slices.Min(values), slices.Max(values)
	span := max(hi-lo, math.Abs(hi)*0.1)
	return v >= lo-span && v <= hi+span
}

func limitLine(th threshold, y valueScale) *limit {
	l := &limit{Y: y.y(th.Value), Label: th.Op + " " + expression.FormatThousands(th.Value)}
	if th.Of != "" {
		l.Label = th.Of + " " + l.Label
	}
	if th.Source != "" {
		l.Label += " (" + th.Source + ")"
	}
	if strings.HasPrefix(th.Op, ">") {
		l.ZoneY, l.ZoneH = y.top, l.Y-y.top
	} else {
		l.ZoneY, l.ZoneH = l.Y, y.top+y.height-l.Y
	}
	return l
}

// bands shade from each opening (or suppression) to its resolution, or to
// the end of the window: trail is the alert's whole trail, in order, and
// what lies outside the window is cut off.
func bands(trail []audit.Record, x timeScale) []band {
	trail = slices.Clone(trail)
	slices.SortStableFunc(trail, func(a, b audit.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	var out []band
	var start time.Time
	suppressed := false
	closeAt := func(end time.Time) {
		if !start.IsZero() && end.After(x.since) && start.Before(x.until) {
			from, to := max(x.x(start), plotLeft), min(x.x(end), plotRight)
			out = append(out, band{X: from, W: max(to-from, 1), Suppressed: suppressed})
		}
		start = time.Time{}
	}
	for _, r := range trail {
		switch r.Action {
		case audit.Opened, audit.Suppressed:
			closeAt(r.At)
			start, suppressed = r.At, r.Action == audit.Suppressed
		case audit.Resolved, audit.FalseAlarm:
			closeAt(r.At)
		}
	}
	closeAt(x.until)
	return out
}

// marks places the trail's marks in the strip above the plot: in time
// order, each in the first of three rows where it overlaps nothing.
func marks(recs []audit.Record, x timeScale) []mark {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b audit.Record) int { return a.At.Compare(b.At) })
	var out []mark
	rows := []float64{-100, -100, -100}
	for _, r := range recs {
		kind, ok := kindOf(r.Action)
		if !ok {
			continue
		}
		m := mark{X: x.x(r.At), Kind: kind, Tip: markTip(r)}
		row := 0
		for i, last := range rows {
			if m.X-last >= markGap {
				row = i
				break
			}
		}
		rows[row] = m.X
		m.Y = float64(10 + 12*row)
		m.Guide = kind == "opened" || kind == "resolved" || kind == "suppressed"
		m.GuideStart = m.Y + 5
		out = append(out, m)
	}
	return out
}

func markTip(r audit.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · %s", formatTime(r.At), r.Action)
	if r.Owner != "" && (r.Action == audit.Opened || r.Action == audit.Escalated) {
		fmt.Fprintf(&b, " → %s", r.Owner)
	}
	if r.Actor != "" && r.Actor != "router" && r.Actor != "escalator" {
		fmt.Fprintf(&b, " by %s", r.Actor)
	}
	if r.Value != nil {
		fmt.Fprintf(&b, " · value %s", expression.FormatNumber(*r.Value))
	}
	if r.Detail != "" {
		b.WriteString("\n" + r.Detail)
	}
	return b.String()
}

func sortObservations(obs []series.Observation) {
	slices.SortStableFunc(obs, func(a, b series.Observation) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
}
