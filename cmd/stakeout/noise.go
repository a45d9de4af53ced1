package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/noise"
)

// defaultNoiseWindow is long enough that a weekly job's rules have a few
// alerts to judge by, short enough to reflect the current thresholds.
const defaultNoiseWindow = "30d"

type noiseCmd struct {
	dir, statePath, table, endpoint string
	since, model                    string
	jsonOut                         bool
}

func (*noiseCmd) name() string { return "noise" }
func (*noiseCmd) synopsis() string {
	return "per rule: alerts, acknowledgements, false alarms, escalations, time to acknowledge"
}
func (c *noiseCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.StringVar(&c.statePath, "state", "", "the embedded store saved by stakeout replay --state")
	fs.StringVar(&c.table, "table", "", "the router's DynamoDB table (with the usual AWS configuration)")
	fs.StringVar(&c.endpoint, "endpoint", "", "with --table: a DynamoDB endpoint, such as DynamoDB Local's")
	fs.StringVar(&c.since, "since", defaultNoiseWindow, "count alerts opened since this long ago (7d, 12h) or this RFC 3339 time")
	fs.StringVar(&c.model, "model", "", "only this model's rules (default: every model in the configuration)")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object per rule, one per line")
}

func (c *noiseCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout noise: unexpected argument %q (use --model to pick a model)\n", args[0])
		return 2
	}
	if !storeFlags(io.err, "noise", c.statePath, c.table, c.endpoint) {
		return 2
	}
	if _, err := parseSince(c.since, time.Now()); err != nil {
		fmt.Fprintf(io.err, "stakeout noise: %v\n", err)
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	// A model whose file has errors is not served now, but its alerts of
	// the window are still evidence.
	models := slices.Sorted(maps.Keys(cfg.Models))
	models = slices.Sorted(slices.Values(append(models, slices.Collect(maps.Keys(cfg.Broken))...)))
	if c.model != "" {
		if !slices.Contains(models, c.model) {
			fmt.Fprintf(io.err, "stakeout noise: --model: no model %q in the configuration under %s%s\n", c.model, c.dir, expression.Suggest(c.model, models))
			return 2
		}
		models = []string{c.model}
	}

	ctx := context.Background()
	st, err := openAuditStore(ctx, c.statePath, c.table, c.endpoint)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout noise: %v\n", err)
		return 2
	}
	recs, since, until, err := c.read(ctx, st, models)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout noise: %v\n", err)
		return 2
	}
	stats := noise.Report(recs, since, until)
	if len(stats) == 0 {
		// With --json, stdout stays a stream of objects (here, none).
		w := io.out
		if c.jsonOut {
			w = io.err
		}
		fmt.Fprintf(w, "no alerts since %s\n", formatSince(since))
		return 0
	}
	if c.jsonOut {
		writeNoiseJSON(io, stats, since, until)
	} else {
		writeNoiseTable(io, stats, since)
	}
	return 0
}

// read reads the models' records of the window --since names. It ends
// now for the router's table, and at the latest record for a replay's
// saved state, whose time is the events': "the last 7 days" of a replay
// of March are March's.
func (c *noiseCmd) read(ctx context.Context, st auditReader, models []string) (recs []audit.Record, since, until time.Time, err error) {
	// Whole seconds: the window printed (and in --json) reads cleanly, and
	// nothing of note happens in the fraction dropped.
	until = time.Now().Truncate(time.Second)
	from, to := time.Time{}, endOfTime
	if c.statePath == "" {
		since, _ = parseSince(c.since, until)
		from, to = since, until
	}
	for _, m := range models {
		r, err := st.ModelRecords(ctx, m, from, to)
		if err != nil {
			return nil, since, until, fmt.Errorf("read the audit trail of %s: %w", m, err)
		}
		recs = append(recs, r...)
	}
	if c.statePath == "" {
		return recs, since, until, nil
	}
	until = time.Time{}
	for _, r := range recs {
		until = maxTime(until, r.At)
	}
	if until.IsZero() {
		until = time.Now()
	}
	until = until.Truncate(time.Second).Add(time.Second)
	since, _ = parseSince(c.since, until)
	recs = slices.DeleteFunc(recs, func(r audit.Record) bool { return r.At.Before(since) || r.At.After(until) })
	return recs, since, until, nil
}

// parseSince reads --since: a duration back from now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := duration.Parse(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since: %q is neither a duration (7d, 12h) nor an RFC 3339 time (2026-03-01T00:00:00Z)", s)
	}
	if !t.Before(now) {
		return time.Time{}, fmt.Errorf("--since: %s is not in the past", s)
	}
	return t, nil
}

