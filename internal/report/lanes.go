package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/noise"
)

// ask is one time an owner was asked to look at an alert: when it opened
// for them, escalated or was handed to them, or they were reminded.
type ask struct {
	owner, alert, how string
	at, end           time.Time
	answered          bool
	wait              time.Duration
	outcome           string
}

// laneView is one owner's lane.
type laneView struct {
	Owner            string
	Asked, Answered  int
	Median           string
	Asks             []askView
	Left, Right, Top float64
	Height, Bottom   float64
	Ticks            []tick
}

type askView struct {
	X, W     float64
	LabelX   float64 // beside the bar, when it has no room for its label
	Answered bool
	Label    string
	Tip      string
}

// axisView is the time axis under the lanes.
type axisView struct {
	Ticks       []tick
	Left, Right float64
}

// lanes follows each alert's trail: who was asked, and whether and when
// someone answered (acknowledged, snoozed or called it a false alarm)
// before the alert moved on to someone else, resolved, or the window ended.
func lanes(recs []audit.Record, x timeScale) ([]laneView, axisView) {
	byAlert := map[string][]audit.Record{}
	for _, r := range recs {
		byAlert[r.Alert] = append(byAlert[r.Alert], r)
	}
	var asks []*ask
	for _, id := range slices.Sorted(maps.Keys(byAlert)) {
		trail := byAlert[id]
		slices.SortStableFunc(trail, func(a, b audit.Record) int { return cmp.Compare(a.Seq, b.Seq) })
		asks = append(asks, asksOf(trail, x.until)...)
	}
	byOwner := map[string][]*ask{}
	for _, a := range asks {
		byOwner[a.owner] = append(byOwner[a.owner], a)
	}
	var out []laneView
	for _, owner := range slices.Sorted(maps.Keys(byOwner)) {
		out = append(out, lane(owner, byOwner[owner], x))
	}
	return out, axisView{Ticks: x.ticks(), Left: plotLeft, Right: plotRight}
}

// asksOf reads one alert's trail, in order.
func asksOf(trail []audit.Record, until time.Time) []*ask {
	var all, open []*ask
	settle := func(at time.Time, outcome string) {
		for _, a := range open {
			a.end, a.outcome = at, outcome
		}
		open = nil
	}
	for _, r := range trail {
		switch r.Action {
		case audit.Opened, audit.Escalated, audit.Reassigned:
			verb := r.Action
			if r.Action == audit.Escalated && len(open) > 0 && open[len(open)-1].owner == r.Owner {
				verb = "re-notified"
			}
			how := verb
			if len(r.Notify) > 0 {
				how += " via " + strings.Join(r.Notify, ", ")
			}
			settle(r.At, "no answer before it was "+verb+" to "+r.Owner)
			a := &ask{owner: r.Owner, alert: r.Alert, how: how, at: r.At}
			all, open = append(all, a), append(open, a)
		case audit.Acknowledged, audit.Snoozed, audit.FalseAlarm:
			for _, a := range open {
				a.answered, a.wait = true, max(r.At.Sub(a.at), 0)
			}
			settle(r.At, fmt.Sprintf("%s by %s", r.Action, r.Actor))
		case audit.Resolved:
			settle(r.At, "no answer: resolved by "+r.Actor)
		}
	}
	settle(until, "no answer by the end of the window")
	return all
}

func lane(owner string, asks []*ask, x timeScale) laneView {
	const height, top = 34, 6
	l := laneView{Owner: owner, Asked: len(asks), Left: plotLeft, Right: plotRight, Top: top, Height: height, Bottom: height - 4, Ticks: x.ticks()}
	slices.SortStableFunc(asks, func(a, b *ask) int { return a.at.Compare(b.at) })
	var waits []time.Duration
	for _, a := range asks {
		v := askView{X: x.x(a.at), W: max(x.x(a.end)-x.x(a.at), 2), Answered: a.answered}
		v.Tip = fmt.Sprintf("%s · %s asked (%s) about %s\n", formatTime(a.at), owner, a.how, a.alert)
		if a.answered {
			l.Answered++
			waits = append(waits, a.wait)
			v.Label = noise.FormatWait(a.wait)
			v.Tip += fmt.Sprintf("answered after %s: %s", noise.FormatWait(a.wait), a.outcome)
		} else {
			v.Label = "no answer"
			v.Tip += a.outcome + fmt.Sprintf(" (after %s)", noise.FormatWait(a.end.Sub(a.at)))
		}
		if room := v.W >= float64(len(v.Label))*6+8; !room && a.answered {
			v.LabelX = v.X + v.W + 3 // a quick answer: its time beside its bar
		} else if !room {
			v.Label = "" // the next ask may start right after: the tooltip says it
		}
		l.Asks = append(l.Asks, v)
	}
	l.Median = "–"
	if len(waits) > 0 {
		slices.Sort(waits)
		l.Median = noise.FormatWait(noise.Percentile(waits, 0.5))
	}
	return l
}
