package notifytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

const (
	alerts  = "C0ALERTS"
	private = "C0PRIVATE"
)

func newSlackClient(t *testing.T, opts ...SlackOption) (*Slack, *slack.Client) {
	t.Helper()
	s := NewSlack(t, append([]SlackOption{WithChannels(alerts), WithNotMember(private)}, opts...)...)
	return s, slack.New(s.Token(), slack.OptionAPIURL(s.URL()))
}

// assertNoRejections fails the test if the fake refused any call, printing
// why: the happy-path tests must not lean on the fake's leniency.
func assertNoRejections(t *testing.T, s *Slack) {
	t.Helper()
	for _, r := range s.Rejections() {
		t.Errorf("unexpected rejection: %s", r)
	}
}

func slackErrorCode(err error) string {
	var e slack.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	return ""
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func TestSlackAuthTestReportsTheBot(t *testing.T) {
	s, api := newSlackClient(t)
	resp, err := api.AuthTest()
	if err != nil {
		t.Fatalf("auth.test: %v", err)
	}
	if resp.UserID == "" || resp.BotID == "" || resp.TeamID == "" {
		t.Errorf("auth.test = %+v, want user, bot and team IDs", resp)
	}
	if got := s.Calls("auth.test"); got != 1 {
		t.Errorf("Calls(auth.test) = %d, want 1", got)
	}
	assertNoRejections(t, s)
}

func TestSlackAuthentication(t *testing.T) {
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"wrong token is invalid_auth", "xoxb-some-other-token", "invalid_auth"},
		{"missing token is not_authed", "", "not_authed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSlack(t, WithChannels(alerts))
			api := slack.New(tt.token, slack.OptionAPIURL(s.URL()))
			_, _, err := api.PostMessage(alerts, slack.MsgOptionText("hi", false))
			if got := slackErrorCode(err); got != tt.want {
				t.Fatalf("PostMessage error = %v, want %s", err, tt.want)
			}
			if len(s.Messages(alerts)) != 0 {
				t.Error("message was stored despite failed authentication")
			}
			if r := s.Rejections(); len(r) != 1 || r[0].Error != tt.want {
				t.Errorf("Rejections() = %v, want one %s", r, tt.want)
			}
		})
	}
}

