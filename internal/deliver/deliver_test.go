package deliver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// Every test has its own table, test servers and clock, so they run in
// parallel (t.Parallel): most of their time is spent waiting on DynamoDB
// Local and the test servers.

// store is what the tests need of a store: the sender's, the pipeline's
// and the audit reads.
type store interface {
	deliver.Store
	pipeline.Store
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
	Digest(ctx context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error)
}

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

// Channels of the example owners that exist in the test workspace.
var channels = []string{"C0CREDITDS", "C0MLPLATFM", "C0DATAPLAT", "C0HEADOFML", "C0LENDPROD", "C0LISTENPM"}

// env is the world of one test: a store, the example configuration, a
// Slack and a PagerDuty that speak the vendors' wire formats, a router and
// a sender on an injected clock.
type env struct {
	t      *testing.T
	cfg    *config.Config
	st     store
	slack  *notifytest.Slack
	pd     *notifytest.PagerDuty
	router *pipeline.Processor
	sender *deliver.Sender
	mu     sync.Mutex
	now    time.Time
	seq    int
	// refusals are Slack errors a test provokes on purpose.
	refusals map[string]bool
}

type option func(*envOptions)

type envOptions struct {
	dynamo      bool
	slackOpts   []notifytest.SlackOption
	routingKeys map[string]string // secret env var → key
	pdKeys      []string
	configDir   string // "": the repository's example
}

func onDynamo(o *envOptions) { o.dynamo = true }

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	o := envOptions{slackOpts: []notifytest.SlackOption{notifytest.WithChannels(channels...)}, configDir: "../.."}
	for _, f := range opts {
		f(&o)
	}
	cfg, err := config.Load(o.configDir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, now: t0}
	clock := func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
	if o.dynamo {
		table := dynamotest.TableName(t)
		if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
			t.Fatal(err)
		}
		e.st = dynamostore.New(dynamotest.Client(t), table, clock)
	} else {
		e.st = memstore.New(clock)
	}
	e.slack = notifytest.NewSlack(t, o.slackOpts...)
	e.pd = notifytest.NewPagerDuty(t, notifytest.WithRoutingKeys(append([]string{notifytest.DefaultRoutingKey}, o.pdKeys...)...))
	// Every owner's routing key resolves to the test PagerDuty's, unless
	// a test says otherwise.
	keys := map[string]string{}
	for _, ow := range cfg.Owners {
		if ow.PagerDuty.RoutingKey != "" {
			keys[secret.EnvVar(ow.PagerDuty.RoutingKey)] = notifytest.DefaultRoutingKey
		}
	}
	for k, v := range o.routingKeys {
		keys[k] = v
	}
	secrets := secret.NewEnv(func(k string) (string, bool) { v, ok := keys[k]; return v, ok })
	e.router = &pipeline.Processor{Config: cfg, Store: e.st, Now: clock}
	e.sender = &deliver.Sender{Config: cfg, Store: e.st, Now: clock, Sleep: deliver.Sleep, TryTimeout: 2 * time.Second,
		Notifiers: map[string]deliver.Notifier{
			"slack":     &slacknotify.Notifier{API: slacknotify.NewClient(secret.New(e.slack.Token()), e.slack.URL())},
			"pagerduty": &pdnotify.Notifier{Config: cfg, Sender: pdnotify.New(secrets, e.pd.URL())}}}
	t.Cleanup(func() {
		for _, r := range e.slack.Rejections() {
			if !e.refusals[r.Error] {
				t.Errorf("Slack refused a call: %s", r)
			}
		}
		for _, v := range e.pd.Violations() {
			if !strings.Contains(v.String(), "Invalid routing key") {
				t.Errorf("PagerDuty refused an event: %s", v)
			}
		}
	})
	return e
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// observe sends one native signal through the router, as EventBridge
// would, and returns the ids of the notifications it queued.
func (e *env) observe(detail string) []string {
	e.t.Helper()
	e.seq++
	raw := fmt.Sprintf(`{"id":"ev-%d","detail-type":"ML Model Signal","source":"test","detail":{%s,"observed_at":%q}}`, e.seq, detail, e.now.Format(time.RFC3339))
	out, err := e.router.Process(context.Background(), []byte(raw))
	if err != nil || out.Quarantined != "" {
		e.t.Fatalf("process %s: %v %s", raw, err, out.Quarantined)
	}
	var ids []string
	for _, n := range out.Queued {
		ids = append(ids, n.ID)
	}
	return ids
}

