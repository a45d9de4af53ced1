package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/report"
)

type reportCmd struct {
	statePath, model, since, out string
}

func (*reportCmd) name() string { return "report" }
func (*reportCmd) synopsis() string {
	return "draw a replay's alerts, owners and noise as one self-contained HTML page"
}
func (c *reportCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.statePath, "state", "", "the embedded store saved by stakeout replay --state")
	fs.StringVar(&c.model, "model", "", "only this model (default: every model in the state)")
	fs.StringVar(&c.since, "since", "", "draw from this long before the state's latest time (7d, 12h) or from this RFC 3339 time (default: all of it)")
	fs.StringVar(&c.out, "o", "report.html", "the file to write, or - for standard output")
}

func (c *reportCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout report: unexpected argument %q (use --model to pick a model)\n", args[0])
		return 2
	}
	if c.statePath == "" {
		fmt.Fprintln(io.err, "stakeout report: name the state: --state FILE (saved by stakeout replay --state FILE)")
		return 2
	}
	// memstore.Open takes a missing file for an empty store (replay
	// starts one there); a report of nothing is a mistyped name.
	if _, err := os.Stat(c.statePath); err != nil {
		fmt.Fprintf(io.err, "stakeout report: --state: %v\n", err)
		return 2
	}
	in, err := loadReport(c.statePath)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout report: %v\n", err)
		return 2
	}
	first, last := report.Span(in)
	if last.IsZero() {
		fmt.Fprintf(io.err, "stakeout report: %s holds no alerts and no readings: nothing to draw\n", c.statePath)
		return 1
	}
	// The window is [since, until): until just after the latest record.
	in.Since, in.Until = first, last.Add(time.Second)
	if c.since != "" {
		if in.Since, err = parseSince(c.since, last); err != nil {
			fmt.Fprintf(io.err, "stakeout report: %v (counted back from the state's latest time, %s)\n", err, formatSince(last))
			return 2
		}
	}
	if c.model != "" {
		models := report.Models(in)
		if !slices.Contains(models, c.model) {
			fmt.Fprintf(io.err, "stakeout report: --model: no model %q in %s%s\n", c.model, c.statePath, expression.Suggest(c.model, models))
			return 1
		}
		in = report.Only(in, c.model)
	}
	var page bytes.Buffer
	if err := report.Write(&page, in); err != nil {
		fmt.Fprintf(io.err, "stakeout report: %v\n", err)
		return 2
	}
	if c.out == "-" {
		io.out.Write(page.Bytes())
		return 0
	}
	if err := os.WriteFile(c.out, page.Bytes(), 0o644); err != nil {
		fmt.Fprintf(io.err, "stakeout report: %v\n", err)
		return 2
	}
	abs, _ := filepath.Abs(c.out)
	fmt.Fprintf(io.out, "report of %s written to %s (%d KB): open file://%s\n", plural(len(report.Models(in)), "model"), c.out, (page.Len()+1023)/1024, abs)
	return 0
}

// loadReport reads what a report draws from a saved embedded store: every
// alert, its trail, and the readings kept of each series.
func loadReport(path string) (report.Input, error) {
	ctx := context.Background()
	st, err := memstore.Open(path, time.Now)
	if err != nil {
		return report.Input{}, err
	}
	in := report.Input{Source: filepath.Base(path), HistoryLimit: memstore.MaxHistory}
	if in.Alerts, err = st.Alerts(ctx); err != nil {
		return in, err
	}
	hs, err := st.Histories(ctx)
	if err != nil {
		return in, err
	}
	for _, h := range hs {
		in.Series = append(in.Series, report.Series{Key: h.Key, Readings: h.Readings})
	}
	for _, a := range in.Alerts {
		var recs []audit.Record
		if recs, err = st.AlertRecords(ctx, a.ID); err != nil {
			return in, err
		}
		in.Records = append(in.Records, recs...)
	}
	return in, nil
}
