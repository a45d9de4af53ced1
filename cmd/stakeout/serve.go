package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/promexport"
	"github.com/stakeout-ml/stakeout/internal/putevents"
	"github.com/stakeout-ml/stakeout/internal/router"
	"github.com/stakeout-ml/stakeout/internal/serve"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/state"
)

type serveCmd struct {
	dir, addr, statePath, table, endpoint string
	cpuProfile, eventBus, signalSources   string
	checkpoint                            time.Duration
	tick, drain                           time.Duration
	// updateWindow: the update windows of the groups serve opens.
	updateWindow time.Duration
	// stop, when set, ends the server instead of SIGINT and SIGTERM (a
	// test cancels it).
	stop context.Context
}

func (*serveCmd) name() string { return "serve" }
func (*serveCmd) synopsis() string {
	return "the whole system in one process, over HTTP: PutEvents in, the escalator on the real clock, Slack and PagerDuty endpoints"
}

func (c *serveCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "where to listen (host:port; port 0 picks one)")
	fs.StringVar(&c.statePath, "state", "", "the embedded store: loaded from this file if it exists, saved there at shutdown (stakeout audit --state reads it)")
	fs.StringVar(&c.table, "table", "", "the router's DynamoDB table instead (with the usual AWS configuration and AWS_REGION)")
	fs.StringVar(&c.endpoint, "endpoint", "", "with --table: a DynamoDB endpoint, such as DynamoDB Local's")
	fs.DurationVar(&c.tick, "tick", time.Minute, "how often the escalator runs (EventBridge Scheduler runs it every minute)")
	fs.DurationVar(&c.checkpoint, "checkpoint", 30*time.Second, "with --state: also save the state this often, so that a crash loses at most this much")
	fs.StringVar(&c.eventBus, "event-bus", "", "the event bus name entries must name, as the template's EventBusName parameter (default: default)")
	fs.StringVar(&c.signalSources, "signal-sources", "", "comma-separated sources of ML Model Signal events the router takes, as the template's SignalSources parameter (default: any)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it), for make bench-serve")
	fs.DurationVar(&c.updateWindow, "update-window", state.UpdateWindow, "how long a group's updates gather before they go out as one Slack edit and thread reply: the functions' window by default (which they follow with a 2s grace for containers' clocks; serve has one clock), shorter for a demo or a benchmark against Alertmanager's group_interval")
	fs.DurationVar(&c.drain, "drain", time.Second, "how often the outbox is drained of what is due (an update window that closed, a channel to retry); with the embedded store, also whenever a notification falls due")
}

func (*serveCmd) help() help {
	return help{
		usage: []string{"[--dir D] [--addr 127.0.0.1:8080] [--state FILE | --table T [--endpoint URL]] [--tick 1m] [--drain 1s] [--update-window 5s]"},
		about: "Runs the handlers the Lambda functions run, in one process: an EventBridge PutEvents\n" +
			"endpoint at POST / (aws events put-events --endpoint-url, or any SDK), the escalator every\n" +
			"--tick, /slack/actions and /pagerduty/webhook (with SLACK_SIGNING_SECRET and\n" +
			"PAGERDUTY_WEBHOOK_SECRET references, resolved from STAKEOUT_SECRET_* variables),\n" +
			"GET /healthz and GET /metrics (Prometheus). Channels as in replay: Slack with\n" +
			"SLACK_BOT_TOKEN, PagerDuty with the owners' routing keys from STAKEOUT_SECRET_*; a channel\n" +
			"without credentials is printed to the log. SIGINT or SIGTERM: stop accepting, finish what\n" +
			"is in flight, save --state, exit 0. Without --state or --table nothing is kept.",
		examples: []example{
			{"the example configuration on port 8080, kept in a state file", "stakeout serve --state /tmp/serve.json"},
			{"then send it a signal (as the AWS CLI or any SDK would send it to EventBridge)", `aws events put-events --region us-east-1 --no-sign-request --endpoint-url http://127.0.0.1:8080 --entries '[{"Source":"ml.monitor","DetailType":"ML Model Signal","Detail":"{\"model\":\"credit-approval\",\"kind\":\"quality\",\"metric\":\"accuracy\",\"value\":0.81,\"baseline\":0.9,\"observed_at\":\"'"$(date -u +%FT%TZ)"'\"}"}]'`},
		},
		findings: "never: a server has no findings",
	}
}