func (e *env) deliver(ids []string) deliver.Report {
	e.t.Helper()
	rep, err := e.sender.Deliver(context.Background(), ids)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

const (
	accuracyDrop   = `"model":"credit-approval","kind":"quality","metric":"accuracy","value":0.86,"baseline":0.91,"version":"v42"`
	accuracyOK     = `"model":"credit-approval","kind":"quality","metric":"accuracy","value":0.905,"baseline":0.91,"version":"v42"`
	accuracyGroup  = "credit-approval/accuracy-loss@"
	incomeDrift    = `"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.4`
	incomeClean    = `"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.05`
	bureauDrift    = `"model":"credit-approval","kind":"drift","metric":"psi","feature":"bureau_score","value":0.5`
	bureauClean    = `"model":"credit-approval","kind":"drift","metric":"psi","feature":"bureau_score","value":0.04`
	playlistSkips  = `"model":"playlist-recommender","kind":"quality","metric":"skip_rate","value":0.6`
	creditChannel  = "C0CREDITDS"
	platformChanel = "C0MLPLATFM"
)

// TestFlowOnBothStores: an event becomes one Slack message and one page;
// a second alert of the group updates the message in place with a thread
// reply and no new page; the group's resolution updates it again and
// resolves the incident; redeliveries and re-runs change nothing. The
// audit trail says who was told, where.
func TestFlowOnBothStores(t *testing.T) {
	t.Parallel()
	for _, dynamo := range []bool{false, true} {
		name := "embedded"
		var opts []option
		if dynamo {
			name, opts = "dynamodb", []option{onDynamo}
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, opts...)
			e.observe(incomeDrift)
			e.advance(time.Hour)
			opened := e.observe(incomeDrift) // for: 2
			if len(opened) != 1 {
				t.Fatalf("queued %v, want one notification", opened)
			}
			if rep := e.deliver(opened); rep.Sent != 1 {
				t.Fatalf("report %+v, want 1 sent", rep)
			}
			msgs := e.slack.Messages(creditChannel)
			if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "key-feature-drift") {
				t.Fatalf("%d messages in %s, want one about key-feature-drift", len(msgs), creditChannel)
			}
			group := strings.TrimSuffix(opened[0], "#1")
			inc, ok := e.pd.Incident(pdnotify.DedupKey(group))
			if !ok || inc.Status != notifytest.StatusTriggered {
				t.Fatalf("incident %+v, want triggered", inc)
			}

			e.advance(time.Minute)
			e.observe(bureauDrift)
			e.advance(time.Hour)
			joinedAt := e.now
			if ids := e.observe(bureauDrift); len(ids) != 0 {
				t.Fatalf("the join queued %v to send now, want it in its update window", ids)
			}
			g, _ := e.st.GetGroup(context.Background(), "credit-approval", "key-feature-drift")
			update, _ := state.UpdateID(g, joinedAt)
			updated := []string{update}
			e.advance(10 * time.Second) // the window ends
			if rep, err := e.sender.Drain(context.Background(), 10); err != nil || rep.Sent != 1 {
				t.Fatalf("Drain = %+v, %v; want the update sent", rep, err)
			}
			msgs = e.slack.Messages(creditChannel)
			if len(msgs) != 1 || len(msgs[0].Revisions) != 2 || !strings.Contains(string(msgs[0].Blocks), "2 alerts in this group") {
				t.Fatalf("after the update: %d messages, %d revisions, text %q", len(msgs), len(msgs[0].Revisions), msgs[0].Text)
			}
			if replies := e.slack.Replies(creditChannel, msgs[0].TS); len(replies) != 1 || !strings.Contains(replies[0].Text, "bureau_score") {
				t.Fatalf("%d thread replies (%v), want one about bureau_score", len(replies), texts(replies))
			}
			if e.pd.Calls() != 1 {
				t.Errorf("PagerDuty calls = %d after an update, want 1 (an update does not page)", e.pd.Calls())
			}

			e.advance(time.Hour)
			e.observe(incomeClean)
			resolved := e.observe(bureauClean)
			if rep := e.deliver(resolved); rep.Sent != 1 {
				t.Fatalf("report %+v, want 1 sent", rep)
			}
			msgs = e.slack.Messages(creditChannel)
			if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "Resolved") || strings.Contains(string(msgs[0].Blocks), "stakeout.acknowledge") {
				t.Fatalf("after resolution: %d messages, %v", len(msgs), texts(msgs))
			}
			if inc, _ := e.pd.Incident(pdnotify.DedupKey(group)); inc.Status != notifytest.StatusResolved {
				t.Errorf("incident %+v, want resolved", inc)
			}

			// Everything again: redelivered notifications, a drain.
			before := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.update") + e.pd.Calls()
			e.deliver(append(append(opened, updated...), resolved...))
			if rep, err := e.sender.Drain(context.Background(), 100); err != nil || rep.Sent != 0 {
				t.Errorf("Drain = %+v, %v; want nothing left", rep, err)
			}
			if after := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.update") + e.pd.Calls(); after != before {
				t.Errorf("re-delivery made %d more calls, want none", after-before)
			}

			// Each notification's delivery is on the trail of the alert
			// that caused it: the opening on income's, the update and the
			// resolution on bureau_score's.
			told := func(feature string) []string {
				recs, err := e.st.AlertRecords(context.Background(), pipeline.AlertID("credit-approval", "key-feature-drift", feature, ""))
				if err != nil {
					t.Fatal(err)
				}
				if err := audit.Verify(recs); err != nil {
					t.Errorf("audit chain of %s: %v", feature, err)
				}
				var out []string
				for _, r := range recs {
					if r.Action == audit.Notified {
						out = append(out, r.Notify[0]+": "+r.Detail)
					}
				}
				return out
			}
			want := map[string][]string{
				"income":       {"slack: opened notification .*#1: posted to C0CREDITDS, message 1700000000.000100", "pagerduty: opened notification .*#1: triggered incident stakeout/credit-approval/key-feature-drift@"},
				"bureau_score": {"slack: updated notification .*#u[0-9]+: updated message 1700000000.000100 in C0CREDITDS, thread reply ", "slack: resolved notification .*#2: updated message", "pagerduty: resolved notification .*#2: resolved stakeout/"},
			}
			for feature, patterns := range want {
				got := told(feature)
				if len(got) != len(patterns) {
					t.Errorf("notified records of %s:\n%s", feature, strings.Join(got, "\n"))
					continue
				}
				for i, p := range patterns {
					if !regexp.MustCompile(p).MatchString(got[i]) {
						t.Errorf("notified record %d of %s = %q, want it to match %q", i, feature, got[i], p)
					}
				}
			}
		})
	}
}

func TestDigestIsStoredNotSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for range 3 {
		ids = append(ids, e.observe(playlistSkips)...)
		e.advance(time.Hour)
	}
	if rep := e.deliver(ids); rep.Sent != 1 {
		t.Fatalf("report %+v, want 1 sent", rep)
	}
	entries, err := e.st.Digest(context.Background(), "listening-product", t0, t0.Add(24*time.Hour))
	if err != nil || len(entries) != 1 || entries[0].Notice.Rule != "skip-rate-high" {
		t.Errorf("digest = %+v, %v; want the skip-rate alert", entries, err)
	}
	if n := e.slack.Calls("chat.postMessage"); n != 0 {
		t.Errorf("%d Slack posts for a digest-only alert, want 0", n)
	}
}

// TestFaults injects what Slack and PagerDuty do on a bad day. Each case
// must end with exactly one message and one incident: nothing lost,
// nothing twice.
func TestFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		slack map[string][]notifytest.Fault
		pd    []notifytest.Fault
		// wantCalls are the minimum calls per Slack method.
		wantCalls map[string]int
	}{
		{name: "slack 429 with Retry-After", slack: map[string][]notifytest.Fault{"chat.postMessage": {{Status: 429, RetryAfter: time.Second}}},
			wantCalls: map[string]int{"chat.postMessage": 2}},
		{name: "slack 500s", slack: map[string][]notifytest.Fault{"chat.postMessage": {{Status: 500}, {Status: 503}}},
			wantCalls: map[string]int{"chat.postMessage": 3, "conversations.history": 2}},
		{name: "slack posts but the answer is lost", slack: map[string][]notifytest.Fault{"chat.postMessage": {{LoseResponse: true}}},
			wantCalls: map[string]int{"chat.postMessage": 1, "conversations.history": 1}},
		{name: "slack hangs past the try timeout", slack: map[string][]notifytest.Fault{"chat.postMessage": {{Delay: 5 * time.Second}}},
			wantCalls: map[string]int{"chat.postMessage": 2, "conversations.history": 1}},
		// Slack documents internal_error as "some aspect may have
		// succeeded": look before posting again.
		{name: "slack internal_error", slack: map[string][]notifytest.Fault{"chat.postMessage": {{Error: "internal_error"}}},
			wantCalls: map[string]int{"chat.postMessage": 2, "conversations.history": 1}},
		{name: "pagerduty 500 and 429", pd: []notifytest.Fault{{Status: 500}, {Status: 429}}},
		{name: "pagerduty accepts but the answer is lost", pd: []notifytest.Fault{{LoseResponse: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for method, faults := range tc.slack {
				e.slack.Fail(method, faults...)
			}
			e.pd.Fail(tc.pd...)
			if tc.name == "slack hangs past the try timeout" {
				e.sender.TryTimeout = 200 * time.Millisecond
			}
			ids := e.observe(accuracyDrop)
			if rep := e.deliver(ids); rep.Sent != 1 {
				t.Fatalf("report %+v, want 1 sent", rep)
			}
			if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 {
				t.Errorf("%d messages in %s, want 1", len(msgs), creditChannel)
			}
			group := strings.TrimSuffix(ids[0], "#1")
			if incs := e.pd.Incidents(pdnotify.DedupKey(group)); len(incs) != 1 || incs[0].Status != notifytest.StatusTriggered {
				t.Errorf("incidents %+v, want one triggered", incs)
			}
			for method, n := range tc.wantCalls {
				if got := e.slack.Calls(method); got < n {
					t.Errorf("%s called %d times, want at least %d", method, got, n)
				}
			}
		})
	}
}

// crashingStore fails one commit, as a sender that dies (or loses
// DynamoDB) right after a call to Slack would: the call happened, its
// record did not.
type crashingStore struct {
	store
	mu    sync.Mutex
	crash func(*state.Commit) bool
}

func (c *crashingStore) Commit(ctx context.Context, cm *state.Commit) error {
	c.mu.Lock()
	crash := c.crash != nil && c.crash(cm)
	if crash {
		c.crash = nil
	}
	c.mu.Unlock()
	if crash {
		return errors.New("connection reset (injected)")
	}
	return c.store.Commit(ctx, cm)
}

func TestCrashAfterPostingDoesNotPostTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := e.observe(accuracyDrop)
	cs := &crashingStore{store: e.st, crash: func(c *state.Commit) bool { return len(c.Deliveries) > 0 }}
	e.sender.Store = cs
	if _, err := e.sender.Deliver(context.Background(), ids); err == nil {
		t.Fatal("Deliver survived the injected crash")
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 {
		t.Fatalf("%d messages after the crash, want the 1 posted", len(msgs))
	}
	// The claim holds until its lease ends; then a drain takes over.
	if rep, _ := e.sender.Drain(context.Background(), 10); rep != (deliver.Report{}) {
		t.Errorf("a drain during the lease = %+v, want nothing due", rep)
	}
	if rep := e.deliver(ids); rep.Skipped != 1 {
		t.Errorf("delivering it by id during the lease = %+v, want it skipped", rep)
	}
	e.advance(deliver.DefaultLease + time.Second)
	if rep, err := e.sender.Drain(context.Background(), 10); err != nil || rep.Sent != 1 {
		t.Fatalf("Drain after the lease = %+v, %v; want 1 sent", rep, err)
	}
	msgs := e.slack.Messages(creditChannel)
	if len(msgs) != 1 || e.slack.Calls("conversations.history") == 0 {
		t.Errorf("%d messages (history read %d times); want 1, found by its metadata", len(msgs), e.slack.Calls("conversations.history"))
	}
	d, _ := e.st.GetDelivery(context.Background(), strings.TrimSuffix(ids[0], "#1"))
	if d.Slack[creditChannel].TS != msgs[0].TS {
		t.Errorf("recorded ts %q, want the message's %q", d.Slack[creditChannel].TS, msgs[0].TS)
	}
}

