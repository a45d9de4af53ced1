package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

type replayCmd struct {
	dir, statePath string
	jsonOut        bool
	slackChannel   string
	until          string
	silence        bool
	failOn         failOn
}

func (*replayCmd) name() string { return "replay" }
func (*replayCmd) synopsis() string {
	return "run the router over a stream of events on the embedded store and print the alert timeline"
}
func (c *replayCmd) flags(fs *flag.FlagSet) {
	dirFlag(fs, &c.dir)
	fs.StringVar(&c.statePath, "state", "", "load the store from this file if it exists, and save it there after (for stakeout audit)")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object per alert state change, one per line")
	fs.StringVar(&c.slackChannel, "slack-channel", "", "with SLACK_BOT_TOKEN set: post every message to this channel id instead of the owners' channels")
	fs.BoolVar(&c.silence, "silence", false, "also watch for silence: an expected signal (expect:) of the stream that stops arriving opens an alert. For complete streams: a sample of events looks silent")
	c.failOn.flag(fs)
	fs.StringVar(&c.until, "until", "", "keep the clock running after the last event, for escalations and silence: a duration (48h, 3d) or an RFC 3339 time")
}

// sender is the replay's delivery core: every notification shown as text,
// and sent for real where the environment says so — to Slack with
// SLACK_BOT_TOKEN (at STAKEOUT_SLACK_API_URL), to PagerDuty with
// STAKEOUT_PAGERDUTY_ROUTING_KEY (every page to that one routing key, at
// STAKEOUT_PAGERDUTY_EVENTS_URL). It retries and gives up on the replay's
// clock: an attempt that fails waits in the outbox for a later minute of
// the events' time, never for the wall clock.
func (c *replayCmd) sender(cfg *config.Config, st deliver.Store, shown io.Writer, clock func() time.Time) (*deliver.Sender, error) {
	slackOut := &previewSlack{w: shown, clock: clock}
	if token := os.Getenv("SLACK_BOT_TOKEN"); token != "" {
		slackOut.next = slacknotify.NewClient(secret.New(token), os.Getenv("STAKEOUT_SLACK_API_URL"))
	} else if c.slackChannel != "" {
		return nil, errors.New("--slack-channel needs SLACK_BOT_TOKEN (a bot token with chat:write and channels:history)")
	}
	pager := &previewPager{w: shown}
	if key := os.Getenv("STAKEOUT_PAGERDUTY_ROUTING_KEY"); key != "" {
		pager.next = pdnotify.New(oneKey{secret.New(key)}, os.Getenv("STAKEOUT_PAGERDUTY_EVENTS_URL"))
	}
	return &deliver.Sender{Config: cfg, Store: st, Now: clock, Notifiers: map[string]deliver.Notifier{
		"slack":        &slacknotify.Notifier{API: slackOut, Channel: c.slackChannel},
		"pagerduty":    &pdnotify.Notifier{Config: cfg, Sender: pager},
		deliver.Events: &bus.Notifier{Bus: &previewBus{w: shown}},
	}}, nil
}

// oneKey resolves every routing key reference to the one key a replay
// pages (a test service's).
type oneKey struct{ key secret.Value }

func (k oneKey) Resolve(context.Context, string) (secret.Value, error) { return k.key, nil }

// progressEvery is how often the progress line on a terminal is redrawn.
const progressEvery = 5000

