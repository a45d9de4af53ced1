package notifytest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// DefaultSlackToken is the bot token a Slack fake accepts unless WithToken
// says otherwise. It is deliberately not shaped like a real token, so it can
// never be mistaken for a leaked secret.
const DefaultSlackToken = "xoxb-test-not-a-real-token"

// Identity the fake reports for its bot, in auth.test and on every message.
const (
	slackTeamID  = "T0NOTIFYTEST"
	slackTeam    = "notifytest"
	slackUserID  = "U0NOTIFYBOT"
	slackUser    = "stakeout"
	slackBotID   = "B0NOTIFYBOT"
	slackAppID   = "A0NOTIFYAPP"
	slackTSBase  = 1700000000 // seconds of the first ts handed out
	slackTSStep  = 100        // microseconds between consecutive ts values
	slackCursorP = "next_ts:" // prefix of the decoded pagination cursor
)

// Limits Slack documents for messages and Block Kit. Lengths are counted in
// characters (runes), as Slack counts them.
const (
	maxMessageText    = 40000
	maxBlocks         = 50
	maxBlockID        = 255
	maxHeaderText     = 150
	maxSectionText    = 3000
	maxSectionFields  = 10
	maxFieldText      = 2000
	maxContextElems   = 10
	maxActionsElems   = 25
	maxMarkdownText   = 12000
	maxButtonText     = 75
	maxButtonValue    = 2000
	maxURL            = 3000
	maxActionID       = 255
	minOverflowOpts   = 2
	maxOverflowOpts   = 5
	maxOptionText     = 75
	maxOptionValue    = 150
	maxPlaceholder    = 150 // a select menu's placeholder
	maxSelectOptions  = 100 // options (or option groups) of a select menu
	defaultHistoryLim = 100
	maxHistoryLim     = 999
	defaultRepliesLim = 1000
	maxRepliesLim     = 1000
)

// SlackOption configures a Slack fake.
type SlackOption func(*slackConfig)

type slackConfig struct {
	token     string
	channels  []string
	notMember []string
}

// WithToken sets the bot token the fake accepts instead of DefaultSlackToken.
func WithToken(token string) SlackOption {
	return func(c *slackConfig) { c.token = token }
}

// WithChannels adds channels the bot is a member of. A channel the fake does
// not know answers channel_not_found, as a real workspace does for an ID that
// does not exist or that the bot cannot see.
func WithChannels(ids ...string) SlackOption {
	return func(c *slackConfig) { c.channels = append(c.channels, ids...) }
}

// WithNotMember adds channels that exist but the bot has not joined: posting
// and reading there answer not_in_channel.
func WithNotMember(ids ...string) SlackOption {
	return func(c *slackConfig) { c.notMember = append(c.notMember, ids...) }
}

// Content is what a message shows: its text, blocks, attachments and
// metadata, each as the client sent it (blocks, attachments and metadata as
// raw JSON, nil when absent).
type Content struct {
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
	Metadata    json.RawMessage
}

// Message is a message the fake has accepted.
type Message struct {
	Channel string
	TS      string
	// ThreadTS is the ts of the parent for a reply, empty for a top-level
	// message (even one that has replies).
	ThreadTS       string
	ReplyBroadcast bool

	// Content is the current content, after any chat.update.
	Content

	// Revisions holds the content as posted followed by the content after
	// each chat.update, oldest first; the last one equals Content.
	Revisions []Content

	// Params are the parameters of the chat.postMessage call that created
	// the message, without the token (e.g. unfurl_links, unfurl_media).
	Params url.Values
}

// Rejection is a call the fake refused the way Slack would have.
type Rejection struct {
	Method  string
	Channel string
	// Error is the Slack error code answered, e.g. "invalid_blocks".
	Error string
	// Reason says what exactly was wrong, for test failure messages.
	Reason string
}

func (r Rejection) String() string {
	return fmt.Sprintf("%s %s: %s: %s", r.Method, r.Channel, r.Error, r.Reason)
}

