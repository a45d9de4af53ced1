package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The whole system as a user runs it: the built binary, PutEvents from the
// AWS SDK and as raw HTTP, Slack and PagerDuty at loopback fakes speaking
// their wire formats, the escalator on the real clock, an acknowledgement
// through a signed Slack action, Prometheus metrics, and after SIGTERM the
// audit trail in the saved state, read by the built binary's audit.
func TestServeRoutesEscalatesAndIsAcknowledgedThenSavesTheAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs it for several ack windows")
	}
	t.Parallel()
	const ackWithin = 2 * time.Second
	w := newServeWorld(t, ackWithin)
	p := w.start(t)

	// The SDK, as a monitor would send it: accuracy four points under the
	// baseline fires credit-approval/accuracy-loss (critical, credit-ds,
	// Slack and PagerDuty).
	now := time.Now().UTC().Format(time.RFC3339)
	out, err := w.sdk(p).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		Source: aws.String("com.example.monitoring"), DetailType: aws.String("ML Model Signal"),
		Detail: aws.String(`{"model":"credit-approval","kind":"quality","metric":"accuracy","value":0.86,"baseline":0.90,"observed_at":"` + now + `"}`),
	}}})
	if err != nil || out.FailedEntryCount != 0 || len(out.Entries) != 1 || aws.ToString(out.Entries[0].EventId) == "" {
		t.Fatalf("PutEvents through the SDK: %+v, %v; want one EventId", out, err)
	}
	sdkEvent := aws.ToString(out.Entries[0].EventId)
	// Raw HTTP, as `aws events put-events --no-sign-request` sends it: a
	// schema break fires credit-approval/schema-break (critical,
	// data-platform, whose chain is head-of-ml).
	status, raw := p.putEvents(t, "AWSEvents.PutEvents",
		`{"Entries":[{"Source":"com.example.monitoring","DetailType":"ML Model Signal",`+
			`"Detail":"{\"model\":\"credit-approval\",\"kind\":\"schema\",\"metric\":\"missing_columns\",\"value\":2,\"observed_at\":\"`+now+`\"}"}]}`)
	var rawOut putEventsAnswer
	if err := json.Unmarshal(raw, &rawOut); status != http.StatusOK || err != nil || rawOut.FailedEntryCount != 0 || len(rawOut.Entries) != 1 || rawOut.Entries[0].EventId == "" {
		t.Fatalf("raw PutEvents answered %d %s; want 200 and one EventId", status, raw)
	}

	const accuracy, schema = "credit-approval/accuracy-loss", "credit-approval/schema-break"
	paths := map[string][]string{accuracy: {"credit-ds", "ml-platform"}, schema: {"data-platform", "head-of-ml"}}
	for _, alert := range []string{accuracy, schema} {
		first := paths[alert][0]
		w.waitFor(t, 5*time.Second, alert+" posted to "+first+"'s Slack channel and paged with its routing key", func() bool {
			return w.posted(first, alert) != nil && w.paged(first, alert)
		})
	}
	// Nobody acknowledged within ack_within: each goes to the next owner
	// on its owner's escalation list, in Slack and on PagerDuty.
	for _, alert := range []string{accuracy, schema} {
		next := paths[alert][1]
		w.waitFor(t, ackWithin+5*time.Second, alert+" escalated to "+next, func() bool {
			return w.posted(next, alert) != nil && w.paged(next, alert)
		})
	}
	// A member of credit-ds presses Acknowledge on the escalated message;
	// a member of data-platform on theirs.
	p.acknowledge(t, w, w.posted("ml-platform", accuracy), "U012ABCDE")
	p.acknowledge(t, w, w.posted("head-of-ml", schema), "U01DPE0001")
	posts, triggers := w.slackPosts(), w.triggers()
	// Another ack window and several ticks: nothing escalates any more
	// (accuracy-loss would have gone on to head-of-ml).
	deadline := time.Now().Add(ackWithin + 5*serveTick)
	for time.Now().Before(deadline) {
		if got := w.posted("head-of-ml", accuracy); got != nil {
			t.Fatalf("%s escalated to head-of-ml after it was acknowledged: %s", accuracy, got.Text)
		}
		time.Sleep(serveTick / 2)
	}
	if got := w.slackPosts(); got != posts {
		t.Errorf("Slack messages posted after the acknowledgements: %d, then %d; want none more", posts, got)
	}
	if got := w.triggers(); got != triggers {
		t.Errorf("PagerDuty triggers: %d when acknowledged, then %d; want none more", triggers, got)
	}

	metrics := p.get(t, "/metrics")
	for _, want := range []string{"stakeout_events_received_total 2", "stakeout_alerts_opened_total 2", "stakeout_alerts_escalated_total 2"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("GET /metrics lacks %q:\n%s", want, metrics)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("stakeout serve exited %d after SIGTERM, want 0:\n%s", code, p.logs())
	}

	for _, c := range []struct{ alert, event, by string }{
		{accuracy, sdkEvent, "slack:U012ABCDE"}, {schema, rawOut.Entries[0].EventId, "slack:U01DPE0001"},
	} {
		recs := w.audit(t, c.alert)
		if len(recs) == 0 || recs[0].Action != audit.Opened || recs[0].EventID != c.event {
			t.Errorf("audit of %s starts %+v, want it opened by event %s", c.alert, recs, c.event)
		}
		esc := slices.IndexFunc(recs, func(r audit.Record) bool { return r.Action == audit.Escalated })
		ack := slices.IndexFunc(recs, func(r audit.Record) bool { return r.Action == audit.Acknowledged })
		if esc < 0 || ack < esc || recs[ack].Actor != c.by {
			t.Errorf("audit of %s: %+v; want it escalated, then acknowledged by %s", c.alert, recs, c.by)
		}
	}
}