func formatSince(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

func writeNoiseTable(io stdio, stats []noise.RuleStats, since time.Time) {
	tw := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tRULE\tALERTS\tACKED\tUNACKED\tFALSE ALARMS\tRATE\tESCALATED\tMEDIAN ACK\tP90 ACK")
	var alerts, falseAlarms, escalated, unacked int
	for _, s := range stats {
		median, p90 := "-", "-"
		if s.Acknowledged > 0 {
			median, p90 = noise.FormatWait(s.MedianAck), noise.FormatWait(s.P90Ack)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", s.Model, s.Rule, s.Alerts, s.Acknowledged, s.Unacknowledged,
			s.FalseAlarms, percent(s.FalseAlarmRate), s.Escalations, median, p90)
		alerts += s.Alerts
		falseAlarms += s.FalseAlarms
		escalated += s.Escalations
		unacked += s.Unacknowledged
	}
	tw.Flush()
	fmt.Fprintf(io.out, "\n%s from %s since %s: %s (%s), %d escalated, %d never acknowledged\n",
		plural(alerts, "alert"), plural(len(stats), "rule"), formatSince(since),
		plural(falseAlarms, "false alarm"), percent(float64(falseAlarms)/float64(alerts)), escalated, unacked)
	writePrecisionTable(io, stats)
}

// writePrecisionTable prints, when late labels covered any alert, each
// rule's precision: of its alerts the labels covered, how many they
// confirmed, with those never covered counted apart (they say nothing
// either way), and a rule to retune flagged (noise.RuleStats.Retune).
func writePrecisionTable(io stdio, stats []noise.RuleStats) {
	if !slices.ContainsFunc(stats, func(s noise.RuleStats) bool { return s.Covered > 0 }) {
		return
	}
	fmt.Fprintln(io.out, "\nlate labels (alerts whose opening a quality event's window covered):")
	tw := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tRULE\tCOVERED\tCONFIRMED\tPRECISION\tNOT COVERED")
	for _, s := range stats {
		if !s.Judged() {
			continue // a quality rule is what judges, never judged
		}
		precision, flag := "-", ""
		if p, ok := s.Precision(); ok {
			precision = percent(p)
		}
		if s.Retune() {
			flag = fmt.Sprintf("  retune? (under %s over %d or more covered)", percent(noise.MinPrecision), noise.MinCovered)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d%s\n", s.Model, s.Rule, s.Covered, s.Confirmed, precision, s.NotCovered, flag)
	}
	tw.Flush()
}

// noiseLine is the JSON form of a rule's stats: durations in seconds, null
// when nothing was acknowledged, and the window, so that each line stands
// on its own in whatever collects them.
type noiseLine struct {
	Model            string    `json:"model"`
	Rule             string    `json:"rule"`
	Since            time.Time `json:"since"`
	Until            time.Time `json:"until"`
	Alerts           int       `json:"alerts"`
	Acknowledged     int       `json:"acknowledged"`
	Unacknowledged   int       `json:"unacknowledged"`
	FalseAlarms      int       `json:"false_alarms"`
	FalseAlarmRate   float64   `json:"false_alarm_rate"`
	Escalations      int       `json:"escalations"`
	MedianAckSeconds *float64  `json:"median_ack_seconds"`
	P90AckSeconds    *float64  `json:"p90_ack_seconds"`
	// Late labels: alerts they covered, confirmed, and those none
	// covered; precision is null when labels covered none.
	Covered    int      `json:"covered"`
	Confirmed  int      `json:"confirmed"`
	NotCovered int      `json:"not_covered"`
	Precision  *float64 `json:"precision"`
	Retune     bool     `json:"retune"`
}

func writeNoiseJSON(io stdio, stats []noise.RuleStats, since, until time.Time) {
	for _, s := range stats {
		line := noiseLine{Model: s.Model, Rule: s.Rule, Since: since.UTC(), Until: until.UTC(), Alerts: s.Alerts,
			Acknowledged: s.Acknowledged, Unacknowledged: s.Unacknowledged, FalseAlarms: s.FalseAlarms,
			FalseAlarmRate: s.FalseAlarmRate, Escalations: s.Escalations,
			Covered: s.Covered, Confirmed: s.Confirmed, NotCovered: s.NotCovered, Retune: s.Retune()}
		if p, ok := s.Precision(); ok {
			line.Precision = &p
		}
		if s.Acknowledged > 0 {
			median, p90 := s.MedianAck.Seconds(), s.P90Ack.Seconds()
			line.MedianAckSeconds, line.P90AckSeconds = &median, &p90
		}
		writeJSONLine(io.out, line)
	}
}

func percent(rate float64) string { return fmt.Sprintf("%.0f%%", rate*100) }