// TestConcurrentSendersDeliverOnce: many senders draining one outbox at
// once, each notification goes out once, in order within its group.
func TestConcurrentSendersDeliverOnce(t *testing.T) {
	t.Parallel()
	for _, dynamo := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded", true: "dynamodb"}[dynamo], func(t *testing.T) {
			var opts []option
			if dynamo {
				opts = append(opts, onDynamo)
			}
			e := newEnv(t, opts...)
			e.observe(incomeDrift)
			e.observe(bureauDrift)
			e.advance(time.Hour)
			e.observe(incomeDrift)
			e.observe(bureauDrift)
			e.observe(accuracyDrop)
			var wg sync.WaitGroup
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						if _, err := e.sender.Drain(context.Background(), 10); err != nil && !errors.Is(err, state.ErrConflict) {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			// What the racing left (an update waiting for its opening) goes
			// out on the next runs.
			for range 3 {
				e.advance(10 * time.Second)
				if _, err := e.sender.Drain(context.Background(), 10); err != nil {
					t.Fatal(err)
				}
			}
			msgs := e.slack.Messages(creditChannel)
			if len(msgs) != 2 {
				t.Fatalf("%d messages, want 2 (drift group, accuracy)", len(msgs))
			}
			for _, m := range msgs {
				if strings.Contains(string(m.Blocks), "key-feature-drift") {
					if r := e.slack.Replies(creditChannel, m.TS); len(r) != 1 {
						t.Errorf("drift group has %d replies, want 1", len(r))
					}
				}
			}
			if e.pd.Calls() != 2 {
				t.Errorf("PagerDuty calls = %d, want 2 (one trigger per group)", e.pd.Calls())
			}
		})
	}
}

func texts(msgs []notifytest.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// TestWorkNeverOutlastsTheClaim: a sender told to wait longer than its
// lease allows gives the notification back instead of posting after
// another sender may have taken over.
func TestWorkNeverOutlastsTheClaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sender.Lease = 2 * time.Second
	e.slack.Fail("chat.postMessage", notifytest.Fault{Status: 429, RetryAfter: 3 * time.Second})
	ids := e.observe(accuracyDrop)
	if rep := e.deliver(ids); rep.Waiting != 1 {
		t.Fatalf("report %+v, want it waiting (Retry-After beyond the lease)", rep)
	}
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	if want := t0.Add(3 * time.Second); n.ClaimedUntil.Before(want) {
		t.Errorf("next attempt at %v, want not before Slack's Retry-After (%v)", n.ClaimedUntil, want)
	}
	e.advance(time.Minute)
	if rep, err := e.sender.Drain(context.Background(), 10); err != nil || rep.Sent != 1 {
		t.Fatalf("Drain = %+v, %v; want 1 sent", rep, err)
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 {
		t.Errorf("%d messages, want 1", len(msgs))
	}
}

// incident returns the PagerDuty incident of the group of notification id.
func (e *env) incident(id string) notifytest.Incident {
	e.t.Helper()
	group, _, _ := strings.Cut(id, "#")
	inc, ok := e.pd.Incident(pdnotify.DedupKey(group))
	if !ok {
		e.t.Fatalf("no incident for %s", group)
	}
	return inc
}

// failures returns the delivery_failed records of an alert.
func (e *env) failures(alert string) []audit.Record {
	e.t.Helper()
	recs, err := e.st.AlertRecords(context.Background(), alert)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Record
	for _, r := range recs {
		if r.Action == audit.DeliveryFailed {
			out = append(out, r)
		}
	}
	return out
}

// drainEvery runs the escalator's drain every step for d, as the
// every-minute schedule would.
func (e *env) drainEvery(step, d time.Duration) deliver.Report {
	e.t.Helper()
	var rep deliver.Report
	for range int(d / step) {
		e.advance(step)
		r, err := e.sender.Drain(context.Background(), 100)
		if err != nil {
			e.t.Fatal(err)
		}
		rep.Add(r)
	}
	return rep
}

func (e *env) withMetrics() *bytes.Buffer {
	var buf bytes.Buffer
	e.sender.Metrics = metrics.New(&buf, metrics.Namespace, func() time.Time { return t0 })
	return &buf
}

func failureCount(t *testing.T, r *metrics.Recorder, buf *bytes.Buffer) int {
	t.Helper()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if v, ok := m[metrics.NotificationFailures].(float64); ok && m["Channel"] == nil {
			n += int(v)
		}
	}
	return n
}

const accuracyAlert = "credit-approval/accuracy-loss"