// Bad input over HTTP, against the running binary: each call is answered
// as EventBridge answers it (the call refused with its __type, or entries
// failed with their ErrorCode beside the EventIds of the others), the
// process stays healthy, and every event it gave an EventId that a rule
// matched is in the saved state — applied to its series or quarantined
// with the reason — even those answered while it was shutting down.
func TestServeAnswersBadPutEventsAsEventBridgeAndKeepsWhatItAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs it")
	}
	t.Parallel()
	w := newServeWorld(t, 0)
	p := w.start(t)
	now := time.Now().UTC().Format(time.RFC3339)
	entry := func(detailType, detail string) string {
		b, err := json.Marshal(map[string]string{"Source": "com.example.monitoring", "DetailType": detailType, "Detail": detail})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// A drift reading over 0.25 on a secondary feature moves its streak
	// (feature-drift fires on the third): applied, it is written.
	drift := func(feature string) string {
		return fmt.Sprintf(`{"model":"credit-approval","kind":"drift","metric":"psi","feature":%q,"value":0.3,"observed_at":%q}`, feature, now)
	}
	entries := func(e ...string) string { return `{"Entries":[` + strings.Join(e, ",") + `]}` }
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = entry("ML Model Signal", drift(fmt.Sprint("eleven-", i)))
	}
	for _, c := range []struct {
		name, target, body string
		status             int
		typ, message       string
	}{
		{"an entry over 256 KB", "AWSEvents.PutEvents", entries(entry("ML Model Signal", `{"pad":"`+strings.Repeat("x", 256*1024)+`"}`)),
			400, "ValidationException", "Total size of the entries in the request is over the limit."},
		{"11 entries", "AWSEvents.PutEvents", entries(eleven...),
			400, "ValidationException", "Member must have length less than or equal to 10"},
		{"malformed JSON", "AWSEvents.PutEvents", `{"Entries":[{"Source":"com.example.monitoring",`,
			400, "SerializationException", "not a PutEvents request in JSON"},
		{"an unknown X-Amz-Target", "AWSEvents.PutRule", entries(entry("ML Model Signal", drift("unknown-target"))),
			400, "UnknownOperationException", `"AWSEvents.PutRule"`},
	} {
		status, body := p.putEvents(t, c.target, c.body)
		var got putEventsAnswer
		if err := json.Unmarshal(body, &got); err != nil || status != c.status || got.Type != c.typ || !strings.Contains(got.Message, c.message) {
			t.Errorf("%s: answered %d %.300s; want %d, __type %s, a message containing %q", c.name, status, body, c.status, c.typ, c.message)
		}
		if h := p.get(t, "/healthz"); h != "ok\n" {
			t.Errorf("after %s, /healthz said %q", c.name, h)
		}
	}

	// One call, entries failed one by one as EventBridge fails them, and
	// accepted beside them: a detail-type no rule matches (accepted,
	// delivered nowhere), a model stakeout does not know (quarantined).
	status, body := p.putEvents(t, "AWSEvents.PutEvents", entries(
		entry("ML Model Signal", drift("mixed-batch")),
		entry("Model Training Finished", drift("no-rule-matches")),
		entry("ML Model Signal", "not json"),
		`{"DetailType":"ML Model Signal","Detail":"{}"}`,
		entry("ML Model Signal", `{"model":"no-such-model","kind":"drift","metric":"psi","value":0.1,"observed_at":"`+now+`"}`),
	))
	var mixed putEventsAnswer
	if err := json.Unmarshal(body, &mixed); err != nil || status != http.StatusOK {
		t.Fatalf("a batch with bad entries answered %d %s; want 200 and each entry's result", status, body)
	}
	var results []string
	for _, e := range mixed.Entries {
		results = append(results, cmp.Or(e.ErrorCode, "id"))
	}
	if want := []string{"id", "id", "MalformedDetail", "InvalidArgument", "id"}; mixed.FailedEntryCount != 2 || !slices.Equal(results, want) {
		t.Fatalf("a batch with bad entries answered %s; want %v and FailedEntryCount 2", body, want)
	}
	if h := p.get(t, "/healthz"); h != "ok\n" {
		t.Errorf("after a batch with bad entries, /healthz said %q", h)
	}

	accepted := map[string]signal.SeriesKey{mixed.Entries[0].EventId: driftSeries("mixed-batch")}
	accepted = p.loadUntilStopped(t, accepted, entry, drift)
	unmatched, quarantined := mixed.Entries[1].EventId, mixed.Entries[4].EventId

	st, err := memstore.Open(w.state, time.Now)
	if err != nil {
		t.Fatalf("the saved state: %v", err)
	}
	ctx := context.Background()
	for id, key := range accepted {
		s, err := st.GetSeries(ctx, key)
		if err != nil || s == nil || !slices.Contains(s.Recent, id) {
			t.Errorf("event %s was given an EventId but is not among the events applied to %v in the saved state (%v)", id, key, err)
		}
	}
	if s, err := st.GetSeries(ctx, driftSeries("no-rule-matches")); err != nil || s.Version != 0 {
		t.Errorf("the event no rule matches reached the router: its series is %+v", s)
	}
	q, err := st.Quarantined(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(q, func(q state.Quarantined) bool { return q.ID == quarantined }); i < 0 || !strings.Contains(q[i].Reason, "no-such-model") {
		t.Errorf("the event of an unknown model (%s) is not quarantined with the reason in the saved state: %+v", quarantined, q)
	}
	if !p.logged("matched no rule", unmatched) {
		t.Errorf("the event no rule matches (%s) is not logged as such", unmatched)
	}
}