// Slack is a fake Slack Web API. Create it with NewSlack.
type Slack struct {
	t       testing.TB
	srv     *httptest.Server
	closing chan struct{}
	token   string

	mu       sync.Mutex
	channels map[string]*slackChannel
	seq      int64
	calls    map[string]int
	faults   map[string][]Fault
	// outage answers every Web API call while set (Outage).
	outage     *Fault
	rejections []Rejection
	responses  map[string][]Response
}

// Response is what an app posted to a response_url (Slack's way of
// answering an interaction: an ephemeral message to the user who pressed
// the button, or a replacement of the message).
type Response struct {
	ResponseType    string `json:"response_type"`
	Text            string `json:"text"`
	ReplaceOriginal bool   `json:"replace_original"`
	DeleteOriginal  bool   `json:"delete_original"`
	// Raw is the body as posted.
	Raw json.RawMessage `json:"-"`
}

type slackChannel struct {
	member  bool
	top     []*Message // top-level messages, oldest first
	byTS    map[string]*Message
	replies map[string][]*Message // parent ts -> replies, oldest first
}

// NewSlack starts a fake Slack Web API that is closed when the test ends.
func NewSlack(t testing.TB, opts ...SlackOption) *Slack {
	t.Helper()
	cfg := slackConfig{token: DefaultSlackToken}
	for _, opt := range opts {
		opt(&cfg)
	}
	s := &Slack{
		t:        t,
		closing:  make(chan struct{}),
		token:    cfg.token,
		channels: make(map[string]*slackChannel),
		calls:    make(map[string]int),
		faults:   make(map[string][]Fault),
	}
	for _, id := range cfg.channels {
		s.addChannel(id, true)
	}
	// Not being a member wins over WithChannels: it is the more specific
	// statement.
	for _, id := range cfg.notMember {
		s.addChannel(id, false)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		// Release delayed handlers first: Close waits for them.
		close(s.closing)
		s.srv.Close()
	})
	return s
}

func (s *Slack) addChannel(id string, member bool) {
	s.channels[id] = &slackChannel{
		member:  member,
		byTS:    make(map[string]*Message),
		replies: make(map[string][]*Message),
	}
}

// URL returns the base API URL, ending in "/", for slack.OptionAPIURL.
func (s *Slack) URL() string { return s.srv.URL + "/api/" }

// Token returns the bot token the fake accepts.
func (s *Slack) Token() string { return s.token }

// Fail queues faults for the next calls of a Web API method such as
// "chat.postMessage": the first fault applies to the next call, and so on.
func (s *Slack) Fail(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], faults...)
}

// Outage answers every Web API call with f until the outage is over
// (Outage(nil)): Slack down for hours, say, or a revoked token
// (Fault{Error: "invalid_auth"}). Queued faults come first.
func (s *Slack) Outage(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = f
}

// Calls reports how many requests for method arrived, including faulted and
// rejected ones.
func (s *Slack) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Rejections returns every call refused with an API error, in order. Faults
// injected with Fail are not rejections.
func (s *Slack) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejections)
}

// Messages returns the top-level messages of a channel, oldest first.
func (s *Slack) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	out := make([]Message, 0, len(ch.top))
	for _, m := range ch.top {
		out = append(out, m.clone())
	}
	return out
}

// Replies returns the replies in the thread of the message ts, oldest first,
// without the parent.
func (s *Slack) Replies(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	var out []Message
	for _, m := range ch.replies[ts] {
		out = append(out, m.clone())
	}
	return out
}

// Message returns the message ts of a channel, top-level or reply.
func (s *Slack) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil || ch.byTS[ts] == nil {
		return Message{}, false
	}
	return ch.byTS[ts].clone(), true
}

func (m *Message) clone() Message {
	c := *m
	c.Revisions = slices.Clone(m.Revisions)
	c.Params = maps.Clone(m.Params)
	return c
}

// slackReply is a Web API answer: an HTTP status and a JSON object.
type slackReply struct {
	status int
	body   map[string]any
}

func okReply(fields map[string]any) slackReply {
	fields["ok"] = true
	return slackReply{status: http.StatusOK, body: fields}
}

// ResponseURL is a response_url for an interaction payload: what the app
// posts there is kept under id (see Responses).
func (s *Slack) ResponseURL(id string) string { return s.srv.URL + "/actions/" + id }

