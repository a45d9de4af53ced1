package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

type routeCmd struct {
	dir     string
	jsonOut bool
	failOn  failOn
}

func (*routeCmd) name() string { return "route" }
func (*routeCmd) synopsis() string {
	return "dry run: say which rules fire on events, and who is told, how and when"
}
func (c *routeCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object per event, one per line")
	c.failOn.flag(fs)
}

// input is one event to route, with where it came from.
type input struct {
	where string
	raw   []byte
}

// dryRun is the router's own pipeline on a throwaway embedded store,
// never saved: each event, in the order given across all the files, is
// applied as the router would apply it, so that for:, grouping and
// inhibition behave as in production, and route and replay agree.
type dryRun struct {
	cfg   *config.Config
	st    *memstore.Store
	p     *pipeline.Processor
	clock time.Time // the latest event's time, as in replay
}

func newDryRun(cfg *config.Config) *dryRun {
	r := &dryRun{cfg: cfg}
	r.st = memstore.New(func() time.Time { return r.clock })
	// Times come from the events, bounded by the wall clock as the router
	// bounds them: a time ahead of now is refused with its reason.
	r.p = &pipeline.Processor{Config: cfg, Store: r.st, Timelines: r.st, Wall: time.Now, Explain: true}
	return r
}

func (c *routeCmd) run(args []string, std stdio) int {
	if len(args) == 0 {
		fmt.Fprintln(std.err, "stakeout route: name event files (JSON, or JSON lines), or - for standard input")
		return 2
	}
	cfg, ok := load(c.dir, std)
	if !ok {
		return 2
	}
	r := newDryRun(cfg)
	ctx := context.Background()
	code := 0
	if configErrors(std.err, "route", cfg) {
		code = 1
	}
	fail := func(where string, err error, exit int) {
		code = max(code, exit)
		if c.jsonOut {
			writeJSONLine(std.out, struct {
				Input string `json:"input"`
				Error string `json:"error"`
			}{where, err.Error()})
			return
		}
		fmt.Fprintf(std.out, "== %s\n   error: %v\n\n", where, err)
	}
	for _, name := range args {
		inputs, err := readInputs(name, std.in)
		if err != nil {
			// One unreadable file does not stop the others.
			if name == "-" {
				name = "stdin"
			}
			fail(name, err, exitCode(err))
			continue
		}
		for _, in := range inputs {
			rep, err := r.route(ctx, in)
			switch {
			case err != nil:
				fail(in.where, err, 2) // the embedded store failed: nothing to do with the input
			case rep.quarantined != "":
				// What the router would quarantine is this input's error.
				fail(in.where, errors.New(rep.quarantined), 1)
			default:
				c.show(std.out, rep)
			}
		}
	}
	if c.failOn.report(std.err, "route") {
		code = max(code, 1)
	}
	return code
}

// show prints what the pipeline decided for one event, and notes the
// alerts it opened for --fail-on.
func (c *routeCmd) show(w io.Writer, rep *routeReport) {
	for _, ch := range rep.Changes {
		if ch.State == "opened" || ch.State == "reopened" {
			c.failOn.add(ch.Alert, ch.Severity)
		}
	}
	if c.jsonOut {
		writeJSONLine(w, rep)
		return
	}
	rep.writeText(w)
}

// routeReport is what the pipeline decided for one event.
type routeReport struct {
	Input     string    `json:"input"`
	Model     string    `json:"model"`
	Series    string    `json:"series"`
	At        time.Time `json:"observed_at"`
	Duplicate bool      `json:"duplicate,omitempty"`
	// Late says why the reading is late for its series.
	Late string `json:"late,omitempty"`
	// Ignored says why an event that was read has nothing to evaluate.
	Ignored string `json:"ignored,omitempty"`
	// Recorded is the entry a version event adds to its model's timeline.
	Recorded *signal.VersionChange `json:"recorded,omitempty"`
	// Rules are the verdicts of the rules that watch the event's series.
	Rules []pipeline.Verdict `json:"rules"`
	// Changes are the alerts' changes, with who is told, how and when.
	Changes []routedChange `json:"alerts"`

	others      []string          // rules that watch other series
	quiet       map[string]string // firing rules that changed nothing: why
	quarantined string
}

// routedChange is an alert's change (as replay --json prints it) with its
// routing: the role and deadline of the alert, the escalation chain a new
// group starts, and the notifications that tell of it.
type routedChange struct {
	pipeline.Change
	Role       string          `json:"role,omitempty"`
	AckWithin  string          `json:"ack_within,omitempty"`
	Escalation []pipeline.Step `json:"escalation,omitempty"`
	Runbook    string          `json:"runbook,omitempty"`
	Told       []told          `json:"told"`
}

