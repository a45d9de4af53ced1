package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// under lines up what follows a verdict under its rule's name.
const under = "           "

// writeText prints the report for people: every verdict of the rules that
// watch the series, and under each the alert it changed, who is told, how
// and when.
func (rep *routeReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "== %s\n", rep.Input)
	if rep.Ignored != "" {
		fmt.Fprintf(w, "   ignored: %s\n\n", rep.Ignored)
		return
	}
	if c := rep.Recorded; c != nil {
		fmt.Fprintf(w, "   version timeline of %s at %s: version %s %s (%s)\n\n", c.Model, c.At.UTC().Format(time.RFC3339), c.Version, c.Change, entryDetail(*c))
		return
	}
	fmt.Fprintf(w, "   %s at %s\n", rep.Series, rep.At.Format(time.RFC3339))
	switch {
	case rep.Duplicate:
		fmt.Fprintln(w, "   duplicate: this event was applied already (the same id): it changes nothing")
	case rep.Late != "":
		fmt.Fprintf(w, "   %s\n", rep.Late)
	}
	shown := map[int]bool{}
	for _, v := range rep.Rules {
		if v.Status == "firing" {
			fmt.Fprintf(w, "   FIRES   %s: %s\n", v.Rule, v.Summary)
			fmt.Fprintf(w, "%swhy: %s\n", under, v.Why)
		} else {
			fmt.Fprintf(w, "   %-7s %s: %s\n", v.Status, v.Rule, v.Why)
		}
		switch {
		case v.Impact != nil:
			fmt.Fprintf(w, "%simpact: %s\n", under, expression.FormatImpact(*v.Impact))
		case v.ImpactError != "":
			fmt.Fprintf(w, "%simpact: not computed: %s\n", under, v.ImpactError)
		}
		if why, ok := rep.quiet[v.Rule]; ok {
			fmt.Fprintf(w, "%sno change: %s\n", under, why)
		}
		for i := range rep.Changes {
			if ch := &rep.Changes[i]; !shown[i] && (ch.Rule == v.Rule || ch.Rule == config.ErrorRulePrefix+v.Rule) {
				shown[i] = true
				ch.writeText(w)
			}
		}
	}
	for i := range rep.Changes {
		if !shown[i] {
			rep.Changes[i].writeText(w)
		}
	}
	if n := len(rep.others); n > 0 {
		verb := "watch"
		if n == 1 {
			verb = "watches"
		}
		fmt.Fprintf(w, "   (%s %s other series: %s)\n", plural(n, "rule"), verb, strings.Join(rep.others, ", "))
	}
	fmt.Fprintln(w)
}

// writeText prints what became of one alert, and who hears of it.
func (ch *routedChange) writeText(w io.Writer) {
	switch ch.State {
	case "suppressed":
		fmt.Fprintf(w, "%ssuppressed %s, inhibited by %s: nobody told\n", under, ch.Alert, ch.InhibitedBy)
		return
	case "silenced":
		fmt.Fprintf(w, "%ssilenced %s by %s until %s: nobody told meanwhile, its owner at the end if it is still open\n", under, ch.Alert, ch.SilencedBy, ch.SilencedUntil.UTC().Format(time.RFC3339))
		return
	case "resolved":
		fmt.Fprintf(w, "%sresolved %s\n", under, ch.Alert)
	case "updated":
		fmt.Fprintf(w, "%supdated %s: open already, still breaching: nobody told again\n", under, ch.Alert)
	default: // opened, reopened
		fmt.Fprintf(w, "%s%s %s: %s → role %s → owner %s via %s", under, ch.State, ch.Alert, ch.Severity, ch.Role, ch.Owner, orNone(ch.Notify))
		if ch.AckWithin != "" {
			fmt.Fprintf(w, ", ack within %s", ch.AckWithin)
		}
		fmt.Fprintln(w)
	}
	if len(ch.Told) == 0 && ch.State != "updated" {
		fmt.Fprintf(w, "%snobody told\n", under)
	}
	for _, t := range ch.Told {
		fmt.Fprintf(w, "%stells %s via %s: %s notification of group %s, %s\n", under, t.Owner, orNone(t.Channels), t.Kind, t.Group, when(t.At, ch.At))
	}
	switch {
	case len(ch.Escalation) > 0:
		steps := make([]string, len(ch.Escalation))
		for i, s := range ch.Escalation {
			steps[i] = fmt.Sprintf("%s at +%s (%s)", s.Owner, s.After, s.At.Format("2006-01-02T15:04Z07:00"))
		}
		fmt.Fprintf(w, "%sescalation: %s\n", under, strings.Join(steps, ", then "))
	case ch.AckWithin != "" && hasOpened(ch.Told):
		fmt.Fprintf(w, "%sescalation: none (%s has no escalation list)\n", under, ch.Owner)
	}
	if ch.Runbook != "" && (ch.State == "opened" || ch.State == "reopened") {
		fmt.Fprintf(w, "%srunbook: %s\n", under, ch.Runbook)
	}
}

func hasOpened(ts []told) bool {
	for _, t := range ts {
		if t.Kind == state.NoticeOpened {
			return true
		}
	}
	return false
}

// when says when a notification goes out, against the event's time.
func when(at, event time.Time) string {
	if !at.After(event) {
		return "now"
	}
	return "at " + at.UTC().Format(time.RFC3339) + " (its update window's end)"
}