// Responses returns what was posted to the response_url of id, in order.
func (s *Slack) Responses(id string) []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.responses[id])
}

// respond keeps a post to a response_url: JSON, as Slack documents it
// ("Content-type: application/json"), answered with "ok".
func (s *Slack) respond(w http.ResponseWriter, r *http.Request, id string) {
	var resp Response
	body, err := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || err != nil || json.Unmarshal(body, &resp) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	resp.Raw = body
	if resp.ResponseType != "" && resp.ResponseType != "ephemeral" && resp.ResponseType != "in_channel" {
		http.Error(w, "invalid_response_type", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.responses == nil {
		s.responses = map[string][]Response{}
	}
	s.responses[id] = append(s.responses[id], resp)
	s.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/actions/"); ok {
		s.respond(w, r, id)
		return
	}
	method, found := strings.CutPrefix(r.URL.Path, "/api/")
	if !found || method == "" {
		http.NotFound(w, r)
		return
	}

	s.mu.Lock()
	s.calls[method]++
	var fault Fault
	var faulted bool
	if q := s.faults[method]; len(q) > 0 {
		fault, faulted = q[0], true
		s.faults[method] = q[1:]
	} else if s.outage != nil {
		fault, faulted = *s.outage, true
	}
	s.mu.Unlock()

	if faulted {
		if !wait(r.Context(), s.closing, fault.Delay) {
			return
		}
		if fault.Status != 0 {
			writeSlackFault(w, fault)
			return
		}
		if fault.Error != "" {
			writeSlackReply(w, slackReply{status: http.StatusOK, body: map[string]any{"ok": false, "error": fault.Error}})
			return
		}
	}

	reply := s.call(method, r)
	if faulted && fault.LoseResponse {
		loseResponse()
	}
	writeSlackReply(w, reply)
}

func writeSlackFault(w http.ResponseWriter, f Fault) {
	if f.Status == http.StatusTooManyRequests {
		after := f.RetryAfter
		if after <= 0 {
			after = time.Second // Slack never omits Retry-After on a 429
		}
		w.Header().Set("Retry-After", retryAfterSeconds(after))
		writeSlackReply(w, slackReply{status: f.Status, body: map[string]any{"ok": false, "error": "ratelimited"}})
		return
	}
	// Slack's edge answers 5xx with an HTML page, not a JSON body.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(f.Status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", f.Status, http.StatusText(f.Status))
}

func writeSlackReply(w http.ResponseWriter, r slackReply) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(r.body)
}

// call authenticates and runs one Web API call, applying its effect.
func (s *Slack) call(method string, r *http.Request) slackReply {
	params, err := slackParams(r)

	s.mu.Lock()
	defer s.mu.Unlock()

	if err != nil {
		return s.reject(method, "", "invalid_form_data", err.Error())
	}
	token := params.Get("token")
	params.Del("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	switch {
	case token == "":
		return s.reject(method, params.Get("channel"), "not_authed", "no token in the Authorization header or the token parameter")
	case token != s.token:
		return s.reject(method, params.Get("channel"), "invalid_auth", fmt.Sprintf("token %q is not the fake's bot token", token))
	}

	switch method {
	case "auth.test":
		return okReply(map[string]any{
			"url":                   "https://" + slackTeam + ".slack.com/",
			"team":                  slackTeam,
			"user":                  slackUser,
			"team_id":               slackTeamID,
			"user_id":               slackUserID,
			"bot_id":                slackBotID,
			"is_enterprise_install": false,
		})
	case "chat.postMessage":
		return s.postMessage(params)
	case "chat.update":
		return s.update(params)
	case "conversations.history":
		return s.history(params)
	case "conversations.replies":
		return s.replies(params)
	default:
		return s.reject(method, params.Get("channel"), "unknown_method", "the fake does not implement "+method)
	}
}

