package slacknotify

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/secret"
)

// MetadataType marks stakeout's messages (Slack message metadata,
// https://docs.slack.dev/messaging/message-metadata): each carries the key
// of the delivery that posted it, so a retry can find what an earlier,
// unanswered attempt posted. Reading it back needs the channels:history
// (and groups:history) scope.
const MetadataType = "stakeout_notification"

// Client posts and updates stakeout's messages through slack-go.
type Client struct {
	apiURL string
	// lookback bounds the history searched for an earlier post (pages of
	// 200 messages).
	lookback int

	mu    sync.Mutex
	api   *slack.Client
	token func(context.Context) (secret.Value, error)
	// forget drops a cached token the workspace refused (rotated).
	forget func()
}

// NewClient returns a client with the bot token; apiURL overrides Slack's
// ("" for the real one, a test server's URL in tests).
func NewClient(token secret.Value, apiURL string) *Client {
	return &Client{api: newAPI(token, apiURL), apiURL: apiURL, lookback: 5}
}

// NewClientFromSecret returns a client whose bot token is the secret ref,
// resolved on first use rather than at start: a Lambda whose token secret
// is missing still records alerts, and its notifications wait in the
// outbox (each failed delivery says why) until the secret exists.
func NewClientFromSecret(secrets secret.Resolver, ref, apiURL string) *Client {
	c := &Client{apiURL: apiURL, lookback: 5,
		token: func(ctx context.Context) (secret.Value, error) { return secrets.Resolve(ctx, ref) }}
	if f, ok := secrets.(interface{ Forget(string) }); ok {
		c.forget = func() { f.Forget(ref) }
	}
	return c
}

func newAPI(token secret.Value, apiURL string) *slack.Client {
	var opts []slack.Option
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return slack.New(token.Reveal(), opts...)
}

// client returns the slack-go client, resolving the token the first time.
func (c *Client) client(ctx context.Context) (*slack.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != nil {
		return c.api, nil
	}
	tok, err := c.token(ctx)
	if err != nil {
		// Every notification's problem: the outbox keeps them until the
		// secret is fixed.
		return nil, &notify.Error{Retry: true, Global: true, Reason: "slack bot token unavailable", Err: fmt.Errorf("slack bot token: %w", err)}
	}
	c.api = newAPI(tok, c.apiURL)
	return c.api, nil
}

// Post posts m to channel — in the thread of threadTS when it is set —
// tagged with key, and returns the message's ts. When an earlier attempt
// may have posted it (mayExist: a previous attempt failed, perhaps after
// Slack had posted), it first looks for a message tagged with key among
// the channel's (or the thread's) latest messages, and returns that one
// instead of posting twice. One try: the delivery core retries.
//
// The search is not bounded by time: stakeout's clock (an event's, in a
// replay) and Slack's need not agree, and a lost post is always recent.
func (c *Client) Post(ctx context.Context, channel, threadTS string, m Message, key string, mayExist bool) (string, error) {
	api, err := c.client(ctx)
	if err != nil {
		return "", err
	}
	if mayExist {
		ts, err := c.find(ctx, api, channel, threadTS, key)
		if err != nil || ts != "" {
			return ts, err
		}
	}
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataType, EventPayload: map[string]any{"key": key}})}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	_, ts, err := api.PostMessageContext(ctx, channel, opts...)
	if err == nil && ts == "" {
		// slack-go reports {"ok":false} without an error code as
		// success: nothing says whether it posted.
		return "", &notify.Error{Retry: true, Unanswered: true, Reason: "no ts", Err: fmt.Errorf("chat.postMessage %s: answer without a message ts", channel)}
	}
	if err != nil {
		return "", c.classify(err, "chat.postMessage", channel)
	}
	return ts, nil
}

// Update replaces the blocks of the message at ts. Updating is idempotent:
// repeating it after a lost answer changes nothing.
func (c *Client) Update(ctx context.Context, channel, ts string, m Message) error {
	api, err := c.client(ctx)
	if err != nil {
		return err
	}
	_, _, _, err = api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...))
	return c.classify(err, "chat.update", channel)
}

