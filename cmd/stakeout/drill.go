package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/drill"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

type drillCmd struct {
	dir, owner, statePath, table, endpoint string
	// getenv reads the environment (tests set theirs; nil: os.Getenv).
	getenv func(string) string
}

func (*drillCmd) name() string { return "drill" }
func (*drillCmd) synopsis() string {
	return "a fire drill: a test alert, marked as one, through an owner's real Slack and PagerDuty"
}

func (c *drillCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.StringVar(&c.owner, "owner", "", "the owner to drill (owners/<id>.yaml)")
	fs.StringVar(&c.statePath, "state", "", "the embedded store (stakeout serve --state's file), created if missing")
	fs.StringVar(&c.table, "table", "", "the router's DynamoDB table (with the usual AWS configuration)")
	fs.StringVar(&c.endpoint, "endpoint", "", "with --table: a DynamoDB endpoint, such as DynamoDB Local's")
}

func (*drillCmd) help() help {
	return help{
		usage: []string{"--owner ID [--dir D] (--state FILE | --table NAME [--endpoint URL])"},
		about: "Sends the owner a test alert marked \"" + drill.Mark + "\" through the channels a real\n" +
			"alert of theirs takes: the highest stakes tier of the models that reach them, its loudest\n" +
			"severity (Slack with SLACK_BOT_TOKEN, PagerDuty with the owner's routing key from its\n" +
			"STAKEOUT_SECRET_* variable; never printed instead of sent). Someone must acknowledge it,\n" +
			"in Slack or PagerDuty, within that cell's ack_within; the escalator (the deployed one, or\n" +
			"stakeout serve started afterwards on the same --state: never drill into the file of a serve\n" +
			"that runs, it saves over it) records it unanswered otherwise, and never escalates it.\n" +
			"The outcome is on the audit trail: stakeout audit --drills.",
		examples: []example{
			{"drill credit-ds in the router's table: Slack and a page", "stakeout drill --owner credit-ds --table stakeout-state"},
			{"a local drill, then serve to take its acknowledgement from Slack and time its window", "stakeout drill --owner growth-ds --state /tmp/serve.json && stakeout serve --state /tmp/serve.json"},
		},
		findings: "a channel did not take the drill (it failed, or is still being retried)",
	}
}

func (c *drillCmd) run(args []string, std stdio) int {
	switch {
	case len(args) > 0:
		fmt.Fprintf(std.err, "stakeout drill: unexpected argument %q\n", args[0])
		return 2
	case c.owner == "":
		fmt.Fprintln(std.err, "stakeout drill: name the owner to drill: --owner ID")
		return 2
	case !storeFlags(std.err, "drill", c.statePath, c.table, c.endpoint):
		return 2
	}
	getenv := c.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelError}))
	opts := setup.LocalOptions{Dir: c.dir, Table: c.table, Endpoint: c.endpoint, Log: log, Getenv: getenv}
	if c.statePath != "" {
		st, err := memstore.Open(c.statePath, time.Now)
		if err != nil {
			fmt.Fprintf(std.err, "stakeout drill: %v\n", err)
			return 2
		}
		opts.Embedded = st
	}
	d, err := setup.Local(ctx, opts)
	if err != nil {
		fmt.Fprintf(std.err, "stakeout drill: %v\n", err)
		return 2
	}
	p, err := drill.PlanFor(d.Config, c.owner)
	if err == nil {
		err = drillCredentials(d.Config, p, getenv)
	}
	if err != nil {
		fmt.Fprintf(std.err, "stakeout drill: %v\n", err)
		return 2
	}
	by := lifecycle.Actor{ID: "cli:" + cmp.Or(getenv("USER"), "unknown"), Name: ""}
	s, err := drill.Start(ctx, d.Store, d.Config, p, by, lifecycle.Once{}, time.Now())
	if err != nil {
		fmt.Fprintf(std.err, "stakeout drill: %v\n", err)
		if errors.Is(err, drill.ErrRunning) {
			return 1
		}
		return 2
	}
	rep, err := d.Sender.Deliver(ctx, s.Queued)
	if opts.Embedded != nil {
		// Saved whatever happened: the drill is open, and serve or a
		// later audit reads it there.
		if serr := opts.Embedded.Save(c.statePath); serr != nil {
			fmt.Fprintf(std.err, "stakeout drill: save %s: %v\n", c.statePath, serr)
			return 2
		}
	}
	if err != nil {
		fmt.Fprintf(std.err, "stakeout drill: deliver: %v\n", err)
		return 2
	}
	return c.report(ctx, std, d, s, rep.Failed > 0 || rep.Waiting > 0)
}

// report says where the drill went, and how it is answered.
func (c *drillCmd) report(ctx context.Context, std stdio, d *setup.Deps, s *drill.Started, failed bool) int {
	p := s.Plan
	fmt.Fprintf(std.out, "drill %s: %s-stakes %s alert for %s; acknowledge by %s (within %s)\n", s.Group, p.Tier, p.Severity, p.Owner,
		s.Deadline.UTC().Format("2006-01-02 15:04:05Z"), duration.Format(p.AckWithin))
	n, err := d.Store.GetNotice(ctx, s.Queued[0])
	if err != nil || n == nil {
		fmt.Fprintf(std.err, "stakeout drill: read the drill's notification: %v\n", err)
		return 2
	}
	for _, ch := range p.Notify {
		outcome, done := n.Done[ch]
		if !done {
			outcome = "not delivered yet"
			if t := n.Tries[ch]; t != nil {
				outcome += " (" + t.Error + "); the outbox retries it"
			}
		}
		fmt.Fprintf(std.out, "  %-9s %s\n", ch, outcome)
	}
	for _, ch := range p.Missing {
		fmt.Fprintf(std.out, "  %-9s not drilled: %s has no %s address (its alerts at these stakes would not reach it there either)\n", ch, p.Owner, ch)
	}
	store := "--table " + c.table
	if c.statePath != "" {
		store = "--state " + c.statePath
	}
	fmt.Fprintf(std.out, "the outcome: stakeout audit --drills %s\n", store)
	if failed {
		fmt.Fprintf(std.err, "stakeout drill: a channel did not take the drill: the owner would not have heard of a real alert that way\n")
		return 1
	}
	return 0
}

// drillCredentials refuses a drill a channel of which has no credentials: a
// drill printed to the log instead of sent tests nothing.
func drillCredentials(cfg *config.Config, p drill.Plan, getenv func(string) string) error {
	var missing []string
	for _, ch := range p.Notify {
		switch ch {
		case "slack":
			if getenv(setup.EnvLocalSlackToken) == "" {
				missing = append(missing, "Slack needs "+setup.EnvLocalSlackToken)
			}
		case "pagerduty":
			ref := cfg.Owners[p.Owner].PagerDuty.RoutingKey
			if v := secret.EnvVar(ref); getenv(v) == "" {
				missing = append(missing, "PagerDuty needs "+v+" (the routing key of "+secret.Name(ref)+")")
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("a drill goes through the real channels: %s", strings.Join(missing, "; "))
	}
	return nil
}