// slackParams reads the arguments of a call. Slack takes them as a form
// (slack-go's way, with blocks and metadata as JSON strings) or as a JSON
// object (where they may be nested JSON); both end up as form values here,
// nested JSON re-encoded as a string.
func slackParams(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		params := maps.Clone(r.URL.Query())
		if params == nil {
			params = url.Values{}
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("json body: %w", err)
		}
		for k, v := range obj {
			switch v := v.(type) {
			case nil:
			case string:
				params.Set(k, v)
			case bool:
				params.Set(k, strconv.FormatBool(v))
			case json.Number:
				params.Set(k, v.String())
			default:
				b, err := json.Marshal(v)
				if err != nil {
					return nil, err
				}
				params.Set(k, string(b))
			}
		}
		return params, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, err
		}
		return r.Form, nil
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.Form, nil
	}
}

// reject records a refused call and builds Slack's error answer. Slack
// reports API errors with HTTP 200 and ok=false. s.mu must be held.
func (s *Slack) reject(method, channel, code, reason string) slackReply {
	s.rejections = append(s.rejections, Rejection{Method: method, Channel: channel, Error: code, Reason: reason})
	return slackReply{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}}
}

// lookup finds a channel the bot may use. s.mu must be held.
func (s *Slack) lookup(method, id string) (*slackChannel, *slackReply) {
	ch := s.channels[id]
	if ch == nil {
		r := s.reject(method, id, "channel_not_found", fmt.Sprintf("channel %q is not configured in the fake", id))
		return nil, &r
	}
	if !ch.member {
		r := s.reject(method, id, "not_in_channel", fmt.Sprintf("the bot is not a member of %q", id))
		return nil, &r
	}
	return ch, nil
}

func (s *Slack) nextTS() string {
	s.seq++
	micros := s.seq * slackTSStep
	return fmt.Sprintf("%d.%06d", slackTSBase+micros/1e6, micros%1e6)
}

func (s *Slack) postMessage(params url.Values) slackReply {
	const method = "chat.postMessage"
	id := params.Get("channel")
	ch, rej := s.lookup(method, id)
	if rej != nil {
		return *rej
	}
	content, code, reason := newContent(params, nil)
	if code != "" {
		return s.reject(method, id, code, reason)
	}
	threadTS := params.Get("thread_ts")
	if threadTS != "" {
		parent := ch.byTS[threadTS]
		switch {
		case parent == nil:
			return s.reject(method, id, "invalid_thread_ts", fmt.Sprintf("thread_ts %q is not a message in %q", threadTS, id))
		case parent.ThreadTS != "":
			return s.reject(method, id, "invalid_thread_ts", fmt.Sprintf("thread_ts %q is a reply, not a thread's parent", threadTS))
		}
	}
	m := &Message{
		Channel:        id,
		TS:             s.nextTS(),
		ThreadTS:       threadTS,
		ReplyBroadcast: threadTS != "" && truthy(params.Get("reply_broadcast")),
		Content:        content,
		Revisions:      []Content{content},
		Params:         maps.Clone(params),
	}
	ch.byTS[m.TS] = m
	if threadTS != "" {
		ch.replies[threadTS] = append(ch.replies[threadTS], m)
	} else {
		ch.top = append(ch.top, m)
	}
	return okReply(map[string]any{"channel": id, "ts": m.TS, "message": ch.render(m, true)})
}

func (s *Slack) update(params url.Values) slackReply {
	const method = "chat.update"
	id := params.Get("channel")
	ch, rej := s.lookup(method, id)
	if rej != nil {
		return *rej
	}
	ts := params.Get("ts")
	m := ch.byTS[ts]
	if m == nil {
		return s.reject(method, id, "message_not_found", fmt.Sprintf("no message %q in %q", ts, id))
	}
	content, code, reason := newContent(params, &m.Content)
	if code != "" {
		return s.reject(method, id, code, reason)
	}
	m.Content = content
	m.Revisions = append(m.Revisions, content)
	return okReply(map[string]any{"channel": id, "ts": ts, "text": content.Text, "message": ch.render(m, true)})
}