// driftSeries is the series of drift(feature).
func driftSeries(feature string) signal.SeriesKey {
	return signal.SeriesKey{Model: "credit-approval", Kind: "drift", Metric: "psi", Feature: feature}
}

// loadUntilStopped sends batches of ten drift readings, each of its own
// series, from several clients at once, and sends SIGTERM while they
// still are: it returns accepted with every event given an EventId added,
// after the process exited 0.
func (p *served) loadUntilStopped(t *testing.T, accepted map[string]signal.SeriesKey, entry func(detailType, detail string) string,
	drift func(feature string) string) map[string]signal.SeriesKey {
	t.Helper()
	const clients, batches = 4, 50
	var (
		mu       sync.Mutex
		answered = make(chan struct{}, clients*batches)
		senders  sync.WaitGroup
	)
	for c := range clients {
		senders.Go(func() {
			for b := range batches {
				keys := make([]signal.SeriesKey, 10)
				parts := make([]string, 10)
				for i := range parts {
					feature := fmt.Sprintf("load-%d-%d-%d", c, b, i)
					keys[i], parts[i] = driftSeries(feature), entry("ML Model Signal", drift(feature))
				}
				ids, ok := p.tryPut(`{"Entries":[` + strings.Join(parts, ",") + `]}`)
				if !ok {
					return // refused: the server is gone
				}
				mu.Lock()
				for i, id := range ids {
					if id != "" {
						accepted[id] = keys[i]
					}
				}
				mu.Unlock()
				answered <- struct{}{}
			}
		})
	}
	for range clients * 2 {
		<-answered
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("stakeout serve exited %d after SIGTERM, want 0:\n%s", code, p.logs())
	}
	senders.Wait()
	return accepted
}