func (c *replayCmd) run(args []string, std stdio) int {
	if len(args) != 1 {
		fmt.Fprintln(std.err, "stakeout replay: name one file of events (JSON lines), or - for standard input")
		return 2
	}
	cfg, ok := load(c.dir, std)
	if !ok {
		return 2
	}
	if _, err := c.end(time.Time{}); err != nil {
		fmt.Fprintf(std.err, "stakeout replay: --until: %v\n", err)
		return 2
	}
	in, name, err := openInput(args[0], std.in)
	if err != nil {
		fmt.Fprintf(std.err, "stakeout replay: %v\n", err)
		return exitCode(err)
	}
	defer in.Close()
	r, err := c.open(cfg, std)
	if err != nil {
		fmt.Fprintf(std.err, "stakeout replay: %v\n", err)
		return 2
	}
	badConfig := configErrors(std.err, "replay", cfg)
	if err := r.feed(context.Background(), in, name); err != nil {
		fmt.Fprintf(std.err, "stakeout replay: %v\n", err)
		return exitCode(err)
	}
	if code := c.finish(r, std); code != 0 {
		return code
	}
	switch {
	case r.sum.events == 0:
		fmt.Fprintf(std.err, "stakeout replay: %s holds no events\n", name)
		return 1
	case r.sum.skipped > 0, badConfig:
		return 1 // rejected inputs, reported above with their lines
	case c.failOn.report(std.err, "replay"):
		return 1
	}
	return 0
}

// replayRun is one replay under way: its store, clock, pipeline and
// timeline.
type replayRun struct {
	cmd   *replayCmd
	st    *memstore.Store
	key   *audit.LocalKey
	clock time.Time
	p     *pipeline.Processor
	tl    *timeline
	sum   *summary
	std   stdio
}

// open builds the replay's store (loaded from --state if it exists), its
// delivery and its escalator, all on the events' clock.
func (c *replayCmd) open(cfg *config.Config, std stdio) (*replayRun, error) {
	r := &replayRun{cmd: c, sum: newSummary(&c.failOn), std: std}
	// Time comes from the events: idempotency records expire relative to
	// the latest event replayed, and audit records carry event times.
	now := func() time.Time { return r.clock }
	r.st = memstore.New(now)
	if c.statePath != "" {
		var err error
		if r.st, err = memstore.Open(c.statePath, now); err != nil {
			return nil, err
		}
	}
	// The trail is keyed as the functions key it, with the local key.
	var err error
	if r.key, err = localAuditKey(); err != nil {
		return nil, err
	}
	var key audit.Signer
	if r.key != nil { // a nil *LocalKey is not a nil Signer
		key = r.key
	}
	signed := setup.NewStore(r.st, key)
	// Notifications are delivered as they are queued, through the real
	// sender: shown as text, and posted for real when a bot token is set.
	shown := &holdBack{w: std.out}
	if c.jsonOut {
		shown.w = io.Discard
	}
	sender, err := c.sender(cfg, signed, shown, now)
	if err != nil {
		return nil, err
	}
	// The escalator runs on the events' clock: at every minute something
	// falls due, up to each event's time (and after the last, --until).
	// With --silence, the signals the stream carries are watched for
	// silence (only those: a replay of one model's drift says nothing of
	// its other monitors).
	esc := &escalator.Escalator{Config: cfg, Store: signed, Now: now, Signals: []string{}}
	r.tl = &timeline{w: std.out, json: c.jsonOut, shown: shown, st: r.st, sender: sender, esc: esc, clock: &r.clock,
		err: std.err, silence: c.silence, sum: r.sum}
	// A state loaded from --state may hold work already due (an
	// escalation, a delivery): it runs on the replay's clock before the
	// first new event, not a minute after it.
	r.tl.next = r.st.NextDue()
	// Time comes from the events, but none was measured after now: the
	// wall clock bounds them, as it does in the router.
	r.p = &pipeline.Processor{Config: cfg, Store: signed, Sightings: signed, Timelines: signed, Before: r.tl.before, Wall: time.Now}
	return r, nil
}