// told is one notification a change queued: its kind, to whom, on which
// channels, and when it goes out (an update waits for its window's end,
// to go out once with every alert that joined the group in it).
type told struct {
	Kind     string    `json:"kind"`
	Owner    string    `json:"owner"`
	Channels []string  `json:"channels"`
	Group    string    `json:"group"`
	At       time.Time `json:"at"`
}

func (r *dryRun) route(ctx context.Context, in input) (*routeReport, error) {
	out, err := r.p.Process(ctx, in.raw)
	if err != nil {
		return nil, err
	}
	rep := &routeReport{Input: in.where, Model: out.Model, Series: out.Series, At: out.At, Duplicate: out.Duplicate,
		Late: out.Late, Rules: []pipeline.Verdict{}, Changes: []routedChange{}, quarantined: out.Quarantined}
	if out.Quarantined != "" {
		return rep, nil
	}
	if out.Ignored != "" || out.Recorded != nil {
		rep.Ignored, rep.Recorded = out.Ignored, out.Recorded
		if out.Recorded != nil {
			rep.At = out.Recorded.At
		}
		return rep, nil
	}
	r.clock = maxTime(r.clock, out.At)
	m := r.cfg.Models[out.Model]
	changed := map[string]bool{}
	for _, ch := range out.Changes {
		changed[ch.Rule] = true
		rep.Changes = append(rep.Changes, r.routed(m, ch, &out))
	}
	for _, v := range out.Verdicts {
		if v.Status == pipeline.OtherSeries {
			rep.others = append(rep.others, v.Rule)
			continue
		}
		rep.Rules = append(rep.Rules, v)
		if v.Status == "firing" && !changed[v.Rule] {
			if rep.quiet == nil {
				rep.quiet = map[string]string{}
			}
			rep.quiet[v.Rule] = r.unchanged(ctx, v.Alert)
		}
	}
	return rep, nil
}

// routed adds to a change its routing and the notifications it queued.
func (r *dryRun) routed(m *config.Model, ch pipeline.Change, out *pipeline.Outcome) routedChange {
	rc := routedChange{Change: ch, Told: []told{}}
	for _, n := range out.Queued {
		if n.Alert.ID == ch.Alert {
			rc.Told = append(rc.Told, told{Kind: n.Kind, Owner: n.Owner, Channels: n.Channels, Group: n.Group, At: n.Created})
		}
	}
	for _, n := range out.Coalesced {
		if n.Alert.ID == ch.Alert {
			rc.Told = append(rc.Told, told{Kind: n.Kind, Owner: n.Owner, Channels: n.Channels, Group: n.Group, At: n.ClaimedUntil})
		}
	}
	rule := ruleNamed(m, ch.Rule)
	if rule == nil || ch.State == "resolved" || ch.State == "suppressed" || ch.State == "silenced" {
		return rc
	}
	plan := pipeline.Plan(r.cfg, m, rule, ch.At)
	rc.Role, rc.AckWithin, rc.Runbook = plan.Role, plan.AckWithin, plan.Runbook
	// A new group starts its escalation; an alert that joins an open
	// group follows the group's, already under way.
	if hasOpened(rc.Told) {
		rc.Escalation = plan.Escalation
	}
	return rc
}

// unchanged says why a firing rule changed no alert, from the store.
func (r *dryRun) unchanged(ctx context.Context, id string) string {
	a, err := r.st.GetAlert(ctx, id)
	switch {
	case err != nil:
		return fmt.Sprintf("alert %s: %v", id, err)
	case a == nil:
		return "no alert of it for this series"
	case a.Status == state.Suppressed:
		return fmt.Sprintf("%s stays suppressed, inhibited by %s: nobody told", id, a.InhibitedBy)
	case a.Status == state.Resolved && a.Muted:
		return fmt.Sprintf("%s was called a false alarm: quiet until its series is clean again", id)
	}
	return fmt.Sprintf("%s is %s", id, a.Status)
}

// ruleNamed is the model's rule of that name, or the alert about one
// (config.Rule.ErrorRule).
func ruleNamed(m *config.Model, name string) *config.Rule {
	if m == nil {
		return nil
	}
	for _, r := range m.Rules {
		if r.Name == name {
			return r
		}
		if er := r.ErrorRule(); er.Name == name {
			return er
		}
	}
	return nil
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

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "nothing"
	}
	return strings.Join(ss, ", ")
}