// TestSlackDownDoesNotSilenceThePage: Slack answering 503 for six hours
// while a critical alert opens. The page goes out at once; at Slack's
// deadline the failure is on the trail, counted, and told through
// PagerDuty (into the same incident: no second page); once Slack is back,
// its message is posted, once.
func TestSlackDownDoesNotSilenceThePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	buf := e.withMetrics()
	e.slack.Outage(&notifytest.Fault{Status: 503})
	e.sender.Sleep = nil // one attempt per run, as when the run's budget is spent
	ids := e.observe(accuracyDrop)
	if rep := e.deliver(ids); rep.Waiting != 1 || rep.Failed != 0 {
		t.Fatalf("first run %+v, want the notification waiting for Slack", rep)
	}
	if inc := e.incident(ids[0]); inc.Status != notifytest.StatusTriggered || len(inc.Events) != 1 {
		t.Fatalf("incident %+v, want triggered by the first run", inc)
	}
	e.drainEvery(time.Minute, 14*time.Minute)
	if got := e.failures(accuracyAlert); len(got) != 0 {
		t.Fatalf("failure declared before the deadline: %+v", got)
	}
	e.drainEvery(time.Minute, 2*time.Minute)
	failed := e.failures(accuracyAlert)
	if len(failed) != 1 || failed[0].Notify[0] != "slack" || !strings.Contains(failed[0].Detail, "http 503") ||
		!strings.Contains(failed[0].Detail, "telling credit-ds through pagerduty") {
		t.Fatalf("delivery_failed records %+v, want one for slack, told through pagerduty", failed)
	}
	inc := e.incident(ids[0])
	if len(e.pd.Incidents(inc.DedupKey)) != 1 || len(inc.Events) != 2 || !strings.Contains(inc.Events[1].Payload.Summary, "slack failed (http 503)") {
		t.Fatalf("incident %+v, want the failure notice as a second event of the one incident", inc)
	}
	if n := failureCount(t, e.sender.Metrics, buf); n != 1 {
		t.Errorf("NotificationFailures = %d, want 1", n)
	}
	e.drainEvery(5*time.Minute, 6*time.Hour)
	if len(e.failures(accuracyAlert)) != 1 || e.pd.Calls() != 2 {
		t.Errorf("six hours down: %d failure records, %d PagerDuty calls; want 1 and 2 (told once)", len(e.failures(accuracyAlert)), e.pd.Calls())
	}
	e.slack.Outage(nil)
	e.drainEvery(time.Minute, 6*time.Minute)
	msgs := e.slack.Messages(creditChannel)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "accuracy-loss") {
		t.Fatalf("%d messages after Slack came back (%v), want the alert's, once", len(msgs), texts(msgs))
	}
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	if n.Sent.IsZero() || !strings.Contains(n.Done["slack"], "after") {
		t.Errorf("notification sent %v, slack %q; want it sent, after its failed attempts", n.Sent, n.Done["slack"])
	}
	if rep := e.drainEvery(time.Hour, 2*time.Hour); rep.Sent+rep.Waiting != 0 || len(e.slack.Messages(creditChannel)) != 1 {
		t.Errorf("later drains %+v, want nothing left", rep)
	}
}

// TestPagerDutyDownIsToldInSlack: the page fails for good (PagerDuty
// refuses the routing key) or for long (503s): the group's Slack message
// says the page failed, in place and in its thread.
func TestPagerDutyDownIsToldInSlack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reason string
		opts         []option
		outage       bool
	}{
		{name: "routing key refused", reason: "http 400", opts: []option{func(o *envOptions) {
			o.routingKeys = map[string]string{secret.EnvVar("secret:stakeout/pagerduty/credit-ds"): "notifytestUNKNOWN000000000000key"}
		}}},
		{name: "down past the deadline", reason: "http 503", outage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			if tc.outage {
				e.pd.Outage(&notifytest.Fault{Status: 503})
				e.sender.Sleep = nil
			}
			ids := e.observe(accuracyDrop)
			e.deliver(ids)
			if tc.outage {
				e.drainEvery(time.Minute, 16*time.Minute)
			}
			msgs := e.slack.Messages(creditChannel)
			if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "The PagerDuty page failed ("+tc.reason) {
				t.Fatalf("%d messages (%v), want the alert's saying the page failed", len(msgs), texts(msgs))
			}
			replies := e.slack.Replies(creditChannel, msgs[0].TS)
			if len(replies) != 1 || !strings.Contains(replies[0].Text, "Nobody was paged") {
				t.Errorf("thread %v, want one reply telling nobody was paged", texts(replies))
			}
			if got := e.failures(accuracyAlert); len(got) != 1 || got[0].Notify[0] != "pagerduty" {
				t.Errorf("delivery_failed records %+v, want one for pagerduty", got)
			}
		})
	}
}

// TestBothDownDeliversEverythingOnceWhenBack: with Slack and PagerDuty
// both down, every failure is counted; when they return, the alert's
// message, its page and the failure notices each arrive once.
func TestBothDownDeliversEverythingOnceWhenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	buf := e.withMetrics()
	e.slack.Outage(&notifytest.Fault{Status: 503})
	e.pd.Outage(&notifytest.Fault{Status: 502})
	e.sender.Sleep = nil
	ids := e.observe(accuracyDrop)
	e.deliver(ids)
	e.drainEvery(5*time.Minute, 2*time.Hour)
	if n := failureCount(t, e.sender.Metrics, buf); n < 2 {
		t.Errorf("NotificationFailures = %d, want both channels counted", n)
	}
	e.slack.Outage(nil)
	e.pd.Outage(nil)
	e.drainEvery(time.Minute, 10*time.Minute)
	msgs := e.slack.Messages(creditChannel)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in %s (%v), want 1", len(msgs), creditChannel, texts(msgs))
	}
	if r := e.slack.Replies(creditChannel, msgs[0].TS); len(r) != 1 || !strings.Contains(r[0].Text, "PagerDuty page") {
		t.Errorf("thread %v, want the page's failure told once", texts(r))
	}
	inc := e.incident(ids[0])
	if len(e.pd.Incidents(inc.DedupKey)) != 1 || len(inc.Events) != 2 {
		t.Errorf("incident %+v, want one, with the trigger and the failure notice", inc)
	}
	if rep := e.drainEvery(time.Hour, 2*time.Hour); rep.Sent+rep.Waiting != 0 {
		t.Errorf("later drains %+v, want nothing left", rep)
	}
}