// newContent validates the content arguments of chat.postMessage (prev nil)
// or chat.update (prev is the current content) and returns the resulting
// content, or the Slack error code and the reason.
func newContent(params url.Values, prev *Content) (c Content, code, reason string) {
	if prev != nil {
		c = *prev
	}
	hasText, hasBlocks, hasAtt := params.Has("text"), params.Has("blocks"), params.Has("attachments")
	if !hasText && !hasBlocks && !hasAtt {
		return c, "no_text", "neither text, blocks nor attachments were given"
	}
	if hasText {
		c.Text = params.Get("text")
		if n := utf8.RuneCountInString(c.Text); n > maxMessageText {
			return c, "msg_too_long", fmt.Sprintf("text is %d characters; the limit is %d", n, maxMessageText)
		}
		// chat.update drops the old blocks when only text is given.
		if prev != nil && !hasBlocks {
			c.Blocks = nil
		}
	}
	if hasBlocks {
		var blocks []json.RawMessage
		if err := json.Unmarshal([]byte(params.Get("blocks")), &blocks); err != nil {
			return c, "invalid_blocks_format", "blocks is not a JSON array: " + err.Error()
		}
		if reason := validateBlocks(blocks); reason != "" {
			return c, "invalid_blocks", reason
		}
		c.Blocks = nil
		if len(blocks) > 0 {
			c.Blocks = json.RawMessage(params.Get("blocks"))
		}
	}
	if hasAtt {
		var att []json.RawMessage
		if err := json.Unmarshal([]byte(params.Get("attachments")), &att); err != nil {
			return c, "invalid_attachments", "attachments is not a JSON array: " + err.Error()
		}
		c.Attachments = nil
		if len(att) > 0 {
			c.Attachments = json.RawMessage(params.Get("attachments"))
		}
	}
	if c.Text == "" && c.Blocks == nil && c.Attachments == nil {
		return c, "no_text", "the message would have no text, blocks or attachments"
	}
	if params.Has("metadata") {
		meta, reason := validateMetadata(params.Get("metadata"), prev != nil)
		if reason != "" {
			return c, "invalid_metadata_format", reason
		}
		c.Metadata = meta
	}
	return c, "", ""
}

// validateMetadata checks message metadata: an object with a non-empty
// event_type string and an event_payload object. On chat.update an empty
// object removes the metadata, so it returns nil.
func validateMetadata(raw string, update bool) (json.RawMessage, string) {
	var meta map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &meta); err != nil || meta == nil {
		return nil, "metadata is not a JSON object"
	}
	if update && len(meta) == 0 {
		return nil, ""
	}
	var eventType string
	if err := json.Unmarshal(meta["event_type"], &eventType); err != nil || eventType == "" {
		return nil, "metadata.event_type is missing or not a non-empty string"
	}
	if p, ok := meta["event_payload"]; ok && string(p) != "null" {
		var payload map[string]json.RawMessage
		if err := json.Unmarshal(p, &payload); err != nil {
			return nil, "metadata.event_payload is not a JSON object"
		}
	}
	return json.RawMessage(raw), ""
}

// validateBlocks applies the Block Kit limits Slack documents and returns
// why the blocks would be rejected, or "" if they would be accepted. Block
// and element types it does not model are accepted as they are.
func validateBlocks(blocks []json.RawMessage) string {
	if len(blocks) > maxBlocks {
		return fmt.Sprintf("%d blocks; a message holds at most %d", len(blocks), maxBlocks)
	}
	for i, raw := range blocks {
		var b map[string]any
		if err := json.Unmarshal(raw, &b); err != nil || b == nil {
			return fmt.Sprintf("block %d is not a JSON object", i)
		}
		typ, _ := b["type"].(string)
		if typ == "" {
			return fmt.Sprintf("block %d has no type", i)
		}
		where := fmt.Sprintf("block %d (%s)", i, typ)
		if reason := maxLen(where+" block_id", b["block_id"], maxBlockID); reason != "" {
			return reason
		}
		if reason := validateBlock(where, typ, b); reason != "" {
			return reason
		}
	}
	return ""
}

