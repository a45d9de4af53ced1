package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/evidently"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/setup"
	stsignal "github.com/stakeout-ml/stakeout/internal/signal"
)

// publishSource is the source of the events publish sends unless --source
// says another: not "stakeout", the source of stakeout's own lifecycle
// events, which subscribers match on.
const publishSource = "stakeout.publish"

type publishCmd struct {
	// The event, from flags.
	model, kind, metric, value, feature, segment, version, environment string
	baseline, observedAt, windowStart, windowEnd                       string
	labels                                                             map[string]string
	// Where from and where to.
	from, source, eventBus, endpointURL, region string
	noSign, dryRun                              bool
	// now is the clock observed_at defaults to (nil: time.Now); api, when
	// set, is the EventBridge client (a test's).
	now func() time.Time
	api bus.API
}

func (*publishCmd) name() string { return "publish" }
func (*publishCmd) synopsis() string {
	return "send ML Model Signal events by PutEvents: from flags, JSON lines, or an Evidently report"
}

func (c *publishCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.model, "model", "", "the model the events are about")
	fs.StringVar(&c.kind, "kind", "", "the event's kind ("+strings.Join(stsignal.Kinds, ", ")+")")
	fs.StringVar(&c.metric, "metric", "", "the event's metric (psi, accuracy, lag_seconds, …)")
	fs.StringVar(&c.value, "value", "", "the event's value, a number")
	fs.StringVar(&c.feature, "feature", "", "the event's feature")
	fs.StringVar(&c.segment, "segment", "", "the event's segment")
	fs.StringVar(&c.baseline, "baseline", "", "the event's baseline, a number")
	fs.StringVar(&c.version, "version", "", "the model version measured")
	fs.StringVar(&c.environment, "environment", "", "the environment measured (production, shadow, …)")
	fs.StringVar(&c.observedAt, "observed-at", "", "when it was measured, RFC 3339 (default: --window-end if given, else now)")
	fs.StringVar(&c.windowStart, "window-start", "", "start of the window measured, RFC 3339")
	fs.StringVar(&c.windowEnd, "window-end", "", "end of the window measured, RFC 3339")
	fs.Func("label", "a label k=v on every event (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not k=v", s)
		}
		if c.labels == nil {
			c.labels = map[string]string{}
		}
		c.labels[k] = v
		return nil
	})
	fs.StringVar(&c.from, "from", "", "read a monitor's report instead: evidently (an Evidently 0.7 report's JSON)")
	fs.StringVar(&c.source, "source", publishSource, "the events' source (the stack's SignalSources may restrict it)")
	fs.StringVar(&c.eventBus, "event-bus", "", "the event bus, a name or ARN (default: the account's default bus)")
	fs.StringVar(&c.endpointURL, "endpoint-url", "", "send to this PutEvents endpoint instead of EventBridge's (stakeout serve's, say)")
	fs.StringVar(&c.region, "region", "", "the AWS region (default: the SDK's chain, AWS_REGION; with --endpoint-url, us-east-1 if none)")
	fs.BoolVar(&c.noSign, "no-sign-request", false, "send unsigned, without looking for credentials (stakeout serve does not check signatures)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the events' details, one JSON object per line, and send nothing")
}

func (*publishCmd) help() help {
	return help{
		usage: []string{
			"--model M --kind K --metric X --value V [--feature F] [--segment S] [--baseline B] [--version V] [--observed-at T] [--window-start T --window-end T] [--label k=v]… [SEND FLAGS]",
			"FILE.jsonl|- [SEND FLAGS]",
			"--from evidently --model M [--version V] [--window-start T --window-end T] [--label k=v]… REPORT.json [SEND FLAGS]",
		},
		about: "Every event is checked as the router checks it before any is sent; one bad event sends\n" +
			"none. A JSON line is a native detail. An Evidently report becomes one event per\n" +
			"column's ValueDrift — drifted or not, so that alerts resolve — and per dataset-level\n" +
			"metric; metrics it cannot convert are skipped and counted. Entries go out ten to a\n" +
			"PutEvents call, transient failures retried; entries EventBridge failed are listed.\n" +
			"SEND FLAGS: --event-bus, --source, --endpoint-url, --region, --no-sign-request, --dry-run.",
		examples: []example{
			{"one reading, to stakeout serve on this machine", "stakeout publish --endpoint-url http://127.0.0.1:8080 --no-sign-request --model credit-approval --kind quality --metric accuracy --value 0.81 --baseline 0.9"},
			{"what an Evidently report becomes, without sending it", "stakeout publish --dry-run --from evidently --model churn-prediction --version 2026.04.2 testdata/evidently/grafana-example-shape.json"},
		},
		findings: "EventBridge failed some entries (each is listed with its error code)",
	}
}