// TestARevokedTokenIsDeclaredAtOnce: a refused bot token fails every
// notification alike: the failure is declared on the first attempt, with
// the reason, and told through PagerDuty; the notification goes on being
// tried and is posted once the token is fixed.
func TestARevokedTokenIsDeclaredAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.refusals = map[string]bool{"invalid_auth": true}
	good := e.sender.Notifiers["slack"]
	e.sender.Notifiers["slack"] = &slacknotify.Notifier{API: slacknotify.NewClient(secret.New("xoxb-test-revoked"), e.slack.URL())}
	e.sender.Sleep = nil
	ids := e.observe(accuracyDrop)
	if rep := e.deliver(ids); rep.Failed != 1 {
		t.Fatalf("first run %+v, want the failure declared at once", rep)
	}
	if got := e.failures(accuracyAlert); len(got) != 1 || !strings.Contains(got[0].Detail, "invalid_auth") {
		t.Fatalf("delivery_failed records %+v, want one naming invalid_auth", got)
	}
	if inc := e.incident(ids[0]); len(inc.Events) != 2 || !strings.Contains(inc.Events[1].Payload.Summary, "invalid_auth") {
		t.Errorf("incident %+v, want the trigger and the failure notice naming invalid_auth", inc)
	}
	e.drainEvery(time.Hour, 8*time.Hour)
	if len(e.failures(accuracyAlert)) != 1 {
		t.Errorf("the failure was declared %d times, want once", len(e.failures(accuracyAlert)))
	}
	e.sender.Notifiers["slack"] = good // the token is fixed
	e.drainEvery(time.Minute, 6*time.Minute)
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 {
		t.Errorf("%d messages after the fix, want 1", len(msgs))
	}
}

// TestAChannelThatCannotBeReachedIsToldToThePlatformOwner: an owner whose
// only channel refuses for good (the channel does not exist) is reported
// to the model's platform owner, in Slack.
func TestAChannelThatCannotBeReachedIsToldToThePlatformOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // C0GROWTHDS does not exist in the test workspace
	e.refusals = map[string]bool{"channel_not_found": true}
	ids := e.observe(`"model":"churn-prediction","kind":"quality","metric":"auc","value":0.70,"baseline":0.78`)
	rep := e.deliver(ids)
	if rep.Sent != 2 || rep.Failed != 1 {
		t.Fatalf("report %+v, want the notification and its failure notice sent, 1 failure", rep)
	}
	told := e.slack.Messages(platformChanel)
	if len(told) != 1 || !strings.Contains(told[0].Text, "could not deliver") || !strings.Contains(told[0].Text, "channel_not_found") {
		t.Fatalf("platform channel got %v, want one failure notice naming channel_not_found", texts(told))
	}
	if e.pd.Calls() != 0 {
		t.Errorf("%d PagerDuty calls, want none (a broken owner file is not an emergency)", e.pd.Calls())
	}
	if rep := e.drainEvery(time.Hour, 2*time.Hour); rep.Sent+rep.Waiting != 0 {
		t.Errorf("drains after a permanent failure = %+v, want nothing", rep)
	}
}

// TestTransientFailureWaitsForALaterRun: a failing channel is given back
// to the outbox with its own next attempt, while the others are done.
func TestTransientFailureWaitsForALaterRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.slack.Outage(&notifytest.Fault{Status: 503})
	e.sender.Sleep = nil
	ids := e.observe(accuracyDrop)
	if rep := e.deliver(ids); rep.Waiting != 1 || rep.Sent != 0 {
		t.Fatalf("Deliver = %+v; want 1 waiting", rep)
	}
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	want := t0.Add(deliver.DefaultRetryIn)
	if tr := n.Tries["slack"]; tr == nil || !tr.Next.Equal(want) || !n.ClaimedUntil.Equal(want) || n.Claim != "" || n.Done["pagerduty"] == "" {
		t.Fatalf("after a failed run: tries %+v, due %v (claim %q), done %v; want slack due at %v, pagerduty done", n.Tries, n.ClaimedUntil, n.Claim, n.Done, want)
	}
	if rep, _ := e.sender.Drain(context.Background(), 10); rep != (deliver.Report{}) {
		t.Errorf("a drain before the retry time = %+v, want nothing due", rep)
	}
	e.slack.Outage(nil)
	e.advance(deliver.DefaultRetryIn)
	if rep, err := e.sender.Drain(context.Background(), 10); err != nil || rep.Sent != 1 {
		t.Fatalf("Drain after recovery = %+v, %v; want 1 sent", rep, err)
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 || e.pd.Calls() != 1 {
		t.Errorf("%d messages, %d pages; want 1 and 1", len(msgs), e.pd.Calls())
	}
}