func validateBlock(where, typ string, b map[string]any) string {
	switch typ {
	case "header":
		return textObject(where+" text", b["text"], maxHeaderText, true)
	case "section":
		_, hasText := b["text"]
		fields, _ := b["fields"].([]any)
		if !hasText && len(fields) == 0 {
			return where + " has neither text nor fields"
		}
		if hasText {
			if reason := textObject(where+" text", b["text"], maxSectionText, false); reason != "" {
				return reason
			}
		}
		if len(fields) > maxSectionFields {
			return fmt.Sprintf("%s has %d fields; the limit is %d", where, len(fields), maxSectionFields)
		}
		for j, f := range fields {
			if reason := textObject(fmt.Sprintf("%s field %d", where, j), f, maxFieldText, false); reason != "" {
				return reason
			}
		}
		if acc, ok := b["accessory"]; ok {
			return validateElement(where+" accessory", acc)
		}
	case "context":
		elems, _ := b["elements"].([]any)
		if len(elems) == 0 || len(elems) > maxContextElems {
			return fmt.Sprintf("%s has %d elements; it takes 1 to %d", where, len(elems), maxContextElems)
		}
		for j, e := range elems {
			if m, ok := e.(map[string]any); ok && m["type"] == "image" {
				continue
			}
			if reason := textObject(fmt.Sprintf("%s element %d", where, j), e, maxSectionText, false); reason != "" {
				return reason
			}
		}
	case "actions":
		elems, _ := b["elements"].([]any)
		if len(elems) == 0 || len(elems) > maxActionsElems {
			return fmt.Sprintf("%s has %d elements; it takes 1 to %d", where, len(elems), maxActionsElems)
		}
		for j, e := range elems {
			if reason := validateElement(fmt.Sprintf("%s element %d", where, j), e); reason != "" {
				return reason
			}
		}
	case "markdown":
		return maxLen(where+" text", b["text"], maxMarkdownText)
	}
	return ""
}

// validateElement checks an interactive element of an actions block or a
// section accessory.
func validateElement(where string, v any) string {
	el, ok := v.(map[string]any)
	if !ok {
		return where + " is not a JSON object"
	}
	typ, _ := el["type"].(string)
	where += " (" + typ + ")"
	if reason := maxLen(where+" action_id", el["action_id"], maxActionID); reason != "" {
		return reason
	}
	switch typ {
	case "button":
		if reason := textObject(where+" text", el["text"], maxButtonText, true); reason != "" {
			return reason
		}
		if reason := maxLen(where+" value", el["value"], maxButtonValue); reason != "" {
			return reason
		}
		return maxLen(where+" url", el["url"], maxURL)
	case "overflow":
		opts, _ := el["options"].([]any)
		if len(opts) < minOverflowOpts || len(opts) > maxOverflowOpts {
			return fmt.Sprintf("%s has %d options; it takes %d to %d", where, len(opts), minOverflowOpts, maxOverflowOpts)
		}
		return validateOptions(where, opts)
	default:
		// Select menus, radio buttons and checkboxes share the option object.
		if ph, ok := el["placeholder"]; ok {
			if reason := textObject(where+" placeholder", ph, maxPlaceholder, true); reason != "" {
				return reason
			}
		}
		if opts, ok := el["options"].([]any); ok {
			if len(opts) > maxSelectOptions {
				return fmt.Sprintf("%s has %d options; the limit is %d", where, len(opts), maxSelectOptions)
			}
			return validateOptions(where, opts)
		}
		if groups, ok := el["option_groups"].([]any); ok {
			if len(groups) > maxSelectOptions {
				return fmt.Sprintf("%s has %d option groups; the limit is %d", where, len(groups), maxSelectOptions)
			}
			for k, g := range groups {
				grp, _ := g.(map[string]any)
				gw := fmt.Sprintf("%s option group %d", where, k)
				if reason := textObject(gw+" label", grp["label"], maxOptionText, true); reason != "" {
					return reason
				}
				opts, _ := grp["options"].([]any)
				if len(opts) == 0 || len(opts) > maxSelectOptions {
					return fmt.Sprintf("%s has %d options; it takes 1 to %d", gw, len(opts), maxSelectOptions)
				}
				if reason := validateOptions(gw, opts); reason != "" {
					return reason
				}
			}
		}
	}
	return ""
}

// CheckBlocks applies the server's Block Kit checks to a JSON array of
// blocks, without a server: "" if Slack would take them, otherwise the
// first reason it would answer invalid_blocks. For render and fuzz tests.
func CheckBlocks(blocks json.RawMessage) string {
	var list []json.RawMessage
	if err := json.Unmarshal(blocks, &list); err != nil {
		return "blocks are not a JSON array: " + err.Error()
	}
	return validateBlocks(list)
}

