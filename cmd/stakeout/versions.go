package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// timelineReader reads a model's version timeline.
type timelineReader interface {
	Timeline(ctx context.Context, model string) (*state.Timeline, error)
}

type versionsCmd struct {
	dir, statePath, table, endpoint string
	jsonOut                         bool
}

func (*versionsCmd) name() string { return "versions" }
func (*versionsCmd) synopsis() string {
	return "a model's version timeline: the registry's approvals and stages, and the deploys"
}
func (c *versionsCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.StringVar(&c.statePath, "state", "", "the embedded store saved by stakeout replay --state")
	fs.StringVar(&c.table, "table", "", "the router's DynamoDB table (with the usual AWS configuration)")
	fs.StringVar(&c.endpoint, "endpoint", "", "with --table: a DynamoDB endpoint, such as DynamoDB Local's")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object per entry, one per line")
}

func (*versionsCmd) help() help {
	return help{
		usage: []string{"MODEL [--dir D] [--json] (--state FILE | --table NAME [--endpoint URL])"},
		about: fmt.Sprintf("The entries come from \"%s\" and\n"+
			"\"%s\" events, oldest first; the newest %d are kept. The last\n"+
			"lines say, per environment (production first), which version is live and which was\n"+
			"approved before it. Production's (an environment named %s,\n"+
			"or none) is what alerts show and what a rollback request targets.",
			signal.ModelPackageDetailType, signal.VersionDeployedDetailType, state.MaxTimeline,
			strings.Join(state.ProductionEnvironments, ", ")),
		examples: []example{
			{"what a replay recorded of a model's versions", "stakeout versions credit-approval --state /tmp/credit.json"},
			{"the router's timeline of a model, as JSON", "stakeout versions credit-approval --table stakeout-state --json"},
		},
		findings: "never: the timeline is the answer, whatever it shows",
	}
}

func (c *versionsCmd) run(args []string, io stdio) int {
	if len(args) != 1 {
		fmt.Fprintf(io.err, "stakeout versions: name one model (got %d arguments)\n", len(args))
		return 2
	}
	model := args[0]
	if !storeFlags(io.err, "versions", c.statePath, c.table, c.endpoint) {
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	if cfg.Models[model] == nil && cfg.Broken[model] == nil {
		models := slices.Sorted(maps.Keys(cfg.Models))
		fmt.Fprintf(io.err, "stakeout versions: no model %q in the configuration under %s%s\n", model, c.dir, expression.Suggest(model, models))
		return 2
	}
	ctx := context.Background()
	st, err := openAuditStore(ctx, c.statePath, c.table, c.endpoint)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout versions: %v\n", err)
		return 2
	}
	t, err := st.Timeline(ctx, model)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout versions: %v\n", err)
		return 2
	}
	if c.jsonOut {
		enc := json.NewEncoder(io.out)
		for _, e := range t.Entries {
			if err := enc.Encode(e); err != nil {
				fmt.Fprintf(io.err, "stakeout versions: %v\n", err)
				return 2
			}
		}
		return 0
	}
	printTimeline(io, model, t)
	return 0
}

// printTimeline writes the timeline as a table, then, per environment
// (production first), the version live there and the one approved before
// it.
func printTimeline(io stdio, model string, t *state.Timeline) {
	if len(t.Entries) == 0 {
		fmt.Fprintf(io.out, "%s: no version events recorded\n", model)
		return
	}
	tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tVERSION\tCHANGE\tDETAIL")
	for _, e := range t.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Version, e.Change, entryDetail(e))
	}
	tw.Flush()
	envs := t.Environments()
	if len(envs) == 0 {
		fmt.Fprintln(io.out, "\nlive: no deploy recorded")
		return
	}
	slices.SortStableFunc(envs, func(a, b string) int { return cmpBool(state.IsProduction(b), state.IsProduction(a)) })
	if !state.IsProduction(envs[0]) {
		fmt.Fprintln(io.out, "\nlive in production: no deploy recorded (alerts carry no version from the timeline)")
	}
	for _, env := range envs {
		printLive(io, t, env)
	}
}

// printLive writes the version live in env now (at the timeline's last
// entry) and its rollback target.
func printLive(io stdio, t *state.Timeline, env string) {
	live, _ := t.Live(t.Entries[len(t.Entries)-1].At, env)
	where := cmp.Or(live.Environment, "no environment named")
	if state.IsProduction(env) {
		where = "production: " + where
	}
	fmt.Fprintf(io.out, "\nlive since %s: %s (%s)", live.At.UTC().Format("Mon 2 Jan 2006 15:04 MST"), live.Version, where)
	if tt := live.TrainedThrough(); tt != "" {
		fmt.Fprintf(io.out, ", trained through %s", tt)
	}
	prev := t.PreviousApproved(live)
	if prev == "" {
		prev = "none recorded"
	}
	fmt.Fprintf(io.out, "\nprevious approved: %s\n", prev)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// entryDetail is what an entry says: the registry's approval and stage, or
// where the version went live.
func entryDetail(e signal.VersionChange) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	add("approval", e.Approval)
	if e.Stage != "" {
		add("stage", strings.TrimSpace(e.Stage+" "+e.StageStatus))
	}
	add("environment", e.Environment)
	add("trained through", e.TrainedThrough())
	return strings.Join(parts, ", ")
}