// TestAFailingChannelCostsTheOthersOneAttempt: with Slack failing, every
// notification's other channels are tried before any retry of Slack: the
// pages of both groups are out before the run first waits.
func TestAFailingChannelCostsTheOthersOneAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.slack.Outage(&notifytest.Fault{Status: 503})
	pagesAtFirstWait := -1
	e.sender.Sleep = func(ctx context.Context, d time.Duration) error {
		if pagesAtFirstWait < 0 {
			pagesAtFirstWait = e.pd.Calls()
		}
		return nil // the waits pass at once: the retry budget is spent quickly
	}
	ids := append(e.observe(accuracyDrop), e.observe(incomeDrift)...)
	e.advance(time.Hour)
	ids = append(ids, e.observe(incomeDrift)...) // for: 2
	if len(ids) != 2 {
		t.Fatalf("queued %v, want two openings", ids)
	}
	rep := e.deliver(ids)
	if pagesAtFirstWait != 2 {
		t.Errorf("PagerDuty had %d pages when the run first waited to retry Slack, want both groups' 2", pagesAtFirstWait)
	}
	if rep.Waiting != 2 {
		t.Errorf("report %+v, want both waiting for Slack", rep)
	}
	// One run is one step of the outbox's backoff, however many attempts
	// it made within its budget.
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	if tr := n.Tries["slack"]; tr == nil || tr.Attempts < 3 || tr.Runs != 1 || !tr.Next.Equal(e.now.Add(deliver.DefaultRetryIn)) {
		t.Errorf("slack progress %+v, want several attempts in one run and the next in %v", tr, deliver.DefaultRetryIn)
	}
	e.slack.Outage(nil)
}

// TestABurstOfJoinsIsOneEditAndOneReply: forty features drifting at once
// join the group as they arrive; Slack gets the opening, then one edit of
// the message and one thread reply naming them, not forty of each.
func TestABurstOfJoinsIsOneEditAndOneReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	nulls := func(i int) string {
		return fmt.Sprintf(`"model":"credit-approval","kind":"data_quality","metric":"null_rate","feature":"f%02d","value":0.9`, i)
	}
	for i := range 40 {
		e.observe(nulls(i)) // for: 2
	}
	e.advance(time.Hour)
	e.deliver(e.observe(nulls(0)))
	for i := 1; i < 40; i++ {
		if ids := e.observe(nulls(i)); len(ids) != 0 {
			t.Fatalf("a join queued %v to send now, want it in the update window", ids)
		}
	}
	channel := "C0DATAPLAT"
	if msgs := e.slack.Messages(channel); len(msgs) != 1 || len(msgs[0].Revisions) != 1 {
		t.Fatalf("before the window ends: %d messages, want the opening only", len(msgs))
	}
	e.drainEvery(time.Minute, time.Minute)
	msgs := e.slack.Messages(channel)
	replies := e.slack.Replies(channel, msgs[0].TS)
	if len(msgs) != 1 || len(msgs[0].Revisions) != 2 || !strings.Contains(string(msgs[0].Blocks), "40 alerts in this group") {
		t.Fatalf("after the window: %d messages, %d revisions; want the one message edited once to 40 alerts", len(msgs), len(msgs[0].Revisions))
	}
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "39 alerts joined (f01, f02") || !strings.Contains(replies[0].Text, "and 29 more") {
		t.Errorf("thread %v, want one reply naming the 39 that joined", texts(replies))
	}
	if n := e.slack.Calls("chat.postMessage") + e.slack.Calls("chat.update"); n != 3 {
		t.Errorf("%d Slack calls, want 3 (the post, one edit, one reply)", n)
	}
}

// TestABurstPastTheNamesIsCounted: a group names its first 100 alerts
// and counts the rest; the message and the reply say how many more.
func TestABurstPastTheNamesIsCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	nulls := func(i int) string {
		return fmt.Sprintf(`"model":"credit-approval","kind":"data_quality","metric":"null_rate","feature":"f%03d","value":0.9`, i)
	}
	const burst = state.MaxMembers + 30
	for i := range burst {
		e.observe(nulls(i)) // for: 2
	}
	e.advance(time.Hour)
	e.deliver(e.observe(nulls(0)))
	for i := 1; i < burst; i++ {
		e.observe(nulls(i))
	}
	e.drainEvery(time.Minute, time.Minute)
	channel := "C0DATAPLAT"
	msgs := e.slack.Messages(channel)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "130 alerts in this group") || !strings.Contains(string(msgs[0].Blocks), "and 110 more") {
		t.Fatalf("%d messages; want one saying 130 alerts, 20 named and 110 more:\n%s", len(msgs), msgs[0].Blocks)
	}
	replies := e.slack.Replies(channel, msgs[0].TS)
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "129 alerts joined (f001, f002") || !strings.Contains(replies[0].Text, "and 119 more") {
		t.Errorf("thread %v, want one reply counting the 129 that joined", texts(replies))
	}
}