func (c *publishCmd) run(args []string, std stdio) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(std.err, "stakeout publish: "+format+"\n", a...)
		return 2
	}
	if err := c.checkFlags(args); err != nil {
		return fail("%v", err)
	}
	details, err := c.events(args, std)
	if err != nil {
		return fail("%v", err)
	}
	if len(details) == 0 {
		return fail("no event to publish")
	}
	if c.dryRun {
		for _, d := range details {
			fmt.Fprintf(std.out, "%s\n", d)
		}
		fmt.Fprintf(std.err, "stakeout publish: --dry-run: %s not sent\n", plural(len(details), "event"))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return c.send(ctx, details, std)
}

// checkFlags refuses combinations that do not say one thing: an event
// from flags, JSON lines, or a report.
func (c *publishCmd) checkFlags(args []string) error {
	eventFlags := map[string]string{"--kind": c.kind, "--metric": c.metric, "--value": c.value,
		"--feature": c.feature, "--segment": c.segment, "--baseline": c.baseline}
	set := func(m map[string]string) []string {
		var out []string
		for k, v := range m {
			if v != "" {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	switch {
	case strings.HasPrefix(c.source, "aws."):
		return fmt.Errorf("--source %q: sources beginning with \"aws.\" are AWS's; EventBridge refuses them in PutEvents", c.source)
	case c.source == "":
		return errors.New("--source is empty")
	case c.from != "" && c.from != "evidently":
		return fmt.Errorf("--from %q: the report publish reads is evidently's", c.from)
	case c.from != "" && len(args) != 1:
		return fmt.Errorf("--from evidently reads one report: give its file (or - for standard input), got %d arguments", len(args))
	case c.from != "" && c.model == "":
		return errors.New("--from evidently needs --model: a report does not name the model it measured")
	case c.from != "" && len(set(eventFlags)) > 0:
		return fmt.Errorf("%s: the report gives each event's kind, metric, value and feature; with --from give only --model, --version, --environment, the window, --observed-at and --label", strings.Join(set(eventFlags), ", "))
	case c.from == "" && len(args) > 1:
		return fmt.Errorf("one JSON lines input at a time, got %d arguments", len(args))
	case c.from == "" && len(args) == 1 && len(set(c.describing(eventFlags))) > 0:
		return fmt.Errorf("a JSON line is a whole detail: %s only without a file (an event from flags)", strings.Join(set(c.describing(eventFlags)), ", "))
	}
	return nil
}

// describing is eventFlags and the flags that describe every event of a
// publish.
func (c *publishCmd) describing(eventFlags map[string]string) map[string]string {
	m := maps.Clone(eventFlags)
	maps.Insert(m, maps.All(map[string]string{"--model": c.model, "--version": c.version, "--environment": c.environment,
		"--observed-at": c.observedAt, "--window-start": c.windowStart, "--window-end": c.windowEnd}))
	if len(c.labels) > 0 {
		m["--label"] = "set"
	}
	return m
}

// events are the details to send, each checked as the router checks it.
func (c *publishCmd) events(args []string, std stdio) ([]json.RawMessage, error) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	switch {
	case c.from == "evidently":
		return c.fromEvidently(args[0], now(), std)
	case len(args) == 1:
		return jsonLines(args[0], std.in, now())
	}
	ev, err := c.fromFlags(now())
	if err != nil {
		return nil, err
	}
	d, err := checked(ev, now())
	if err != nil {
		return nil, fmt.Errorf("the event: %w", err)
	}
	return []json.RawMessage{d}, nil
}

// checked encodes ev and decodes it again with the router's decoder, then
// asks what the router would quarantine: one way to check an event,
// whoever built it.
func checked(ev stsignal.Event, now time.Time) (json.RawMessage, error) {
	d, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return checkDetail(d, now)
}

func checkDetail(d []byte, now time.Time) (json.RawMessage, error) {
	ev, err := stsignal.DecodeDetail(d, true)
	if err != nil {
		return nil, err
	}
	if why := pipeline.Implausible(&ev, now); why != "" {
		return nil, errors.New(why)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fromFlags is the event the flags describe.
func (c *publishCmd) fromFlags(now time.Time) (stsignal.Event, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--model", c.model}, {"--kind", c.kind}, {"--metric", c.metric}, {"--value", c.value}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return stsignal.Event{}, fmt.Errorf("an event from flags needs %s (or give a JSON lines file, or --from evidently REPORT.json)", strings.Join(missing, ", "))
	}
	ev := stsignal.Event{Model: c.model, Kind: c.kind, Metric: c.metric, Feature: c.feature, Segment: c.segment}
	var err error
	if ev.Value, err = strconv.ParseFloat(c.value, 64); err != nil {
		return ev, fmt.Errorf("--value %q is not a number", c.value)
	}
	if c.baseline != "" {
		b, err := strconv.ParseFloat(c.baseline, 64)
		if err != nil {
			return ev, fmt.Errorf("--baseline %q is not a number", c.baseline)
		}
		ev.Baseline = &b
	}
	return ev, c.describe(&ev, now)
}

// describe sets what every event of a publish shares: version,
// environment, window, labels, and observed_at (--observed-at, else the
// window's end, else now).
func (c *publishCmd) describe(ev *stsignal.Event, now time.Time) error {
	ev.Version, ev.Environment, ev.Labels = c.version, c.environment, c.labels
	var err error
	if ev.WindowStart, err = timeFlag("--window-start", c.windowStart); err != nil {
		return err
	}
	if ev.WindowEnd, err = timeFlag("--window-end", c.windowEnd); err != nil {
		return err
	}
	at, err := timeFlag("--observed-at", c.observedAt)
	switch {
	case err != nil:
		return err
	case at != nil:
		ev.ObservedAt = *at
	case ev.WindowEnd != nil:
		ev.ObservedAt = *ev.WindowEnd
	default:
		ev.ObservedAt = now.UTC().Truncate(time.Second)
	}
	return nil
}

func timeFlag(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not an RFC 3339 time (like 2026-03-01T00:00:00Z)", name, v)
	}
	return &t, nil
}

// jsonLines reads native details, one per line; blank lines are skipped.
// A bad line is named by its number.
func jsonLines(name string, stdin io.Reader, now time.Time) ([]json.RawMessage, error) {
	r, label, err := openInput(name, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, stsignal.MaxEventBytes+1)
	var out []json.RawMessage
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		d, err := checkDetail(line, now)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w (nothing sent)", label, n, err)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than the %d KiB an event may have", stsignal.MaxEventBytes>>10)
		}
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return out, nil
}