func TestSlackBearerTokenIsAccepted(t *testing.T) {
	s := NewSlack(t, WithChannels(alerts))
	req, err := http.NewRequest(http.MethodPost, s.URL()+"chat.postMessage",
		strings.NewReader(url.Values{"channel": {alerts}, "text": {"hi"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if !body.OK {
		t.Fatalf("post with bearer token: error %q", body.Error)
	}
}

func TestSlackChannelAccess(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		want    string
	}{
		{"unknown channel is channel_not_found", "C0NOWHERE", "channel_not_found"},
		{"channel the bot has not joined is not_in_channel", private, "not_in_channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, api := newSlackClient(t)
			_, _, err := api.PostMessage(tt.channel, slack.MsgOptionText("hi", false))
			if got := slackErrorCode(err); got != tt.want {
				t.Errorf("PostMessage error = %v, want %s", err, tt.want)
			}
			_, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: tt.channel})
			if got := slackErrorCode(err); got != tt.want {
				t.Errorf("GetConversationHistory error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestSlackPostUpdateAndReadBack(t *testing.T) {
	s, api := newSlackClient(t)
	meta := slack.SlackMetadata{EventType: "stakeout_alert", EventPayload: map[string]any{"alert_id": "a-1", "state": "firing"}}

	_, ts, err := api.PostMessage(alerts,
		slack.MsgOptionText("CPU high", false),
		slack.MsgOptionBlocks(section("*CPU high*")),
		slack.MsgOptionMetadata(meta),
		slack.MsgOptionDisableLinkUnfurl(),
	)
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if !strings.HasPrefix(ts, "1700000000.") {
		t.Errorf("ts = %q, want a Slack-shaped timestamp", ts)
	}

	meta.EventPayload["state"] = "resolved"
	_, _, _, err = api.UpdateMessage(alerts, ts,
		slack.MsgOptionText("CPU back to normal", false),
		slack.MsgOptionBlocks(section("*CPU back to normal*")),
		slack.MsgOptionMetadata(meta),
	)
	if err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}

	m, ok := s.Message(alerts, ts)
	if !ok {
		t.Fatal("posted message not found")
	}
	if m.Text != "CPU back to normal" {
		t.Errorf("Text = %q after update", m.Text)
	}
	if len(m.Revisions) != 2 || m.Revisions[0].Text != "CPU high" {
		t.Errorf("Revisions = %+v, want the posted and the updated content", m.Revisions)
	}
	if !strings.Contains(string(m.Metadata), `"resolved"`) {
		t.Errorf("Metadata = %s, want the updated payload", m.Metadata)
	}
	if got := m.Params.Get("unfurl_links"); got != "false" {
		t.Errorf("Params unfurl_links = %q, want false", got)
	}
	if m.Params.Has("token") {
		t.Error("Params kept the token")
	}

	for _, withMeta := range []bool{false, true} {
		t.Run(fmt.Sprintf("history include_all_metadata=%v", withMeta), func(t *testing.T) {
			h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: alerts, IncludeAllMetadata: withMeta})
			if err != nil {
				t.Fatalf("GetConversationHistory: %v", err)
			}
			if len(h.Messages) != 1 {
				t.Fatalf("history has %d messages, want 1", len(h.Messages))
			}
			got := h.Messages[0]
			if got.Timestamp != ts || got.Text != "CPU back to normal" || len(got.Blocks.BlockSet) != 1 {
				t.Errorf("history message = ts %q text %q %d blocks", got.Timestamp, got.Text, len(got.Blocks.BlockSet))
			}
			if withMeta && (got.Metadata.EventType != "stakeout_alert" || got.Metadata.EventPayload["state"] != "resolved") {
				t.Errorf("metadata = %+v, want the updated metadata", got.Metadata)
			}
			if !withMeta && got.Metadata.EventType != "" {
				t.Errorf("metadata = %+v without include_all_metadata", got.Metadata)
			}
		})
	}
	assertNoRejections(t, s)
}

func TestSlackUpdateKeepsOrDropsBlocksAsSlackDoes(t *testing.T) {
	tests := []struct {
		name       string
		update     []slack.MsgOption
		wantBlocks bool
		wantText   string
	}{
		{"text only drops the blocks", []slack.MsgOption{slack.MsgOptionText("new", false)}, false, "new"},
		{"blocks only keep the text", []slack.MsgOption{slack.MsgOptionBlocks(section("new"))}, true, "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, api := newSlackClient(t)
			_, ts, err := api.PostMessage(alerts, slack.MsgOptionText("old", false), slack.MsgOptionBlocks(section("old")))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := api.UpdateMessage(alerts, ts, tt.update...); err != nil {
				t.Fatal(err)
			}
			m, _ := s.Message(alerts, ts)
			if (m.Blocks != nil) != tt.wantBlocks || m.Text != tt.wantText {
				t.Errorf("after update: text %q blocks %s; want text %q, blocks %v", m.Text, m.Blocks, tt.wantText, tt.wantBlocks)
			}
		})
	}
}

func TestSlackThreads(t *testing.T) {
	s, api := newSlackClient(t)
	_, parent, err := api.PostMessage(alerts, slack.MsgOptionText("incident", false))
	if err != nil {
		t.Fatal(err)
	}
	_, r1, err := api.PostMessage(alerts, slack.MsgOptionText("update 1", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	_, r2, err := api.PostMessage(alerts, slack.MsgOptionText("resolved", false), slack.MsgOptionTS(parent), slack.MsgOptionBroadcast())
	if err != nil {
		t.Fatal(err)
	}
	assertNoRejections(t, s)

	t.Run("replies returns the parent then the replies in order", func(t *testing.T) {
		for _, ts := range []string{parent, r1} { // a reply's ts names its thread too
			msgs, hasMore, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: alerts, Timestamp: ts})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.Timestamp)
			}
			if want := []string{parent, r1, r2}; strings.Join(got, ",") != strings.Join(want, ",") || hasMore {
				t.Errorf("replies(%s) = %v has_more %v, want %v", ts, got, hasMore, want)
			}
			if msgs[0].ReplyCount != 2 || msgs[1].ThreadTimestamp != parent {
				t.Errorf("reply_count %d, reply thread_ts %q", msgs[0].ReplyCount, msgs[1].ThreadTimestamp)
			}
		}
	})

	t.Run("history shows top-level and broadcast messages only", func(t *testing.T) {
		h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: alerts})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Messages) != 2 || h.Messages[0].Timestamp != r2 || h.Messages[1].Timestamp != parent {
			t.Errorf("history = %d messages, want the broadcast reply then the parent", len(h.Messages))
		}
		if got := s.Messages(alerts); len(got) != 1 || got[0].TS != parent {
			t.Errorf("Messages() = %v, want only the parent", got)
		}
		if got := s.Replies(alerts, parent); len(got) != 2 || !got[1].ReplyBroadcast {
			t.Errorf("Replies() = %v, want two, the second broadcast", got)
		}
	})

	t.Run("bad thread_ts is refused", func(t *testing.T) {
		for _, ts := range []string{r1, "1600000000.000001"} {
			_, _, err := api.PostMessage(alerts, slack.MsgOptionText("x", false), slack.MsgOptionTS(ts))
			if got := slackErrorCode(err); got != "invalid_thread_ts" {
				t.Errorf("reply to %s: error %v, want invalid_thread_ts", ts, err)
			}
		}
		_, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: alerts, Timestamp: "1600000000.000001"})
		if got := slackErrorCode(err); got != "thread_not_found" {
			t.Errorf("replies of unknown ts: error %v, want thread_not_found", err)
		}
	})
}