func (c *serveCmd) run(args []string, std stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(std.err, "stakeout serve: unexpected argument %q\n", args[0])
		return 2
	}
	switch {
	case c.statePath != "" && c.table != "":
		fmt.Fprintln(std.err, "stakeout serve: --state and --table name two stores: give one")
		return 2
	case c.endpoint != "" && c.table == "":
		fmt.Fprintln(std.err, "stakeout serve: --endpoint goes with --table")
		return 2
	case c.tick <= 0 || c.drain <= 0 || c.checkpoint <= 0:
		fmt.Fprintln(std.err, "stakeout serve: --tick, --drain and --checkpoint must be positive durations")
		return 2
	case c.updateWindow <= 0:
		fmt.Fprintf(std.err, "stakeout serve: --update-window must be a positive duration, not %s\n", c.updateWindow)
		return 2
	}
	ctx := c.stop
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer cancel()
		// After the first signal, the next one is the default's again: a
		// second Ctrl-C ends a shutdown that waits too long.
		context.AfterFunc(ctx, cancel)
	}
	log := slog.New(slog.NewJSONHandler(std.err, nil))
	if c.cpuProfile != "" {
		stop, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			fmt.Fprintf(std.err, "stakeout serve: --cpuprofile: %v\n", err)
			return 2
		}
		defer stop()
	}
	srv, err := c.build(ctx, log)
	if err != nil {
		fmt.Fprintf(std.err, "stakeout serve: %v\n", err)
		return 2
	}
	err = srv.Serve(ctx, func(addr net.Addr) {
		log.Info("listening", "addr", addr.String())
		fmt.Fprintf(std.out, "stakeout serve: listening on http://%s (PutEvents at POST /, /healthz, /metrics, /slack/actions, /pagerduty/webhook)\n", addr)
	})
	if err != nil {
		fmt.Fprintf(std.err, "stakeout serve: %v\n", err)
		return 2
	}
	if c.statePath != "" {
		fmt.Fprintf(std.out, "stakeout serve: state saved to %s (stakeout audit --state %s …)\n", c.statePath, c.statePath)
	}
	return 0
}

