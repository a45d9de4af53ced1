package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

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

// fast retries quickly so fault tests take milliseconds (a Retry-After
// is still honoured in full).
var fast = notify.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Margin: 50 * time.Millisecond, Tries: 4, TryTimeout: 2 * time.Second}

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
}

func onDynamo(o *envOptions) { o.dynamo = true }

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	o := envOptions{slackOpts: []notifytest.SlackOption{notifytest.WithChannels(channels...)}}
	for _, f := range opts {
		f(&o)
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
	e.sender = &deliver.Sender{Config: cfg, Store: e.st, Now: clock,
		Slack: slacknotify.NewClient(secret.New(e.slack.Token()), e.slack.URL(), fast),
		Pager: pdnotify.New(secrets, e.pd.URL(), fast)}
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
			updated := e.observe(bureauDrift)
			if rep := e.deliver(updated); rep.Sent != 1 {
				t.Fatalf("report %+v, want 1 sent", rep)
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
				"bureau_score": {"slack: updated notification .*#2: updated message 1700000000.000100 in C0CREDITDS, thread reply ", "slack: resolved notification .*#3: updated message", "pagerduty: resolved notification .*#3: resolved stakeout/"},
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
				p := fast
				p.TryTimeout = 200 * time.Millisecond
				e.sender.Slack = slacknotify.NewClient(secret.New(e.slack.Token()), e.slack.URL(), p)
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

// TestTransientFailureWaitsForALaterRun: with Slack down for longer than
// the budget, the notification stays in the outbox — claimed until its
// next attempt — and a later drain delivers it once.
func TestTransientFailureWaitsForALaterRun(t *testing.T) {
	e := newEnv(t)
	// As many failures as the policy has tries: this run gives up.
	down := make([]notifytest.Fault, fast.Tries)
	for i := range down {
		down[i] = notifytest.Fault{Status: 503}
	}
	e.slack.Fail("chat.postMessage", down...)
	ids := e.observe(accuracyDrop)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := e.sender.Deliver(ctx, ids)
	if err != nil || rep.Waiting != 1 || rep.Sent != 0 {
		t.Fatalf("Deliver = %+v, %v; want 1 waiting", rep, err)
	}
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	if !n.Sent.IsZero() || !n.ClaimedUntil.Equal(t0.Add(deliver.DefaultRetryIn)) || n.Claim != "" {
		t.Errorf("after giving up: sent %v, claimed until %v (claim %q); want unsent, retry at %v", n.Sent, n.ClaimedUntil, n.Claim, t0.Add(deliver.DefaultRetryIn))
	}
	if rep, _ := e.sender.Drain(context.Background(), 10); rep != (deliver.Report{}) {
		t.Errorf("a drain before the retry time = %+v, want nothing due", rep)
	}
	e.advance(deliver.DefaultRetryIn)
	if rep, err := e.sender.Drain(context.Background(), 10); err != nil || rep.Sent != 1 {
		t.Fatalf("Drain after recovery = %+v, %v; want 1 sent", rep, err)
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 {
		t.Errorf("%d messages, want 1", len(msgs))
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

// TestPermanentFailuresReachThePlatformOwner: a channel the bot cannot
// post to, and a routing key PagerDuty refuses, are recorded on the
// alert's trail and told to the model's platform owner, once.
func TestPermanentFailuresReachThePlatformOwner(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []option
		channel string
		reason  string
	}{
		{"slack channel_not_found", []option{func(o *envOptions) {
			o.slackOpts = []notifytest.SlackOption{notifytest.WithChannels("C0MLPLATFM")}
		}}, "slack", "channel_not_found"},
		{"slack not_in_channel", []option{func(o *envOptions) {
			o.slackOpts = []notifytest.SlackOption{notifytest.WithChannels("C0MLPLATFM"), notifytest.WithNotMember("C0CREDITDS")}
		}}, "slack", "not_in_channel"},
		{"pagerduty invalid routing key", []option{func(o *envOptions) {
			o.routingKeys = map[string]string{secret.EnvVar("secret:stakeout/pagerduty/credit-ds"): "notifytestUNKNOWN000000000000key"}
		}}, "pagerduty", "http 400"},
		{"pagerduty routing key secret missing", []option{func(o *envOptions) {
		}}, "pagerduty", "routing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			e.refusals = map[string]bool{tc.reason: true}
			if tc.name == "pagerduty routing key secret missing" {
				e.sender.Pager = pdnotify.New(secret.NewEnv(func(string) (string, bool) { return "", false }), e.pd.URL(), fast)
			}
			ids := e.observe(accuracyDrop)
			rep := e.deliver(ids)
			if rep.Sent != 1 || rep.Failed != 1 {
				t.Fatalf("report %+v, want 1 sent with 1 failed channel", rep)
			}
			told := e.slack.Messages(platformChanel)
			if len(told) != 1 || !strings.Contains(told[0].Text, "could not deliver") || !strings.Contains(told[0].Text, tc.reason) {
				t.Fatalf("platform channel got %v, want one failure notice naming %q", texts(told), tc.reason)
			}
			recs, _ := e.st.AlertRecords(context.Background(), "credit-approval/accuracy-loss")
			var failed []audit.Record
			for _, r := range recs {
				if r.Action == audit.DeliveryFailed {
					failed = append(failed, r)
				}
			}
			if len(failed) != 1 || failed[0].Notify[0] != tc.channel || !strings.Contains(failed[0].Detail, "told ml-platform") {
				t.Errorf("delivery-failed records: %+v", failed)
			}
			// Not retried: a drain finds nothing.
			e.advance(time.Hour)
			if rep, _ := e.sender.Drain(context.Background(), 10); rep.Sent+rep.Waiting != 0 {
				t.Errorf("drain after a permanent failure = %+v, want nothing", rep)
			}
			if got := e.slack.Messages(platformChanel); len(got) != 1 {
				t.Errorf("platform channel has %d messages, want 1", len(got))
			}
		})
	}
}

// TestConcurrentSendersDeliverOnce: many senders draining one outbox at
// once, each notification goes out once, in order within its group.
func TestConcurrentSendersDeliverOnce(t *testing.T) {
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

// TestAStuckChannelIsGivenUpOn: PagerDuty failing for hours must not hold
// the group back forever: after GiveUpAfter the failure is reported to the
// platform owner, and the group's later notifications go out.
func TestAStuckChannelIsGivenUpOn(t *testing.T) {
	e := newEnv(t)
	down := make([]notifytest.Fault, 200)
	for i := range down {
		down[i] = notifytest.Fault{Status: 503}
	}
	e.pd.Fail(down...)
	opened := e.observe(accuracyDrop)
	e.deliver(opened)
	e.advance(time.Hour)
	resolved := e.observe(accuracyOK)
	for range 12 { // every 15 minutes for 3 hours
		e.advance(15 * time.Minute)
		if _, err := e.sender.Drain(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range append(opened, resolved...) {
		if n, _ := e.st.GetNotice(context.Background(), id); n.Sent.IsZero() {
			t.Errorf("%s still unsent after 3 hours (done: %v)", id, n.Done)
		}
	}
	told := e.slack.Messages(platformChanel)
	if len(told) != 1 || !strings.Contains(told[0].Text, "gave up after 2h") {
		t.Errorf("platform channel got %v, want one notice that PagerDuty was given up on", texts(told))
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "Resolved") {
		t.Errorf("the group's message was not resolved in place (%d messages)", len(msgs))
	}
}

// TestARefusedTokenIsNeverGivenUpOn: a revoked bot token is every
// notification's problem: they wait for the fix, however long, and are
// not marked failed.
func TestARefusedTokenIsNeverGivenUpOn(t *testing.T) {
	e := newEnv(t)
	e.refusals = map[string]bool{"invalid_auth": true}
	good := e.sender.Slack
	e.sender.Slack = slacknotify.NewClient(secret.New("xoxb-test-revoked"), e.slack.URL(), fast)
	ids := e.observe(accuracyDrop)
	for range 8 {
		if rep, err := e.sender.Deliver(context.Background(), ids); err != nil || rep.Sent != 0 {
			t.Fatalf("Deliver with a refused token = %+v, %v", rep, err)
		}
		e.advance(time.Hour)
	}
	n, _ := e.st.GetNotice(context.Background(), ids[0])
	if !n.Sent.IsZero() || n.Done["slack"] != "" {
		t.Fatalf("after 8 hours of a refused token: sent %v, done %v; want it still waiting", n.Sent, n.Done)
	}
	e.sender.Slack = good // the token is fixed
	if rep, err := e.sender.Drain(context.Background(), 10); err != nil || rep.Sent != 1 {
		t.Fatalf("Drain after the fix = %+v, %v; want 1 sent", rep, err)
	}
	if msgs := e.slack.Messages(creditChannel); len(msgs) != 1 {
		t.Errorf("%d messages, want 1", len(msgs))
	}
}