func TestSlackHistoryPagination(t *testing.T) {
	s, api := newSlackClient(t)
	var ts []string // oldest first
	for i := range 5 {
		_, t1, err := api.PostMessage(alerts, slack.MsgOptionText(fmt.Sprint("m", i), false))
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, t1)
	}
	tests := []struct {
		name   string
		params slack.GetConversationHistoryParameters
		want   []string // newest first, across pages
		pages  int
	}{
		{"limit pages newest first", slack.GetConversationHistoryParameters{Limit: 2}, []string{ts[4], ts[3], ts[2], ts[1], ts[0]}, 3},
		{"oldest and latest are exclusive", slack.GetConversationHistoryParameters{Oldest: ts[1], Latest: ts[3]}, []string{ts[2]}, 1},
		{"inclusive keeps the bounds", slack.GetConversationHistoryParameters{Oldest: ts[1], Latest: ts[3], Inclusive: true}, []string{ts[3], ts[2], ts[1]}, 1},
		{"window and limit combine", slack.GetConversationHistoryParameters{Oldest: ts[0], Limit: 3}, []string{ts[4], ts[3], ts[2], ts[1]}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.params
			p.ChannelID = alerts
			var got []string
			pages := 0
			for {
				h, err := api.GetConversationHistory(&p)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, m := range h.Messages {
					got = append(got, m.Timestamp)
				}
				if h.HasMore != (h.ResponseMetaData.NextCursor != "") {
					t.Fatalf("has_more %v with next_cursor %q", h.HasMore, h.ResponseMetaData.NextCursor)
				}
				if !h.HasMore {
					break
				}
				p.Cursor = h.ResponseMetaData.NextCursor
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || pages != tt.pages {
				t.Errorf("got %v in %d pages, want %v in %d", got, pages, tt.want, tt.pages)
			}
		})
	}
	_, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: alerts, Cursor: "bm9wZQ=="})
	if got := slackErrorCode(err); got != "invalid_cursor" {
		t.Errorf("foreign cursor: error %v, want invalid_cursor", err)
	}
	_ = s
}