// feed runs every line of in through the pipeline, then the clock to
// --until. A line the router would quarantine is reported and skipped;
// a fault of the store ends the replay.
func (r *replayRun) feed(ctx context.Context, in io.Reader, name string) error {
	progress := isTerminal(r.std.err)
	// bufio.Reader, not Scanner: a line of any length is one bad event to
	// skip, not the end of the replay.
	br := bufio.NewReaderSize(in, 64<<10)
	for line := 1; ; line++ {
		raw, readErr := br.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			var ie *inputError
			if !errors.As(readErr, &ie) {
				readErr = &inputError{code: 2, err: fmt.Errorf("read %s: %w", name, readErr)}
			}
			return readErr
		}
		if len(strings.TrimSpace(string(raw))) > 0 {
			if progress && line%progressEvery == 0 {
				fmt.Fprintf(r.std.err, "\r%d events…", line)
			}
			if err := r.event(ctx, raw, fmt.Sprintf("%s:%d", name, line)); err != nil {
				return &inputError{code: 2, err: fmt.Errorf("%s:%d: %w", name, line, err)}
			}
		}
		if readErr == io.EOF {
			if progress && line >= progressEvery {
				fmt.Fprint(r.std.err, "\r\033[K")
			}
			break
		}
	}
	until, err := r.cmd.end(r.clock)
	if err != nil {
		return &inputError{code: 2, err: fmt.Errorf("--until: %w", err)}
	}
	if until.After(r.clock) && !r.clock.IsZero() {
		if err := r.tl.runUntil(ctx, "", until); err != nil {
			return &inputError{code: 2, err: err}
		}
		r.clock = until
	}
	return nil
}

// event runs one event through the pipeline and shows what it changed.
func (r *replayRun) event(ctx context.Context, raw []byte, where string) error {
	out, err := r.p.Process(ctx, raw)
	if err != nil {
		return err
	}
	sum := r.sum
	sum.events++
	switch {
	case out.Quarantined != "":
		sum.skipped++
		fmt.Fprintf(r.std.err, "%s: skipped: %s\n", where, out.Quarantined)
		return nil
	case out.Duplicate:
		sum.duplicates++
		return nil
	case out.Ignored != "":
		sum.ignored++
		fmt.Fprintf(r.std.err, "%s: ignored: %s\n", where, out.Ignored)
		return nil
	case out.Recorded != nil:
		if !r.cmd.jsonOut { // --json prints alert changes only
			writeVersionChange(r.std.out, out.Recorded)
		}
		return nil
	case out.Late != "":
		sum.late++
		fmt.Fprintf(r.std.err, "%s: %s\n", where, out.Late)
	}
	for _, ch := range out.Changes {
		r.clock = maxTime(r.clock, ch.At)
		sum.add(ch)
		switch {
		case r.cmd.jsonOut:
			writeJSONLine(r.std.out, ch)
		case ch.State != "updated": // every further breach: --json has them
			writeTimeline(r.std.out, ch)
		}
	}
	for _, n := range out.Queued {
		// A raise is the router's change of the group (its level and
		// escalation), not an alert's: without its own line, --json
		// would not show the group was told again.
		if n.Kind == state.NoticeRaised {
			r.tl.change(n)
		}
		if err := r.tl.deliver(ctx, n, sum); err != nil {
			return err
		}
	}
	if out.Wrote {
		r.tl.next = r.st.NextDue()
	}
	return nil
}