// tryPut sends one PutEvents call and returns each entry's EventId (""
// for a failed entry); ok is false when the call got no answer.
func (p *served) tryPut(body string) (ids []string, ok bool) {
	req, err := http.NewRequest(http.MethodPost, p.url+"/", strings.NewReader(body))
	if err != nil {
		return nil, false
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var out putEventsAnswer
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return nil, false
	}
	for _, e := range out.Entries {
		ids = append(ids, e.EventId)
	}
	return ids, true
}

// logged reports whether one line of the process's log holds every part.
func (p *served) logged(parts ...string) bool {
	for line := range strings.Lines(p.logs()) {
		if !slices.ContainsFunc(parts, func(s string) bool { return !strings.Contains(line, s) }) {
			return true
		}
	}
	return false
}

// serveTick is the escalator's period in the tests: short, so that an
// ack window of seconds is seen to pass.
const serveTick = 200 * time.Millisecond

// serveWorld is what a `stakeout serve` runs against: its configuration,
// the Slack and PagerDuty fakes, and the environment naming them.
type serveWorld struct {
	bin, dir, state string
	cfg             *config.Config
	slack           *notifytest.Slack
	pd              *notifytest.PagerDuty
	signing         []byte
	env             []string
}

// newServeWorld builds the CLI and lays out the repository's rules and
// owners, with the ack window of critical alerts on critical-stakes models
// (credit-approval's) shortened to ackWithin unless it is 0.
func newServeWorld(t *testing.T, ackWithin time.Duration) *serveWorld {
	t.Helper()
	w := &serveWorld{bin: runtimeapitest.Build(t, "."), dir: t.TempDir()}
	w.state = filepath.Join(t.TempDir(), "state.json")
	for _, sub := range []string{"rules", "owners"} {
		if err := os.CopyFS(filepath.Join(w.dir, sub), os.DirFS(filepath.Join("..", "..", sub))); err != nil {
			t.Fatal(err)
		}
	}
	if ackWithin > 0 {
		shortenAck(t, filepath.Join(w.dir, "rules", "stakes.yaml"), ackWithin)
	}
	cfg, err := config.Load(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg

	var channels, keys []string
	// Not real secrets: a signing secret no Slack app has.
	const signingRef, signing = "secret:stakeout/slack/signing-secret", "serve-test-signing-secret-not-real"
	w.signing = []byte(signing)
	w.env = []string{
		"STAKEOUT_AUDIT_KEY=" + testAuditKey,
		"SLACK_SIGNING_SECRET=" + signingRef, secret.EnvVar(signingRef) + "=" + signing,
	}
	for id, o := range cfg.Owners {
		channels = append(channels, o.Slack.Channel)
		if ref := o.PagerDuty.RoutingKey; ref != "" {
			keys = append(keys, routingKey(id))
			w.env = append(w.env, secret.EnvVar(ref)+"="+routingKey(id))
		}
	}
	w.slack = notifytest.NewSlack(t, notifytest.WithChannels(channels...))
	w.pd = notifytest.NewPagerDuty(t, notifytest.WithRoutingKeys(keys...))
	w.env = append(w.env, "SLACK_BOT_TOKEN="+w.slack.Token(), "STAKEOUT_SLACK_API_URL="+w.slack.URL(),
		"STAKEOUT_PAGERDUTY_EVENTS_URL="+w.pd.URL())
	return w
}

// shortenAck sets the ack_within of the critical/critical cell of the
// stakes file to d.
func shortenAck(t *testing.T, stakes string, d time.Duration) {
	t.Helper()
	b := mustRead(t, stakes)
	const cell = "critical: {notify: [slack, pagerduty], ack_within: 15m}"
	if bytes.Count(b, []byte(cell)) != 1 {
		t.Fatalf("rules/stakes.yaml has no single %q to shorten", cell)
	}
	b = bytes.Replace(b, []byte(cell), []byte("critical: {notify: [slack, pagerduty], ack_within: "+d.String()+"}"), 1)
	if err := os.WriteFile(stakes, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// routingKey is an owner's routing key at the PagerDuty fake: 32
// alphanumeric characters as PagerDuty's are, plainly not a real one.
func routingKey(owner string) string {
	k := strings.ReplaceAll(owner, "-", "")
	return k + strings.Repeat("0", 32-len(k))
}

// posted returns the message posted to owner's Slack channel about alert
// (the block of its buttons is named for its group, "<alert>@<opened>"),
// or nil.
func (w *serveWorld) posted(owner, alert string) *notifytest.Message {
	for _, m := range w.slack.Messages(w.cfg.Owners[owner].Slack.Channel) {
		if bytes.Contains(m.Blocks, []byte(`"`+slacknotify.BlockID(alert+"@"))) {
			return &m
		}
	}
	return nil
}

// paged reports whether owner's routing key triggered an incident for
// alert.
func (w *serveWorld) paged(owner, alert string) bool {
	for _, e := range w.pd.Events() {
		if e.EventAction == "trigger" && e.RoutingKey == routingKey(owner) && strings.Contains(string(e.Body), alert) {
			return true
		}
	}
	return false
}

// triggers counts the PagerDuty events that triggered an incident.
func (w *serveWorld) triggers() int {
	n := 0
	for _, e := range w.pd.Events() {
		if e.EventAction == "trigger" {
			n++
		}
	}
	return n
}

// slackPosts counts the messages posted to Slack.
func (w *serveWorld) slackPosts() int {
	return w.slack.Calls("chat.postMessage")
}

// waitFor polls cond until it holds or timeout passes.
func (w *serveWorld) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s\nSlack rejections: %v\nPagerDuty violations: %v", timeout, what, w.slack.Rejections(), w.pd.Violations())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sdk is the AWS SDK's EventBridge client pointed at p, with placeholder
// credentials.
func (w *serveWorld) sdk(p *served) *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(p.url),
		Credentials:      credentials.NewStaticCredentialsProvider("placeholder", "placeholder", ""),
		RetryMaxAttempts: 1,
	})
}