// build wires the functions' handlers, on the store the flags name, into
// one server.
func (c *serveCmd) build(ctx context.Context, log *slog.Logger) (*serve.Server, error) {
	// The functions' metrics, as Prometheus reads them: the EMF lines
	// are for CloudWatch Logs, so they go nowhere.
	exp := promexport.New(metrics.Namespace)
	rec := metrics.New(io.Discard, metrics.Namespace, time.Now, metrics.WithObserver(exp))
	st, err := c.embedded(log)
	if err != nil {
		return nil, err
	}
	opts := setup.LocalOptions{Dir: c.dir, Table: c.table, Endpoint: c.endpoint, Log: log, Metrics: rec}
	if st != nil {
		opts.Embedded = st
	}
	d, err := setup.Local(ctx, opts)
	if err != nil {
		return nil, err
	}
	windows := serveWindows(c.updateWindow)
	rt := router.New(d.Config, d.Store, d.Sender, rec, log, time.Now)
	rt.SetWindows(windows)
	// PutEvents answers once the event is committed, as EventBridge
	// does; the drain delivers, woken by each event that queued.
	wake := make(chan struct{}, 1)
	rt.DeferDelivery(func() {
		select {
		case wake <- struct{}{}:
		default: // a wake is pending: it drains this one too
		}
	})
	events, err := putevents.New(putevents.Config{Router: routeFunc(rt.Handle), Log: log, Scope: c.scope()})
	if err != nil {
		return nil, err
	}
	runner := escalator.NewRunner(d.Config, d.Store, d.Sender, rec, log, time.Now)
	runner.Escalator.Windows = windows
	drain := serve.Loop{Name: "outbox drain", Every: c.drain, Wake: wake, Run: func(ctx context.Context) error {
		_, err := d.Sender.Drain(ctx, router.SweepLimit)
		return err
	}}
	srv := &serve.Server{Addr: c.addr, Events: events, Metrics: exp.Handler(), Log: log,
		Slack:     signed(ctx, d, setup.EnvSlackSigning, "Slack's buttons and /stakeout", func() http.Handler { return d.SlackApp() }),
		PagerDuty: signed(ctx, d, setup.EnvPagerDutyWebhook, "PagerDuty's webhooks", func() http.Handler { return d.PagerDutyApp() }),
		Loops:     []serve.Loop{{Name: "escalator run", Every: c.tick, Run: runner.Run}, drain},
	}
	if st != nil {
		// The embedded store knows when the next notification is due: an
		// update goes out as its window ends, not up to --drain later.
		srv.Loops[1].Next = st.NextNotice
	}
	if st != nil && c.statePath != "" {
		save := func() error { return st.Save(c.statePath) }
		srv.Save = save
		// A checkpoint, so that a crash or a SIGKILL loses at most
		// --checkpoint of state, not everything since the start.
		srv.Loops = append(srv.Loops, serve.Loop{Name: "checkpoint of --state", Every: c.checkpoint,
			Run: func(context.Context) error { return save() }})
	}
	return srv, nil
}

// embedded opens the embedded store the flags name: --state's file (new
// if it does not exist), one in memory without --state or --table, none
// with --table.
func (c *serveCmd) embedded(log *slog.Logger) (*memstore.Store, error) {
	switch {
	case c.table != "":
		return nil, nil
	case c.statePath == "":
		log.Warn("no --state or --table: the state lives in memory and is gone at exit")
		return memstore.New(time.Now), nil
	}
	return memstore.Open(c.statePath, time.Now)
}

// scope is which events the router takes, as the template's parameters
// say for a stack.
func (c *serveCmd) scope() putevents.Scope {
	sc := putevents.Scope{EventBusName: c.eventBus}
	if c.signalSources != "" {
		sc.SignalSources = strings.Split(c.signalSources, ",")
	}
	return sc
}

// signed is an endpoint whose requests carry a signature checked with the
// secret env names (a reference): without it, or when the reference does
// not resolve, the endpoint answers 503 saying what to set, and the start
// says so once.
func signed(ctx context.Context, d *setup.Deps, env, what string, h func() http.Handler) http.Handler {
	if d.Getenv(env) == "" {
		d.Log.Warn(what+" are not served: "+env+" is not set (a secret reference, resolved from its STAKEOUT_SECRET_* variable)", "variable", env)
		return nil
	}
	if _, err := d.Secret(ctx, env); err != nil {
		d.Log.Warn(what+" are not served: "+env+"'s secret does not resolve", "variable", env, "error", err)
		return nil
	}
	return h()
}

// serveWindows are the update windows of the groups serve opens: of
// length, with no grace after each, so that an update goes out as its
// window ends. The functions' grace (2 s) is for a join from a container
// whose clock is behind the sender's; serve is one process on one clock,
// and a join that comes after its window was taken goes in the next one
// (state.WindowClosed) either way.
func serveWindows(length time.Duration) state.Windows {
	return state.Windows{Length: length}
}

// routeFunc is the router's handler as the PutEvents endpoint calls it.
type routeFunc func(ctx context.Context, raw json.RawMessage) error

func (f routeFunc) Route(ctx context.Context, event json.RawMessage) error { return f(ctx, event) }

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