func validateOptions(where string, opts []any) string {
	for k, o := range opts {
		opt, ok := o.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s option %d is not a JSON object", where, k)
		}
		if reason := textObject(fmt.Sprintf("%s option %d text", where, k), opt["text"], maxOptionText, false); reason != "" {
			return reason
		}
		if reason := maxLen(fmt.Sprintf("%s option %d value", where, k), opt["value"], maxOptionValue); reason != "" {
			return reason
		}
	}
	return ""
}

// textObject checks a Block Kit text object: {"type": "plain_text" or
// "mrkdwn", "text": 1 to limit characters}.
func textObject(where string, v any, limit int, plainOnly bool) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return where + " is not a text object"
	}
	typ, _ := obj["type"].(string)
	switch {
	case typ == "plain_text":
	case typ == "mrkdwn" && !plainOnly:
	case plainOnly:
		return fmt.Sprintf("%s has type %q; it must be plain_text", where, typ)
	default:
		return fmt.Sprintf("%s has type %q; it must be plain_text or mrkdwn", where, typ)
	}
	text, _ := obj["text"].(string)
	if text == "" {
		return where + " is empty"
	}
	return maxLen(where, text, limit)
}

// maxLen reports a string longer than limit characters; absent values pass.
func maxLen(where string, v any, limit int) string {
	s, _ := v.(string)
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Sprintf("%s is %d characters; the limit is %d", where, n, limit)
	}
	return ""
}

func truthy(v string) bool { return v == "1" || v == "true" }

// tsMicros parses a Slack timestamp ("1700000000.000100", or whole seconds)
// into microseconds so that timestamps compare as numbers.
func tsMicros(ts string) (int64, bool) {
	secs, frac, _ := strings.Cut(ts, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec < 0 {
		return 0, false
	}
	if len(frac) > 6 {
		frac = frac[:6]
	}
	var micro int64
	if frac != "" {
		micro, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || micro < 0 {
			return 0, false
		}
	}
	return sec*1e6 + micro, true
}

// window is the oldest/latest/inclusive filter of history and replies.
type window struct {
	oldest, latest int64
	inclusive      bool
}

func (w window) contains(ts string) bool {
	t, _ := tsMicros(ts)
	if w.inclusive {
		return t >= w.oldest && t <= w.latest
	}
	return t > w.oldest && t < w.latest
}

// page reads the filter and pagination arguments shared by
// conversations.history and conversations.replies.
func (s *Slack) page(method, channel string, params url.Values, defLimit, maxLimit int) (w window, limit int, cursor int64, rej *slackReply) {
	fail := func(code, reason string) (window, int, int64, *slackReply) {
		r := s.reject(method, channel, code, reason)
		return window{}, 0, 0, &r
	}
	w = window{oldest: 0, latest: 1<<63 - 1, inclusive: truthy(params.Get("inclusive"))}
	if v := params.Get("oldest"); v != "" {
		var ok bool
		if w.oldest, ok = tsMicros(v); !ok {
			return fail("invalid_ts_oldest", fmt.Sprintf("oldest %q is not a timestamp", v))
		}
	}
	if v := params.Get("latest"); v != "" {
		var ok bool
		if w.latest, ok = tsMicros(v); !ok {
			return fail("invalid_ts_latest", fmt.Sprintf("latest %q is not a timestamp", v))
		}
	}
	limit = defLimit
	if v := params.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fail("invalid_limit", fmt.Sprintf("limit %q is not a number", v))
		}
		if n > 0 {
			limit = min(n, maxLimit)
		}
	}
	cursor = -1
	if v := params.Get("cursor"); v != "" {
		raw, err := base64.StdEncoding.DecodeString(v)
		rest, found := strings.CutPrefix(string(raw), slackCursorP)
		n, perr := strconv.ParseInt(rest, 10, 64)
		if err != nil || !found || perr != nil {
			return fail("invalid_cursor", fmt.Sprintf("cursor %q was not handed out by the fake", v))
		}
		cursor = n
	}
	return w, limit, cursor, nil
}