func TestSlackRepliesPagination(t *testing.T) {
	_, api := newSlackClient(t)
	_, parent, err := api.PostMessage(alerts, slack.MsgOptionText("p", false))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{parent}
	for i := range 4 {
		_, r, err := api.PostMessage(alerts, slack.MsgOptionText(fmt.Sprint("r", i), false), slack.MsgOptionTS(parent))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	p := slack.GetConversationRepliesParameters{ChannelID: alerts, Timestamp: parent, Limit: 2}
	var got []string
	for {
		msgs, hasMore, next, err := api.GetConversationReplies(&p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got = append(got, m.Timestamp)
		}
		if !hasMore {
			break
		}
		p.Cursor = next
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged replies = %v, want %v", got, want)
	}
}

// rawBlocks sends blocks exactly as given, bypassing slack-go's types so
// that the tests can build what slack-go would refuse to marshal.
func rawBlocks(s *Slack, blocks string) slack.MsgOption {
	return slack.UnsafeMsgOptionEndpoint(s.URL()+"chat.postMessage", func(v url.Values) { v.Set("blocks", blocks) })
}

func TestSlackRejectsWhatSlackRejects(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	text := func(typ, s string) string { return fmt.Sprintf(`{"type":%q,"text":%q}`, typ, s) }
	button := func(label, value, actionID string) string {
		return fmt.Sprintf(`{"type":"button","text":%s,"value":%q,"action_id":%q}`, text("plain_text", label), value, actionID)
	}
	overflow := func(n int, optText, optValue string) string {
		var opts []string
		for range n {
			opts = append(opts, fmt.Sprintf(`{"text":%s,"value":%q}`, text("plain_text", optText), optValue))
		}
		return fmt.Sprintf(`{"type":"overflow","action_id":"more","options":[%s]}`, strings.Join(opts, ","))
	}
	repeat := func(n int, s string) string { return strings.TrimSuffix(strings.Repeat(s+",", n), ",") }
	sectionWith := func(s string) string { return fmt.Sprintf(`[{"type":"section","text":%s}]`, text("mrkdwn", s)) }
	actions := func(elems string) string { return fmt.Sprintf(`[{"type":"actions","elements":[%s]}]`, elems) }

	tests := []struct {
		name   string
		blocks string // sent verbatim when not empty
		opts   []slack.MsgOption
		want   string // "" means accepted
	}{
		{"50 blocks are accepted", "[" + repeat(50, `{"type":"divider"}`) + "]", nil, ""},
		{"51 blocks are refused", "[" + repeat(51, `{"type":"divider"}`) + "]", nil, "invalid_blocks"},
		{"blocks that are not an array are refused", `{"type":"divider"}`, nil, "invalid_blocks_format"},
		{"header of 150 characters is accepted", `[{"type":"header","text":` + text("plain_text", long(150)) + `}]`, nil, ""},
		{"header over 150 characters is refused", `[{"type":"header","text":` + text("plain_text", long(151)) + `}]`, nil, "invalid_blocks"},
		{"header in mrkdwn is refused", `[{"type":"header","text":` + text("mrkdwn", "x") + `}]`, nil, "invalid_blocks"},
		{"section text of 3000 characters is accepted", sectionWith(long(3000)), nil, ""},
		{"section text over 3000 characters is refused", sectionWith(long(3001)), nil, "invalid_blocks"},
		{"section with 11 fields is refused", `[{"type":"section","fields":[` + repeat(11, text("mrkdwn", "f")) + `]}]`, nil, "invalid_blocks"},
		{"section field over 2000 characters is refused", `[{"type":"section","fields":[` + text("mrkdwn", long(2001)) + `]}]`, nil, "invalid_blocks"},
		{"context with 11 elements is refused", `[{"type":"context","elements":[` + repeat(11, text("mrkdwn", "c")) + `]}]`, nil, "invalid_blocks"},
		{"actions with 25 elements are accepted", actions(repeat(25, button("ok", "v", "a"))), nil, ""},
		{"actions with 26 elements are refused", actions(repeat(26, button("ok", "v", "a"))), nil, "invalid_blocks"},
		{"button text over 75 characters is refused", actions(button(long(76), "v", "a")), nil, "invalid_blocks"},
		{"button value over 2000 characters is refused", actions(button("ok", long(2001), "a")), nil, "invalid_blocks"},
		{"action_id over 255 characters is refused", actions(button("ok", "v", long(256))), nil, "invalid_blocks"},
		{"overflow with 2 options is accepted", actions(overflow(2, "o", "v")), nil, ""},
		{"overflow with 1 option is refused", actions(overflow(1, "o", "v")), nil, "invalid_blocks"},
		{"overflow with 6 options is refused", actions(overflow(6, "o", "v")), nil, "invalid_blocks"},
		{"option text over 75 characters is refused", actions(overflow(2, long(76), "v")), nil, "invalid_blocks"},
		{"option value over 150 characters is refused", actions(overflow(2, "o", long(151))), nil, "invalid_blocks"},
		{"block_id over 255 characters is refused", `[{"type":"divider","block_id":"` + long(256) + `"}]`, nil, "invalid_blocks"},
		{"text of 40000 characters is accepted", "", []slack.MsgOption{slack.MsgOptionText(long(40000), false)}, ""},
		{"text over 40000 characters is refused", "", []slack.MsgOption{slack.MsgOptionText(long(40001), false)}, "msg_too_long"},
		{"neither text nor blocks is refused", "", nil, "no_text"},
		{"empty blocks and no text is refused", "", []slack.MsgOption{slack.MsgOptionBlocks()}, "no_text"},
		{"metadata without event_type is refused", "", []slack.MsgOption{slack.MsgOptionText("x", false), slack.MsgOptionMetadata(slack.SlackMetadata{EventPayload: map[string]any{"a": 1}})}, "invalid_metadata_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, api := newSlackClient(t)
			opts := tt.opts
			if tt.blocks != "" {
				opts = append(opts, rawBlocks(s, tt.blocks))
			}
			_, _, err := api.PostMessage(alerts, opts...)
			if got := slackErrorCode(err); got != tt.want || (tt.want == "" && err != nil) {
				t.Fatalf("PostMessage error = %v, want %q", err, tt.want)
			}
			rej := s.Rejections()
			if tt.want == "" {
				if len(rej) != 0 || len(s.Messages(alerts)) != 1 {
					t.Errorf("accepted call left rejections %v and %d messages", rej, len(s.Messages(alerts)))
				}
				return
			}
			if len(rej) != 1 || rej[0].Error != tt.want || rej[0].Reason == "" || rej[0].Method != "chat.postMessage" {
				t.Errorf("Rejections() = %v, want one %s with a reason", rej, tt.want)
			}
			if len(s.Messages(alerts)) != 0 {
				t.Error("refused message was stored")
			}
		})
	}
}