// TestAFailureIsDeclaredOnce: PagerDuty failing past its deadline, then
// refusing for good, is one declared failure, told once.
func TestAFailureIsDeclaredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	buf := e.withMetrics()
	e.pd.Outage(&notifytest.Fault{Status: 503})
	e.sender.Sleep = nil
	ids := e.observe(accuracyDrop)
	e.deliver(ids)
	e.drainEvery(time.Minute, 16*time.Minute)
	e.pd.Outage(nil)
	e.refusals = map[string]bool{"http 400": true}
	e.sender.Notifiers["pagerduty"] = &pdnotify.Notifier{Config: e.cfg, Sender: pdnotify.New(secret.NewEnv(func(string) (string, bool) { return "", false }), e.pd.URL())}
	e.drainEvery(5*time.Minute, 30*time.Minute)
	if got := e.failures(accuracyAlert); len(got) != 1 {
		t.Errorf("%d delivery-failed records, want 1", len(got))
	}
	if n := failureCount(t, e.sender.Metrics, buf); n != 1 {
		t.Errorf("NotificationFailures = %d, want 1", n)
	}
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	if !strings.HasPrefix(n.Done["pagerduty"], "failed: ") || n.Sent.IsZero() {
		t.Errorf("pagerduty %q, sent %v; want it done as failed, the notification sent", n.Done["pagerduty"], n.Sent)
	}
	if r := e.slack.Replies(creditChannel, e.slack.Messages(creditChannel)[0].TS); len(r) != 1 {
		t.Errorf("%d thread replies about the page, want 1", len(r))
	}
}

// raceNotifier forwards to Slack; on the update window's first attempt it first
// lets the group resolve and a second sender deliver the resolution (as a
// router Lambda would, concurrently with the escalator's drain).
type raceNotifier struct {
	inner deliver.Notifier
	once  func()
}

func (r *raceNotifier) Notify(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	if m.Notice.Kind == state.NoticeUpdated && r.once != nil {
		f := r.once
		r.once = nil
		f()
	}
	return r.inner.Notify(ctx, m)
}

// An update window read while the group was open must not land after the
// group's resolution: the message would say "open" again, with buttons,
// and nothing would ever edit it back.
func TestUpdateInFlightNeverOverwritesResolution(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]option{"memstore": nil, "dynamodb": {onDynamo}} {
		t.Run(name, func(t *testing.T) { updateInFlightDuringResolution(t, opts...) })
	}
}

func updateInFlightDuringResolution(t *testing.T, opts ...option) {
	e := newEnv(t, opts...)
	e.observe(incomeDrift)
	e.advance(time.Hour)
	e.deliver(e.observe(incomeDrift))
	e.advance(time.Minute)
	e.observe(bureauDrift)
	e.advance(time.Hour)
	e.observe(bureauDrift) // joins: window pending
	rc := &raceNotifier{inner: e.sender.Notifiers["slack"]}
	e.sender.Notifiers["slack"] = rc
	rc.once = func() {
		e.observe(incomeClean)
		resolved := e.observe(bureauClean)
		other := *e.sender
		other.Notifiers = map[string]deliver.Notifier{"slack": rc.inner, "pagerduty": e.sender.Notifiers["pagerduty"]}
		if _, err := other.Deliver(context.Background(), resolved); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(10 * time.Second)
	for range 3 {
		// The resolution waited for the update: a later run sends it.
		if _, err := e.sender.Drain(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		e.advance(time.Minute)
	}
	m := e.slack.Messages(creditChannel)[0]
	if !strings.Contains(string(m.Blocks), "Resolved") {
		t.Errorf("final message does not say Resolved (%d revisions): the update's edit overwrote the resolution", len(m.Revisions))
	}
}

// TestLateLabelsAreToldInTheDriftAlertsThreadNeverPaged: labels for the
// week an income drift alert opened arrive two weeks later, showing the
// accuracy drop: the drift group's thread says the drift was confirmed,
// its message is left as it is, and nobody is paged for it.
func TestLateLabelsAreToldInTheDriftAlertsThreadNeverPaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	week := e.now
	e.observe(incomeDrift) // key-feature-drift: for 2
	e.advance(time.Hour)
	e.deliver(e.observe(incomeDrift))
	for range 3 {
		e.advance(time.Hour)
		e.deliver(e.observe(incomeClean))
	}
	msgs := e.slack.Messages(creditChannel)
	if len(msgs) != 1 {
		t.Fatalf("%d messages after the drift alert, want 1", len(msgs))
	}
	revisions, pages := len(msgs[0].Revisions), e.pd.Calls()
	e.advance(14 * 24 * time.Hour)
	labels := fmt.Sprintf(`%s,"window_start":%q,"window_end":%q`, accuracyDrop, week.Truncate(24*time.Hour).Format(time.RFC3339),
		week.Truncate(24*time.Hour).Add(7*24*time.Hour).Format(time.RFC3339))
	ids := e.observe(labels)
	e.deliver(ids)
	replies := e.slack.Replies(creditChannel, msgs[0].TS)
	i := slices.IndexFunc(replies, func(m notifytest.Message) bool { return strings.Contains(m.Text, "drift confirmed") })
	if i < 0 || !strings.Contains(replies[i].Text, "Labels for 2026-03-02 – 2026-03-08 arrived: accuracy 0.86") {
		t.Fatalf("thread %v, want a reply saying the labels confirmed the drift", texts(replies))
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs[0].Revisions) != revisions {
		t.Errorf("the drift message was edited by the labels")
	}
	recs, err := e.st.AlertRecords(context.Background(), "credit-approval/key-feature-drift/feature=income")
	if err != nil {
		t.Fatal(err)
	}
	actions := []string{}
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	if !slices.Contains(actions, audit.LabelsConfirmed) || actions[len(actions)-1] != audit.Notified {
		t.Errorf("trail %v, want the verdict and its reply recorded", actions)
	}
	// The accuracy alert itself pages (it is a new alert); the verdict adds no page of its own.
	if got := e.pd.Calls() - pages; got != 1 {
		t.Errorf("%d PagerDuty calls after the labels, want 1 (the accuracy alert's own)", got)
	}
}