// audit runs the built binary's audit on the saved state: it verifies
// alert's chain under the test's key (every record vouched for by a MAC),
// and returns its records.
func (w *serveWorld) audit(t *testing.T, alert string) []audit.Record {
	t.Helper()
	verified := w.run(t, "audit", "--verify", "--require-keyed", "--state", w.state, alert)
	if !strings.Contains(verified, "hash chain intact") || !strings.Contains(verified, "vouched for by MACs") {
		t.Errorf("stakeout audit --verify %s printed %q, want the chain intact and vouched for", alert, verified)
	}
	var recs []audit.Record
	sc := bufio.NewScanner(strings.NewReader(w.run(t, "audit", "--json", "--state", w.state, alert)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("stakeout audit --json printed %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// run runs the built binary with the audit key alone in its environment
// and returns its standard output, failing the test unless it exits 0.
func (w *serveWorld) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(w.bin, args...)
	cmd.Env = []string{"STAKEOUT_AUDIT_KEY=" + testAuditKey}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stakeout %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// served is a running `stakeout serve`.
type served struct {
	cmd    *exec.Cmd
	url    string
	stderr *runtimeapitest.LogBuffer
	exited chan struct{}
	code   int
}

// start runs `stakeout serve` on a port of its own, in an environment of
// w's variables alone, and waits until it listens.
func (w *serveWorld) start(t *testing.T) *served {
	t.Helper()
	cmd := exec.Command(w.bin, "serve", "--dir", w.dir, "--addr", "127.0.0.1:0", "--state", w.state,
		"--tick", serveTick.String(), "--drain", "100ms")
	cmd.Env = w.env
	p := &served{cmd: cmd, stderr: &runtimeapitest.LogBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				listening <- m[1]
			}
		}
		p.code = waitStatus(cmd.Wait())
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("stakeout serve's log:\n%s", p.logs())
		}
	})
	select {
	case p.url = <-listening:
	case <-p.exited:
		t.Fatalf("stakeout serve exited %d before listening:\n%s", p.code, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("stakeout serve did not listen within 30s:\n%s", p.logs())
	}
	return p
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

func waitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// stop sends SIGTERM and returns the exit code.
func (p *served) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		return p.code
	case <-time.After(30 * time.Second):
		t.Fatalf("stakeout serve still running 30s after SIGTERM:\n%s", p.logs())
		return -1
	}
}