func TestSlackUpdateOfUnknownMessage(t *testing.T) {
	s, api := newSlackClient(t)
	_, _, _, err := api.UpdateMessage(alerts, "1700000000.999900", slack.MsgOptionText("x", false))
	if got := slackErrorCode(err); got != "message_not_found" {
		t.Errorf("UpdateMessage error = %v, want message_not_found", err)
	}
	if r := s.Rejections(); len(r) != 1 || r[0].Method != "chat.update" {
		t.Errorf("Rejections() = %v", r)
	}
}

func TestSlackFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		check      func(t *testing.T, err error)
		wantStored bool
	}{
		{
			name:  "429 surfaces as RateLimitedError with Retry-After rounded up",
			fault: Fault{Status: http.StatusTooManyRequests, RetryAfter: 2500 * time.Millisecond},
			check: func(t *testing.T, err error) {
				var rl *slack.RateLimitedError
				if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
					t.Errorf("error = %#v, want *slack.RateLimitedError after 3s", err)
				}
			},
		},
		{
			name:  "429 without RetryAfter still carries Retry-After",
			fault: Fault{Status: http.StatusTooManyRequests},
			check: func(t *testing.T, err error) {
				var rl *slack.RateLimitedError
				if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
					t.Errorf("error = %#v, want *slack.RateLimitedError after 1s", err)
				}
			},
		},
		{
			name:  "503 surfaces as StatusCodeError",
			fault: Fault{Status: http.StatusServiceUnavailable},
			check: func(t *testing.T, err error) {
				var sc slack.StatusCodeError
				if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
					t.Errorf("error = %#v, want slack.StatusCodeError 503", err)
				}
			},
		},
		{
			name:  "Error answers ok=false with HTTP 200",
			fault: Fault{Error: "fatal_error"},
			check: func(t *testing.T, err error) {
				if got := slackErrorCode(err); got != "fatal_error" {
					t.Errorf("error = %v, want fatal_error", err)
				}
			},
		},
		{
			name:       "lost response fails the call although the message is posted",
			fault:      Fault{LoseResponse: true},
			wantStored: true,
			check: func(t *testing.T, err error) {
				var sc slack.StatusCodeError
				if err == nil || errors.As(err, &sc) || slackErrorCode(err) != "" {
					t.Errorf("error = %v, want a transport error", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, api := newSlackClient(t)
			s.Fail("chat.postMessage", tt.fault)
			_, _, err := api.PostMessage(alerts, slack.MsgOptionText("hi", false))
			tt.check(t, err)
			if got := len(s.Messages(alerts)); (got == 1) != tt.wantStored {
				t.Errorf("%d messages stored, want stored=%v", got, tt.wantStored)
			}
			if got := s.Calls("chat.postMessage"); got != 1 {
				t.Errorf("Calls = %d, want 1 (slack-go does not retry by default)", got)
			}
			// The fault is used up: the next call goes through.
			if _, _, err := api.PostMessage(alerts, slack.MsgOptionText("again", false)); err != nil {
				t.Errorf("call after the fault: %v", err)
			}
			assertNoRejections(t, s)
		})
	}
}

