package slackapp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The example signing secret of Slack's "Verifying requests from Slack"
// guide: a test value, not a credential.
var signingSecret = []byte("8f742231b10e8888abcd99yyyzzz85a5")

// t0 is five minutes after the scenario's third event (2026-03-09T06:00Z,
// accuracy 0.858 against 0.91) opened credit-approval/accuracy-loss.
var t0 = time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC)

// Slack users of the example owners (owners/*.yaml).
const (
	credit1   = "U012ABCDE"  // credit-ds: the group's owner and credit-approval's model owner
	credit2   = "U034FGHIJ"  // credit-ds
	platform1 = "U01MLP0001" // ml-platform: credit-ds's first escalation step
	headOfML  = "U01HDML001" // head-of-ml: the end of credit-ds's chain
	dataEng   = "U01DPE0001" // data-platform: owns credit-approval's data role, not this alert
	lending   = "U01LPM0001" // lending-product: credit-approval's product owner, not this alert
	outsider  = "U0NOBODY01" // in no owner file
)

// env is one test's world: the repository's rules and owners, the embedded
// store holding the open credit-approval/accuracy-loss group (made by the
// real router), a fake Slack for response_urls, and the app on a fixed
// clock.
type env struct {
	t     *testing.T
	cfg   *config.Config
	st    testStore
	slack *notifytest.Slack
	app   *slackapp.App
	group *state.Group // as the router opened it
	alert string       // its (only) alert

	mu        sync.Mutex
	now       time.Time
	delivered []string
	seq       int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(e *env) testStore { return memstore.New(e.clock) }, nil)
}

// testStore is what the tests read and write: a store the functions run
// on (the embedded one, or DynamoDB Local's), with the outbox and trail.
type testStore interface {
	setup.Backend
	GetNotice(ctx context.Context, id string) (*state.Notification, error)
	AlertRecords(ctx context.Context, id string) ([]audit.Record, error)
}

