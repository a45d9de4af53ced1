package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/route"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

type routeCmd struct {
	dir     string
	jsonOut bool
}

func (*routeCmd) name() string { return "route" }
func (*routeCmd) synopsis() string {
	return "dry run: say which rules fire on events, and who is told, how and when"
}
func (c *routeCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object per event, one per line")
}

// input is one event to route, with where it came from.
type input struct {
	where string
	raw   []byte
}

func (c *routeCmd) run(args []string, io stdio) int {
	if len(args) == 0 {
		fmt.Fprintln(io.err, "stakeout route: name event files (JSON, or JSON lines), or - for standard input")
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	dry := route.NewDryRun(cfg)
	// What the router would quarantine, a dry run refuses: names and
	// labels over their limits, times ahead of now.
	dry.Check = func(ev *signal.Event) error {
		if reason := pipeline.Implausible(ev, time.Now()); reason != "" {
			return errors.New(reason)
		}
		return nil
	}
	code := 0
	report := func(where string, dec route.Decision, err error) {
		if err != nil {
			code = max(code, exitCode(err))
		}
		if c.jsonOut {
			writeJSON(io.out, where, dec, err)
		} else {
			writeText(io.out, where, dec, err)
		}
	}
	for _, name := range args {
		inputs, err := readInputs(name, io.in)
		if err != nil {
			// One unreadable file does not stop the others.
			if name == "-" {
				name = "stdin"
			}
			report(name, route.Decision{}, err)
			continue
		}
		for _, in := range inputs {
			dec, err := dry.Route(in.raw)
			report(in.where, dec, err)
		}
	}
	return code
}

// readInputs reads one file (or stdin for "-"): a single JSON event, or
// JSON lines, one event per line, named FILE:LINE. A file is JSON lines
// when it has several lines and its first line holds a whole object (it
// starts with { and ends with }, valid or not: a bad first line must not
// hide the good ones). A pretty-printed event starts with a lone {, so a
// truncated one gets one error that says where.
func readInputs(name string, stdin io.Reader) ([]input, error) {
	data, name, err := readInput(name, stdin)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	first, _, multi := bytes.Cut(trimmed, []byte("\n"))
	first = bytes.TrimSpace(first)
	if !multi || len(first) < 2 || first[0] != '{' || first[len(first)-1] != '}' {
		return []input{{where: name, raw: trimmed}}, nil
	}
	var out []input
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out = append(out, input{where: fmt.Sprintf("%s:%d", name, i+1), raw: line})
	}
	return out, nil
}

func writeJSON(w io.Writer, where string, dec route.Decision, err error) {
	var v any
	if err != nil {
		v = struct {
			Input string `json:"input"`
			Error string `json:"error"`
		}{where, err.Error()}
	} else {
		v = struct {
			Input string `json:"input"`
			route.Decision
		}{where, dec}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "value 0.4 > 0.25" reads better than \u003e
	enc.Encode(v)
}

func writeText(w io.Writer, where string, dec route.Decision, err error) {
	fmt.Fprintf(w, "== %s\n", where)
	if err != nil {
		fmt.Fprintf(w, "   error: %v\n\n", err)
		return
	}
	fmt.Fprintf(w, "   %s at %s\n", dec.Series, dec.At.Format(time.RFC3339))
	if dec.Late {
		fmt.Fprintln(w, "   late: no newer than the latest reading of this series; recorded, but opens and resolves nothing")
	}
	alerts := map[string]route.Alert{}
	for _, a := range dec.Alerts {
		alerts[a.Rule] = a
	}
	var others []string
	for _, v := range dec.Rules {
		if v.Status == route.OtherSeries {
			others = append(others, v.Rule)
			continue
		}
		a, fired := alerts[v.Rule]
		if !fired {
			fmt.Fprintf(w, "   %-7s %s: %s\n", v.Status, v.Rule, v.Why)
			continue
		}
		fmt.Fprintf(w, "   FIRES   %s: %s\n", a.Rule, a.Summary)
		fmt.Fprintf(w, "           why: %s\n", a.Why)
		fmt.Fprintf(w, "           %s → role %s → owner %s via %s", a.Severity, a.Role, a.Owner, orNone(a.Notify))
		if a.AckWithin != "" {
			fmt.Fprintf(w, ", ack within %s", a.AckWithin)
		}
		fmt.Fprintln(w)
		if len(a.Escalation) > 0 {
			steps := make([]string, len(a.Escalation))
			for i, s := range a.Escalation {
				steps[i] = fmt.Sprintf("%s at +%s (%s)", s.Owner, s.After, s.At.Format("2006-01-02T15:04Z07:00"))
			}
			fmt.Fprintf(w, "           escalation: %s\n", strings.Join(steps, ", then "))
		} else if a.AckWithin != "" {
			fmt.Fprintf(w, "           escalation: none (%s has no escalation list)\n", a.Owner)
		}
		switch {
		case a.Impact != nil:
			fmt.Fprintf(w, "           impact: %s per day\n", expression.FormatThousands(*a.Impact))
		case a.ImpactError != "":
			fmt.Fprintf(w, "           impact: not computed: %s\n", a.ImpactError)
		}
		if a.Runbook != "" {
			fmt.Fprintf(w, "           runbook: %s\n", a.Runbook)
		}
	}
	if len(others) > 0 {
		verb := "watch"
		if len(others) == 1 {
			verb = "watches"
		}
		fmt.Fprintf(w, "   (%s %s other series: %s)\n", plural(len(others), "rule"), verb, strings.Join(others, ", "))
	}
	fmt.Fprintln(w)
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "nothing"
	}
	return strings.Join(ss, ", ")
}

// thousands formats money: 1,620,000 — or 12.5 below 1,000.