func TestSlackDelayHonoursClientTimeout(t *testing.T) {
	s, api := newSlackClient(t)
	s.Fail("chat.postMessage", Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := api.PostMessageContext(ctx, alerts, slack.MsgOptionText("hi", false))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the client waited for the whole delay")
	}
	if n := len(s.Messages(alerts)); n != 0 {
		t.Errorf("%d messages stored by an abandoned call", n)
	}
}

func TestSlackDelayThenAnswers(t *testing.T) {
	s, api := newSlackClient(t)
	s.Fail("chat.update", Fault{Delay: 20 * time.Millisecond})
	_, ts, err := api.PostMessage(alerts, slack.MsgOptionText("a", false))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, _, err := api.UpdateMessage(alerts, ts, slack.MsgOptionText("b", false)); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Error("update answered before the delay")
	}
	if m, _ := s.Message(alerts, ts); m.Text != "b" {
		t.Errorf("Text = %q, want the update applied", m.Text)
	}
}

func TestSlackFaultsQueuePerMethod(t *testing.T) {
	s, api := newSlackClient(t)
	s.Fail("chat.postMessage", Fault{Status: 500}, Fault{Status: 502})
	for _, want := range []int{500, 502} {
		_, _, err := api.PostMessage(alerts, slack.MsgOptionText("x", false))
		var sc slack.StatusCodeError
		if !errors.As(err, &sc) || sc.Code != want {
			t.Errorf("error = %v, want status %d", err, want)
		}
	}
	// Another method's calls do not consume chat.postMessage faults.
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("auth.test: %v", err)
	}
	if _, _, err := api.PostMessage(alerts, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("third post: %v", err)
	}
	if got := s.Calls("chat.postMessage"); got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
}

func TestSlackConcurrentPostsGetUniqueIncreasingTS(t *testing.T) {
	s, api := newSlackClient(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := api.PostMessage(alerts, slack.MsgOptionText(fmt.Sprint(i), false)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	msgs := s.Messages(alerts)
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	for i := 1; i < len(msgs); i++ {
		a, _ := tsMicros(msgs[i-1].TS)
		b, _ := tsMicros(msgs[i].TS)
		if a >= b {
			t.Errorf("ts %s then %s: not increasing", msgs[i-1].TS, msgs[i].TS)
		}
	}
}

func TestSlackAcceptsJSONBodies(t *testing.T) {
	s := NewSlack(t, WithChannels(alerts))
	body := `{"channel":"` + alerts + `","text":"hi","blocks":[{"type":"divider"}],"metadata":{"event_type":"e","event_payload":{"k":"v"}}}`
	req, err := http.NewRequest(http.MethodPost, s.URL()+"chat.postMessage", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	msgs := s.Messages(alerts)
	if len(msgs) != 1 || string(msgs[0].Blocks) != `[{"type":"divider"}]` || !strings.Contains(string(msgs[0].Metadata), `"event_type":"e"`) {
		t.Errorf("Messages() = %+v, want the JSON post stored", msgs)
	}
	assertNoRejections(t, s)
}