// newEnvWith is newEnv on the store newStore makes, whose model version
// timeline holds versions (recorded before the scenario, and read by the
// router when any are given).
func newEnvWith(t *testing.T, newStore func(e *env) testStore, versions []signal.VersionChange) *env {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, now: t0}
	e.st = newStore(e)
	e.slack = notifytest.NewSlack(t)
	e.app = &slackapp.App{Config: cfg, Store: e.st, Now: e.clock,
		SigningSecret: func(context.Context) ([]byte, error) { return signingSecret, nil },
		Deliver: func(_ context.Context, ids []string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.delivered = append(e.delivered, ids...)
			return nil
		}}
	p := &pipeline.Processor{Config: cfg, Store: e.st, Now: e.clock}
	for _, c := range versions {
		if _, err := e.st.RecordVersionChange(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		p.Timelines = e.st
	}
	for _, raw := range scenario(t, "credit-accuracy-collapse.jsonl")[:3] {
		if _, err := p.Process(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	e.group = e.getGroup()
	if e.group == nil || e.group.Over() || len(e.group.Members) != 1 {
		t.Fatalf("the scenario did not open one credit-approval/accuracy-loss alert: %+v", e.group)
	}
	if e.group.Owner != "credit-ds" || e.group.Acked() || e.group.EscalateAt.IsZero() {
		t.Fatalf("group opened as %+v, want with credit-ds, unacknowledged, escalating", e.group.Lifecycle)
	}
	e.alert = e.group.Members[0]
	return e
}

func scenario(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open("../../testdata/scenarios/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, []byte(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) getGroup() *state.Group {
	e.t.Helper()
	g, err := e.st.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) trail() []audit.Record {
	e.t.Helper()
	recs, err := e.st.AlertRecords(context.Background(), e.alert)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func (e *env) deliveries() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.delivered)
}

// snapshot is what must not move when a request is refused.
type snapshot struct {
	group     *state.Group
	trail     []audit.Record
	delivered []string
}

func (e *env) snapshot() snapshot {
	return snapshot{group: e.getGroup(), trail: e.trail(), delivered: e.deliveries()}
}

// unchanged fails the test if anything moved since s.
func (e *env) unchanged(s snapshot) {
	e.t.Helper()
	now := e.snapshot()
	if now.group.Version != s.group.Version || !reflect.DeepEqual(now.group, s.group) {
		e.t.Errorf("the group changed:\nbefore %+v\nafter  %+v", s.group, now.group)
	}
	if !reflect.DeepEqual(now.trail, s.trail) {
		e.t.Errorf("the audit trail changed: %d records before, %d after; new: %+v", len(s.trail), len(now.trail), now.trail[min(len(s.trail), len(now.trail)):])
	}
	if !slices.Equal(now.delivered, s.delivered) {
		e.t.Errorf("notifications were delivered: before %v, after %v", s.delivered, now.delivered)
	}
}

// newRecords returns the audit records written since s.
func (e *env) newRecords(s snapshot) []audit.Record {
	e.t.Helper()
	recs := e.trail()
	if len(recs) < len(s.trail) {
		e.t.Fatalf("the audit trail shrank from %d to %d records", len(s.trail), len(recs))
	}
	return recs[len(s.trail):]
}

func actions(recs []audit.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

// notice returns the one notification delivered since s.
func (e *env) notice(s snapshot) *state.Notification {
	e.t.Helper()
	ids := e.deliveries()[len(s.delivered):]
	if len(ids) != 1 {
		e.t.Fatalf("delivered %v since the snapshot, want one notification", ids)
	}
	n, err := e.st.GetNotice(context.Background(), ids[0])
	if err != nil || n == nil {
		e.t.Fatalf("notification %s not in the outbox: %v", ids[0], err)
	}
	return n
}

// sign sets Slack's headers on r for body at ts with secret.
func sign(r *http.Request, secret []byte, ts time.Time, body string) {
	r.Header.Set(signature.SlackTimestampHeader, strconv.FormatInt(ts.Unix(), 10))
	r.Header.Set(signature.SlackSignatureHeader, signature.SignSlack(secret, ts.Unix(), []byte(body)))
}

// serve sends one request to the app.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	return w
}

func newRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// press is a user's click on an alert message, as Slack posts it.
type press struct {
	user, name string
	action     string // slacknotify.ActionAcknowledge, ActionResolve or ActionMore
	option     string // for ActionMore: the menu option's value
	group      string // default: the env's group
	// anonymous: no trigger_id (Slack sends one with every click; a
	// payload without is deduplicated by action_ts and user).
	anonymous bool
}

// payload builds the block_actions interaction body and returns the id of
// its response_url. Each click has its own trigger_id and action_ts, as
// Slack makes them.
func (e *env) payload(p press) (body, responseID string) {
	e.mu.Lock()
	e.seq++
	seq := e.seq
	e.mu.Unlock()
	responseID = fmt.Sprintf("interaction-%d", seq)
	group := p.group
	if group == "" {
		group = e.group.ID
	}
	name := p.name
	if name == "" {
		name = strings.ToLower(p.user)
	}
	act := map[string]any{"action_id": p.action, "block_id": slacknotify.BlockID(group), "action_ts": fmt.Sprintf("1773036300.%06d", seq)}
	if p.action == slacknotify.ActionMore {
		act["type"] = "static_select"
		act["selected_option"] = map[string]any{"text": map[string]any{"type": "plain_text", "text": p.option}, "value": p.option}
		act["placeholder"] = map[string]any{"type": "plain_text", "text": "More…"}
	} else {
		act["type"] = "button"
		act["value"] = group
		act["text"] = map[string]any{"type": "plain_text", "text": "Acknowledge"}
	}
	ic := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": p.user, "username": name, "name": name, "team_id": "T0NOTIFYTEST"},
		"api_app_id":   "A0NOTIFYAPP",
		"token":        "legacy-verification-token-unused",
		"container":    map[string]any{"type": "message", "message_ts": "1773036000.000100", "channel_id": "C0CREDITDS", "is_ephemeral": false},
		"trigger_id":   fmt.Sprintf("1234.%d.abcdef", seq),
		"team":         map[string]any{"id": "T0NOTIFYTEST", "domain": "notifytest"},
		"channel":      map[string]any{"id": "C0CREDITDS", "name": "credit-ds"},
		"response_url": e.slack.ResponseURL(responseID),
		"actions":      []any{act},
	}
	if p.anonymous {
		delete(ic, "trigger_id")
	}
	b, err := json.Marshal(ic)
	if err != nil {
		e.t.Fatal(err)
	}
	return url.Values{"payload": {string(b)}}.Encode(), responseID
}

// click sends a validly signed interaction and returns the HTTP status and
// what the app told the user ephemerally.
func (e *env) click(p press) (int, []notifytest.Response) {
	e.t.Helper()
	body, id := e.payload(p)
	r := newRequest(body)
	sign(r, signingSecret, e.clock(), body)
	w := e.serve(r)
	return w.Code, e.slack.Responses(id)
}

// clickOK clicks and expects a 200 with no ephemeral refusal.
func (e *env) clickOK(p press) {
	e.t.Helper()
	code, resp := e.click(p)
	if code != http.StatusOK || len(resp) != 0 {
		e.t.Fatalf("%s %s by %s: status %d, ephemeral replies %+v; want 200 and no reply", p.action, p.option, p.user, code, resp)
	}
}

// refused expects one ephemeral reply containing want.
func refused(t *testing.T, code int, resp []notifytest.Response, want string) {
	t.Helper()
	if code != http.StatusOK {
		t.Errorf("status %d, want 200 (the answer goes to the response_url)", code)
	}
	if len(resp) != 1 {
		t.Fatalf("ephemeral replies %+v, want one", resp)
	}
	if resp[0].ResponseType != "ephemeral" || resp[0].ReplaceOriginal {
		t.Errorf("reply %+v is not ephemeral (or replaces the alert message)", resp[0])
	}
	if !strings.Contains(resp[0].Text, want) {
		t.Errorf("reply %q does not say %q", resp[0].Text, want)
	}
}

// command runs /stakeout text as user.
func (e *env) command(user, text string) (int, string, commandReply) {
	e.t.Helper()
	w := e.commandAnswer(user, text)
	var rep commandReply
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			e.t.Fatalf("/stakeout %s: reply %q is not JSON: %v", text, w.Body.String(), err)
		}
	}
	return w.Code, w.Header().Get("Content-Type"), rep
}

// commandAnswer runs /stakeout text as user and returns the app's answer
// as written.
func (e *env) commandAnswer(user, text string) *httptest.ResponseRecorder {
	e.t.Helper()
	body := url.Values{"token": {"legacy"}, "team_id": {"T0NOTIFYTEST"}, "channel_id": {"C0CREDITDS"},
		"user_id": {user}, "user_name": {strings.ToLower(user)}, "command": {"/stakeout"}, "text": {text},
		"response_url": {e.slack.ResponseURL("command")}, "trigger_id": {e.trigger()}}.Encode()
	r := newRequest(body)
	sign(r, signingSecret, e.clock(), body)
	return e.serve(r)
}

// trigger is a fresh trigger_id: Slack makes one for each command.
func (e *env) trigger() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return fmt.Sprintf("1.%d.command", e.seq)
}

type commandReply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

var errNoSecret = errors.New("secret store unavailable")

func urlEscape(s string) string { return url.QueryEscape(s) }

// DynamoDB Local for the tests that run the app on the real store.
func TestMain(m *testing.M) { dynamotest.Main(m) }