// finish saves the state (with --state) and prints the summary.
func (c *replayCmd) finish(r *replayRun, std stdio) int {
	if c.statePath != "" {
		if err := r.st.Save(c.statePath); err != nil {
			fmt.Fprintf(std.err, "stakeout replay: %v\n", err)
			return 2
		}
	}
	if c.jsonOut {
		return 0
	}
	r.sum.write(std.out)
	if c.statePath != "" {
		fmt.Fprintf(std.out, "state saved to %s (stakeout audit --state %s …)\n", c.statePath, c.statePath)
		if r.key == nil {
			fmt.Fprintf(std.out, "its audit trail is unkeyed: set %s to key it (openssl rand -hex 32)\n", envAuditKey)
		}
	}
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func writeTimeline(w io.Writer, ch pipeline.Change) {
	what := fmt.Sprintf("%s → %s via %s", ch.Severity, ch.Owner, orNone(ch.Notify))
	switch ch.State {
	case "suppressed":
		what = fmt.Sprintf("%s, inhibited by %s: nobody told", ch.Severity, ch.InhibitedBy)
	case "silenced":
		what = fmt.Sprintf("%s, silenced by %s until %s: nobody told (yet)", ch.Severity, ch.SilencedBy, ch.SilencedUntil.UTC().Format("2006-01-02 15:04Z"))
	case "resolved":
		what = "value " + expression.FormatNumber(ch.Value)
	}
	fmt.Fprintf(w, "%s  %-11s %s  %s\n", ch.At.UTC().Format("2006-01-02 15:04Z"), strings.ToUpper(ch.State), ch.Alert, what)
	if ch.State != "resolved" && ch.Summary != "" {
		fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", 19), ch.Summary)
	}
}

// writeVersionChange is a line of the timeline for an entry a version
// event added to its model's version timeline.
func writeVersionChange(w io.Writer, c *signal.VersionChange) {
	fmt.Fprintf(w, "%s  %-11s %s %s %s (%s)\n", c.At.UTC().Format("2006-01-02 15:04Z"), "VERSION", c.Model, c.Version, c.Change, entryDetail(*c))
}

// summary counts what a replay did.
type summary struct {
	events, duplicates, skipped, late, notices, updates int
	ignored                                             int
	waiting, failed, escalations, renotified, silences  int
	byModel, byOwner                                    map[string]*counts
	failOn                                              *failOn
}

type counts struct{ opened, resolved, suppressed int }

func newSummary(f *failOn) *summary {
	return &summary{byModel: map[string]*counts{}, byOwner: map[string]*counts{}, failOn: f}
}

// add counts a change, the router's or the escalator's (a silence alert),
// and notes an alert that opened for --fail-on.
func (s *summary) add(ch pipeline.Change) {
	switch ch.State {
	case "updated":
		s.updates++
	case "opened", "reopened":
		s.failOn.add(ch.Alert, ch.Severity)
	}
	for _, c := range []*counts{s.get(s.byModel, ch.Model), s.get(s.byOwner, ch.Owner)} {
		switch ch.State {
		case "opened", "reopened":
			c.opened++
		case "resolved":
			c.resolved++
		case "suppressed", "silenced":
			c.suppressed++
		}
	}
}

func (s *summary) get(m map[string]*counts, k string) *counts {
	if m[k] == nil {
		m[k] = &counts{}
	}
	return m[k]
}

func (s *summary) write(w io.Writer) {
	late := ""
	if s.late > 0 {
		late = fmt.Sprintf(", %d late (changed no alert)", s.late)
	}
	if s.ignored > 0 {
		late += fmt.Sprintf(", %d ignored (nothing to evaluate yet)", s.ignored)
	}
	fmt.Fprintf(w, "\n%s replayed: %d duplicates ignored, %d skipped%s; %s; %s of open alerts (shown with --json)\n",
		plural(s.events, "event"), s.duplicates, s.skipped, late, plural(s.notices, "notification"), plural(s.updates, "update"))
	if s.escalations > 0 || s.renotified > 0 {
		fmt.Fprintf(w, "  %s, %s at the end of a chain: nobody acknowledges in a replay\n",
			plural(s.escalations, "escalation step"), plural(s.renotified, "re-notification"))
	}
	if s.silences > 0 {
		fmt.Fprintf(w, "  %s opened or resolved by silence detection\n", plural(s.silences, "silence alert"))
	}
	if s.waiting > 0 || s.failed > 0 {
		fmt.Fprintf(w, "  %d notification(s) not delivered yet (left in the outbox), %d channel(s) refused for good (see the log above)\n", s.waiting, s.failed)
	}
	for _, part := range []struct {
		title string
		m     map[string]*counts
	}{{"model", s.byModel}, {"owner", s.byOwner}} {
		for _, k := range slices.Sorted(maps.Keys(part.m)) {
			c := part.m[k]
			fmt.Fprintf(w, "  %-6s %-24s %d opened, %d resolved, %d suppressed\n", part.title, k, c.opened, c.resolved, c.suppressed)
		}
	}
}