func encodeCursor(ts string) string {
	t, _ := tsMicros(ts)
	return base64.StdEncoding.EncodeToString([]byte(slackCursorP + strconv.FormatInt(t, 10)))
}

func pageReply(msgs []map[string]any, hasMore bool, next string) slackReply {
	if msgs == nil {
		msgs = []map[string]any{}
	}
	return okReply(map[string]any{
		"messages":          msgs,
		"has_more":          hasMore,
		"response_metadata": map[string]any{"next_cursor": next},
	})
}

// history answers conversations.history: top-level messages and replies
// broadcast to the channel, newest first.
func (s *Slack) history(params url.Values) slackReply {
	const method = "conversations.history"
	id := params.Get("channel")
	ch, rej := s.lookup(method, id)
	if rej != nil {
		return *rej
	}
	w, limit, cursor, rej := s.page(method, id, params, defaultHistoryLim, maxHistoryLim)
	if rej != nil {
		return *rej
	}
	var visible []*Message
	for _, m := range ch.byTS {
		if (m.ThreadTS == "" || m.ReplyBroadcast) && w.contains(m.TS) {
			if t, _ := tsMicros(m.TS); cursor < 0 || t < cursor {
				visible = append(visible, m)
			}
		}
	}
	sort.Slice(visible, func(i, j int) bool {
		a, _ := tsMicros(visible[i].TS)
		b, _ := tsMicros(visible[j].TS)
		return a > b
	})
	withMeta := truthy(params.Get("include_all_metadata"))
	return ch.pageOf(visible, limit, withMeta)
}

// replies answers conversations.replies: the parent first, then the
// replies, oldest first. ts may name the parent or any reply.
func (s *Slack) replies(params url.Values) slackReply {
	const method = "conversations.replies"
	id := params.Get("channel")
	ch, rej := s.lookup(method, id)
	if rej != nil {
		return *rej
	}
	ts := params.Get("ts")
	parent := ch.byTS[ts]
	if parent == nil {
		return s.reject(method, id, "thread_not_found", fmt.Sprintf("no message %q in %q", ts, id))
	}
	if parent.ThreadTS != "" {
		parent = ch.byTS[parent.ThreadTS]
	}
	w, limit, cursor, rej := s.page(method, id, params, defaultRepliesLim, maxRepliesLim)
	if rej != nil {
		return *rej
	}
	var thread []*Message
	if cursor < 0 {
		// The parent heads the first page whatever the window.
		thread = append(thread, parent)
	}
	for _, m := range ch.replies[parent.TS] {
		if t, _ := tsMicros(m.TS); w.contains(m.TS) && t > cursor {
			thread = append(thread, m)
		}
	}
	withMeta := truthy(params.Get("include_all_metadata"))
	return ch.pageOf(thread, limit, withMeta)
}

func (ch *slackChannel) pageOf(msgs []*Message, limit int, withMeta bool) slackReply {
	hasMore := len(msgs) > limit
	if hasMore {
		msgs = msgs[:limit]
	}
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, ch.render(m, withMeta))
	}
	next := ""
	if hasMore {
		next = encodeCursor(msgs[len(msgs)-1].TS)
	}
	return pageReply(out, hasMore, next)
}

// render builds the message object of Slack's answers. Metadata is only
// shown when asked for, as conversations.* do without include_all_metadata.
func (ch *slackChannel) render(m *Message, withMeta bool) map[string]any {
	out := map[string]any{
		"type":   "message",
		"user":   slackUserID,
		"bot_id": slackBotID,
		"app_id": slackAppID,
		"team":   slackTeamID,
		"text":   m.Text,
		"ts":     m.TS,
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.Attachments != nil {
		out["attachments"] = m.Attachments
	}
	if withMeta && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
		out["parent_user_id"] = slackUserID
		if m.ReplyBroadcast {
			out["subtype"] = "thread_broadcast"
		}
	} else if replies := ch.replies[m.TS]; len(replies) > 0 {
		out["thread_ts"] = m.TS
		out["reply_count"] = len(replies)
		out["reply_users_count"] = 1
		out["reply_users"] = []string{slackUserID}
		out["latest_reply"] = replies[len(replies)-1].TS
	}
	return out
}