func (p *served) logs() string { return p.stderr.String() }

// putEventsAnswer is PutEvents' answer, or an AWS JSON error's.
type putEventsAnswer struct {
	Type             string `json:"__type"`
	Message          string `json:"message"`
	FailedEntryCount int
	Entries          []struct{ EventId, ErrorCode, ErrorMessage string }
}

// putEvents posts body to p as the AWS CLI posts PutEvents (AWS JSON 1.1,
// unsigned), with the X-Amz-Target given.
func (p *served) putEvents(t *testing.T, target, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	return p.do(t, req)
}

func (p *served) do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, b
}

// get returns the body of GET path, failing unless it is 200.
func (p *served) get(t *testing.T, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, b := p.do(t, req)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	return string(b)
}

// acknowledge presses the Acknowledge button of m as user, posting the
// block_actions interaction Slack posts, signed with w's signing secret,
// and fails unless the app took it (200 and no ephemeral refusal).
func (p *served) acknowledge(t *testing.T, w *serveWorld, m *notifytest.Message, user string) {
	t.Helper()
	if m == nil {
		t.Fatal("no message to acknowledge")
	}
	button, blockID := ackButton(t, m.Blocks)
	responseID := "ack-" + m.Channel + "-" + m.TS
	act := map[string]any{"type": "button", "action_id": slacknotify.ActionAcknowledge, "block_id": blockID, "value": button,
		"text": map[string]any{"type": "plain_text", "text": "Acknowledge"}, "action_ts": fmt.Sprintf("%d.000100", time.Now().Unix())}
	ic := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": "T0NOTIFYTEST"},
		"api_app_id":   "A0NOTIFYAPP",
		"container":    map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": false},
		"trigger_id":   "1234." + m.TS + ".serve",
		"team":         map[string]any{"id": "T0NOTIFYTEST", "domain": "notifytest"},
		"channel":      map[string]any{"id": m.Channel},
		"response_url": w.slack.ResponseURL(responseID),
		"actions":      []any{act},
	}
	payload, err := json.Marshal(ic)
	if err != nil {
		t.Fatal(err)
	}
	body := url.Values{"payload": {string(payload)}}.Encode()
	req, err := http.NewRequest(http.MethodPost, p.url+"/slack/actions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(signature.SlackTimestampHeader, strconv.FormatInt(now, 10))
	req.Header.Set(signature.SlackSignatureHeader, signature.SignSlack(w.signing, now, []byte(body)))
	if status, b := p.do(t, req); status != http.StatusOK {
		t.Fatalf("Acknowledge on %s %s: %d %s", m.Channel, m.TS, status, b)
	}
	if r := w.slack.Responses(responseID); len(r) != 0 {
		t.Fatalf("Acknowledge on %s %s was refused: %+v", m.Channel, m.TS, r)
	}
}

// ackButton finds the Acknowledge button in a message's blocks and
// returns its value and its block's id.
func ackButton(t *testing.T, blocks json.RawMessage) (value, blockID string) {
	t.Helper()
	var bs []struct {
		BlockID  string `json:"block_id"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatalf("message blocks: %v", err)
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.ActionID == slacknotify.ActionAcknowledge {
				return e.Value, b.BlockID
			}
		}
	}
	t.Fatalf("no Acknowledge button in %s", blocks)
	return "", ""
}