// find returns the ts of the message tagged with key among the latest
// lookback pages of the channel (or the thread), or "" if there is none.
func (c *Client) find(ctx context.Context, api *slack.Client, channel, threadTS, key string) (string, error) {
	cursor := ""
	for range c.lookback {
		var msgs []slack.Message
		var more bool
		var err error
		if threadTS != "" {
			msgs, more, cursor, err = api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: threadTS, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
			err = c.classify(err, "conversations.replies", channel)
		} else {
			var h *slack.GetConversationHistoryResponse
			h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: channel, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
			err = c.classify(err, "conversations.history", channel)
			if h != nil {
				msgs, more, cursor = h.Messages, h.HasMore, h.ResponseMetaData.NextCursor
			}
		}
		var ne *notify.Error
		if errors.As(err, &ne) && (!ne.Retry || ne.Reason == "missing_scope") {
			// Cannot look (no channels:history scope, say): posting risks
			// a duplicate, not posting risks losing the alert. Post.
			return "", nil
		}
		if err != nil {
			return "", err
		}
		for _, msg := range msgs {
			if msg.Metadata.EventType == MetadataType && msg.Metadata.EventPayload["key"] == key {
				return msg.Timestamp, nil
			}
		}
		if !more || cursor == "" {
			return "", nil
		}
	}
	return "", nil
}

// Slack error codes retrying cannot fix: the channel, the app's scopes or
// the message itself is wrong. Everything else Slack answers with
// ok:false is taken as transient.
var permanentErrors = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"no_permission": true, "invalid_blocks": true, "invalid_blocks_format": true,
	"msg_too_long": true, "no_text": true, "too_many_attachments": true, "message_not_found": true,
	"cant_update_message": true, "edit_window_closed": true, "restricted_action": true,
	"restricted_action_read_only_channel": true, "restricted_action_thread_only_channel": true,
	"restricted_action_non_threadable_channel": true, "ekm_access_denied": true, "invalid_arguments": true,
	"invalid_metadata_format": true, "invalid_metadata_schema": true, "metadata_too_large": true,
	"thread_not_found": true, "org_login_required": true,
	"invalid_thread_ts": true, "method_deprecated": true,
	"duplicate_channel_not_found": true, "slack_connect_file_link_sharing_blocked": true,
}

// authErrors mean the bot token (or the app's scopes) is refused: no
// notification can go out until someone fixes it, and none should be
// given up meanwhile.
var authErrors = map[string]bool{
	"missing_scope": true, "invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "not_allowed_token_type": true, "team_access_not_granted": true,
}

// maybeDone are errors Slack documents as "some aspect of the operation
// may have succeeded": a retry must look before posting again.
var maybeDone = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true,
}

// classify turns slack-go's errors into notify.Errors. The token travels
// in the request body only, so no error text carries it. A refused token
// is dropped, so that the next call reads the secret again (it may have
// been rotated).
func (c *Client) classify(err error, method, channel string) error {
	e := classify(err, method, channel)
	var ne *notify.Error
	if errors.As(e, &ne) && ne.Global && ne.Reason != "missing_scope" {
		c.mu.Lock()
		if c.token != nil {
			c.api = nil
			if c.forget != nil {
				c.forget()
			}
		}
		c.mu.Unlock()
	}
	return e
}

func classify(err error, method, channel string) error {
	if err == nil {
		return nil
	}
	what := method + " " + channel
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &notify.Error{Retry: true, After: rl.RetryAfter, Reason: "ratelimited", Err: fmt.Errorf("%s: rate limited, retry after %s", what, rl.RetryAfter)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		reason := fmt.Sprintf("http %d", sc.Code)
		return &notify.Error{Retry: notify.RetryableStatus(sc.Code), Unanswered: sc.Code >= 500, Reason: reason, Err: fmt.Errorf("%s: %s", what, reason)}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return &notify.Error{Retry: !permanentErrors[se.Err], Global: authErrors[se.Err], Unanswered: maybeDone[se.Err],
			Reason: se.Err, Err: fmt.Errorf("%s: %s", what, se.Err)}
	}
	// No answer at all: a network error, a timeout, a lost response.
	return &notify.Error{Retry: true, Unanswered: true, Reason: "no answer", Err: fmt.Errorf("%s: no answer: %w", what, err)}
}