// fromEvidently converts the report at name, saying on stderr what it
// skipped.
func (c *publishCmd) fromEvidently(name string, now time.Time, std stdio) ([]json.RawMessage, error) {
	r, label, err := openInput(name, std.in)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	report, err := evidently.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	var shared stsignal.Event
	if err := c.describe(&shared, now); err != nil {
		return nil, err
	}
	conv, err := evidently.Events(report, evidently.Options{Model: c.model, Version: shared.Version, Environment: shared.Environment,
		ObservedAt: shared.ObservedAt, WindowStart: shared.WindowStart, WindowEnd: shared.WindowEnd, Labels: shared.Labels})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if n := len(conv.Skipped); n > 0 {
		fmt.Fprintf(std.err, "stakeout publish: %s: skipped %s of %d, not converted:\n", label, plural(n, "metric"), len(report.Metrics))
		for _, s := range conv.Skipped {
			fmt.Fprintf(std.err, "  %s: %s\n", s.Metric, s.Why)
		}
	}
	out := make([]json.RawMessage, 0, len(conv.Events))
	for i, ev := range conv.Events {
		d, err := checked(ev, now)
		if err != nil {
			return nil, fmt.Errorf("%s: event %d (%s): %w (nothing sent)", label, i+1, ev.Series(), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// send publishes the details, ten to a call, and lists the entries
// EventBridge failed. Exit 1 if it failed some; 2 if no call was answered
// (the endpoint unreachable, the call refused).
func (c *publishCmd) send(ctx context.Context, details []json.RawMessage, std stdio) int {
	api := c.api
	if api == nil {
		var err error
		if api, err = c.client(ctx, std); err != nil {
			fmt.Fprintf(std.err, "stakeout publish: %v\n", err)
			return 2
		}
	}
	p := bus.New(api, c.eventBus)
	p.Source = c.source
	entries := make([]bus.Entry, len(details))
	for i, d := range details {
		entries[i] = bus.Entry{DetailType: stsignal.DetailType, Detail: d}
	}
	busName := cmp.Or(c.eventBus, "default")
	err := p.Publish(ctx, entries...)
	var pe *bus.Error
	if err != nil && !errors.As(err, &pe) {
		fmt.Fprintf(std.err, "stakeout publish: %v\n", err)
		return 2
	}
	if pe == nil {
		fmt.Fprintf(std.out, "published %s to event bus %s\n", plural(len(details), "event"), busName)
		return 0
	}
	answered := false
	for _, f := range pe.Failures {
		answered = answered || f.Err == nil
		reason := f.Code + ": " + f.Message
		if f.Err != nil {
			reason = f.Err.Error()
		}
		fmt.Fprintf(std.err, "stakeout publish: event %d failed: %s\n  %s\n", f.Index+1, reason, details[f.Index])
	}
	fmt.Fprintf(std.out, "published %d of %s to event bus %s; %d failed\n", len(details)-len(pe.Failures), plural(len(details), "event"), busName, len(pe.Failures))
	if answered {
		return 1
	}
	return 2
}

// client is EventBridge's client from the SDK's default chain (region,
// credentials), at --endpoint-url if given; unsigned with
// --no-sign-request.
func (c *publishCmd) client(ctx context.Context, std stdio) (*eventbridge.Client, error) {
	cfg, err := setup.AWSConfig(ctx, slog.New(slog.NewTextHandler(std.err, nil)))
	if err != nil {
		return nil, err
	}
	if c.region != "" {
		cfg.Region = c.region
	}
	if cfg.Region == "" && c.endpointURL != "" {
		cfg.Region = "us-east-1" // a local endpoint does not care
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION or give --region")
	}
	if c.noSign {
		cfg.Credentials = aws.AnonymousCredentials{}
	}
	return eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if c.endpointURL != "" {
			o.BaseEndpoint = aws.String(c.endpointURL)
		}
	}), nil
}
