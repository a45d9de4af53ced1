// Package slackapp answers Slack: the buttons and menu of stakeout's alert
// messages (interactivity) and the /stakeout slash command. It is an
// http.Handler behind a Lambda Function URL.
//
// Every request is verified first (X-Slack-Signature over the raw body,
// timestamp within 5 minutes): anything else gets 401 and changes nothing.
// A button press is authorised against the owner files — only members of
// the alert's owner, or of an owner on its escalation chain, may act; only
// members of the model's `model` owner may ask for a retrain or a rollback
// — then applied as one conditional write (internal/lifecycle), audited
// with the Slack user, and the message is updated through the outbox.
// Slack wants an answer within 3 seconds: the work is bounded by Budget,
// and what does not fit (a slow Slack API) is left to the outbox, which the
// escalator drains every minute.
//
// A signed request stays valid for the 5 minutes of its timestamp, so a copy
// of one could be sent again: every click and command that changes an alert
// is recorded by its Slack id in the change's own write (see requestOnce),
// and a repeat is answered "Already done" — a 200 with an ephemeral reply,
// nothing Slack would retry — and changes nothing.
package slackapp

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/funcurl"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is what the app needs of a store.
type Store interface {
	lifecycle.Store
	OpenGroups(ctx context.Context) ([]*state.Group, error)
	Versions(ctx context.Context, model string) ([]state.ModelVersion, error)
	Timelines
	// GetQuiets and GetSchedule: windows made from Slack (internal/quiet).
	GetQuiets(ctx context.Context, model string) (*state.Quiets, error)
	GetSchedule(ctx context.Context, name string) (*state.Schedule, error)
}

// App answers Slack.
type App struct {
	Config *config.Config
	Store  Store
	// Deliver sends the notifications a change queued (deliver.Sender's
	// Deliver); it must respect the context's deadline.
	Deliver func(ctx context.Context, ids []string) error
	// SigningSecret returns the Slack app's signing secret.
	SigningSecret func(ctx context.Context) ([]byte, error)
	Now           func() time.Time
	Log           *slog.Logger
	// HTTP posts to Slack's response_url (default: a client with a 2 s
	// timeout).
	HTTP *http.Client
	// Budget bounds the work of one request (default 2.5 s: Slack's 3 s
	// less the way back).
	Budget time.Duration
}

// DefaultBudget leaves half a second of Slack's 3 for the network.
const DefaultBudget = 2500 * time.Millisecond

// MaxBody bounds a request body (Slack's interaction payloads are a few KB;
// a message with many blocks is echoed back, up to some tens).
const MaxBody = 512 << 10

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *App) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ServeHTTP verifies the request and dispatches it: an interaction
// (form field "payload") or a slash command (form field "command").
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := funcurl.ReadPost(w, r, MaxBody)
	if !ok {
		return
	}
	budget := a.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	secret, err := a.SigningSecret(ctx)
	if err != nil {
		// Our misconfiguration, not the caller's fault: never a 401 that
		// would look like a forged request.
		a.log().ErrorContext(ctx, "no Slack signing secret", "error", err)
		http.Error(w, "stakeout cannot verify Slack requests: its signing secret is not configured", http.StatusInternalServerError)
		return
	}
	if err := signature.VerifySlack(secret, r.Header, body, a.now()); err != nil {
		a.log().WarnContext(ctx, "rejected a Slack request", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "body is not a form", http.StatusBadRequest)
		return
	}
	signed := signedDigest(r.Header.Get(signature.SlackTimestampHeader), body)
	switch {
	case form.Get("payload") != "":
		var ic slack.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &ic); err != nil {
			http.Error(w, "payload is not an interaction", http.StatusBadRequest)
			return
		}
		a.interaction(ctx, &ic, signed)
		w.WriteHeader(http.StatusOK)
	case form.Get("command") != "":
		reply := a.command(ctx, form, signed)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	default:
		http.Error(w, "neither an interaction nor a slash command", http.StatusBadRequest)
	}
}

// interaction handles a button press or a menu choice on an alert message.
// signed is the digest of the request's signed bytes (signedDigest).
func (a *App) interaction(ctx context.Context, ic *slack.InteractionCallback, signed string) {
	if ic.Type != slack.InteractionTypeBlockActions || len(ic.ActionCallback.BlockActions) == 0 {
		return // nothing stakeout sends asks for anything else
	}
	act := ic.ActionCallback.BlockActions[0]
	if act.ActionID == ActionEndQuiet {
		a.endQuiet(ctx, ic, act)
		return
	}
	group := act.Value
	if act.ActionID == slacknotify.ActionMore || group == "" {
		group = strings.TrimPrefix(act.BlockID, "g:")
	}
	user := ic.User.ID
	log := a.log().With("slack_user", user, "action", act.ActionID, "group", group)
	change, err := a.change(act, group, user, ic.User.Name)
	if err != nil {
		log.WarnContext(ctx, "unknown Slack action", "error", err)
		a.ephemeral(ctx, ic.ResponseURL, "stakeout does not know this action: "+err.Error())
		return
	}
	change.Once = a.requestOnce(ic.TriggerID, cmp.Or(act.ActionTs, ic.ActionTs), user, signed)
	res, err := a.apply(ctx, change, user)
	if err != nil {
		log.ErrorContext(ctx, "Slack action failed", "error", err)
		a.ephemeral(ctx, ic.ResponseURL, failed(err, "⚠️ stakeout could not record that (its store did not answer in time). Nothing changed; please try again."))
		return
	}
	log.InfoContext(ctx, "Slack action", "done", res.Done, "duplicate", res.Duplicate, "request", change.Once.ID, "message", res.Message)
	if !res.Done {
		a.ephemeral(ctx, ic.ResponseURL, res.Message)
		return
	}
	if len(res.Queued) > 0 && a.Deliver != nil {
		// The message updates through the outbox: now if Slack answers in
		// time, else within a minute (the escalator drains the outbox).
		if err := a.Deliver(ctx, res.Queued); err != nil {
			log.WarnContext(ctx, "message update left to the outbox", "error", err)
		}
	}
}

// failed is what the user is told when a change could not be made: msg,
// or, when the rollback target could not be checked, that.
func failed(err error, msg string) string {
	if errors.Is(err, errTimeline) {
		return "⚠️ stakeout could not read the model's version timeline to check the rollback target (its store did not answer in time). Nothing was requested; please try again."
	}
	return msg
}

// RequestMemory is how long a Slack request's id is remembered. A copy of a
// request verifies while its timestamp is within signature.MaxSkew of our
// clock, and that timestamp was at most MaxSkew ahead of the clock when the
// request was first accepted: a copy can pass for at most 2 × MaxSkew after
// that. An hour covers it with room for our clock being stepped.
const RequestMemory = time.Hour

// requestOnce names a Slack request for lifecycle.Change.Once: by its
// trigger_id, which Slack makes for each click and each command; without
// one, by the action's timestamp and the user; without those either, by
// the digest of the signed bytes, which a copy repeats exactly (the
// signature covers the timestamp and the whole body).
func (a *App) requestOnce(triggerID, actionTS, user, signed string) lifecycle.Once {
	id := "slack:request:" + signed
	switch {
	case triggerID != "":
		id = "slack:trigger:" + triggerID
	case actionTS != "" && user != "":
		id = "slack:action:" + actionTS + ":" + user
	}
	return lifecycle.Once{ID: id, Expires: a.now().Add(RequestMemory)}
}

// signedDigest identifies a request by what its signature covers.
func signedDigest(timestamp string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(timestamp + ":"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// change maps a Slack action to a lifecycle change.
func (a *App) change(act *slack.BlockAction, group, user, name string) (lifecycle.Change, error) {
	c := lifecycle.Change{Group: group, By: lifecycle.Actor{ID: "slack:" + user, Name: name}}
	switch act.ActionID {
	case slacknotify.ActionAcknowledge:
		c.Action = lifecycle.Acknowledge
	case slacknotify.ActionResolve:
		c.Action = lifecycle.Resolve
	case slacknotify.ActionMore:
		v := act.SelectedOption.Value
		switch {
		case v == slacknotify.OptionSnooze1h, v == slacknotify.OptionSnooze4h, v == slacknotify.OptionSnooze24h:
			d, _ := time.ParseDuration(strings.TrimPrefix(v, "snooze:"))
			c.Action, c.Until = lifecycle.Snooze, a.now().Add(d)
		case v == slacknotify.OptionEscalate:
			c.Action = lifecycle.Escalate
		case strings.HasPrefix(v, slacknotify.OptionReassignPrefix):
			c.Action, c.Role = lifecycle.Reassign, strings.TrimPrefix(v, slacknotify.OptionReassignPrefix)
		case v == slacknotify.OptionFalseAlarm:
			c.Action = lifecycle.FalseAlarm
		case v == slacknotify.OptionRetrain:
			c.Action = lifecycle.Retrain
		case v == slacknotify.OptionRollback:
			c.Action = lifecycle.Rollback
		default:
			return c, fmt.Errorf("menu option %q", v)
		}
	default:
		return c, fmt.Errorf("action %q", act.ActionID)
	}
	return c, nil
}

// apply authorises and makes the change. A refusal is a Result with a
// message, not an error.
func (a *App) apply(ctx context.Context, c lifecycle.Change, user string) (lifecycle.Result, error) {
	model, rule, ok := state.GroupRule(c.Group)
	if !ok {
		return lifecycle.Result{Message: "This message does not name an alert group stakeout knows."}, nil
	}
	g, err := a.Store.GetGroup(ctx, model, rule)
	if err != nil {
		return lifecycle.Result{}, err
	}
	if g == nil || g.ID != c.Group {
		return lifecycle.Result{Message: lifecycle.Replaced}, nil
	}
	switch c.Action {
	case lifecycle.Retrain, lifecycle.Rollback:
		if state.IsDrill(model) {
			return lifecycle.Result{Message: lifecycle.NotForDrills}, nil // no model to retrain
		}
		if !a.modelMember(model, user) {
			return lifecycle.Result{Message: fmt.Sprintf("🚫 Not allowed: only members of %s's model owner (%s) may ask for a retrain or a rollback.",
				model, a.Config.Models[model].Owners["model"])}, nil
		}
		if c.Action == lifecycle.Rollback && c.Target == "" {
			// Not picked (the button): the last version that looked healthy.
			rb, err := a.rollbackTarget(ctx, g)
			if err != nil {
				return lifecycle.Result{}, err
			}
			if rb.refuse != "" {
				return lifecycle.Result{Message: rb.refuse}, nil
			}
			c.Target, c.TargetNote = rb.target, rb.note
		}
	default:
		allowed, err := a.allowed(ctx, g)
		if err != nil {
			return lifecycle.Result{}, err
		}
		if !a.member(allowed, user) {
			return lifecycle.Result{Message: fmt.Sprintf("🚫 Not allowed: only members of %s may act on this alert (the owners files list them).",
				strings.Join(allowed, ", "))}, nil
		}
	}
	m := &lifecycle.Manager{Config: a.Config, Store: a.Store, Now: a.Now, Log: a.Log}
	return m.Apply(ctx, c)
}

// allowed are the owners whose members may act on a group: the owner it
// is with, the rule's owner it started with, the owner it came from, and
// every owner on their escalation chains.
func (a *App) allowed(ctx context.Context, g *state.Group) ([]string, error) {
	start := []string{g.Owner, g.Base, g.From}
	if len(g.Members) > 0 {
		lead, err := a.Store.GetAlert(ctx, g.Members[0])
		if err != nil {
			return nil, fmt.Errorf("read alert %s: %w", g.Members[0], err)
		}
		if lead != nil {
			start = append(start, lead.Owner)
		}
	}
	var out []string
	add := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, id := range start {
		add(id)
		if o := a.Config.Owners[id]; o != nil {
			for _, e := range o.Escalation {
				add(e)
			}
		}
	}
	return out, nil
}

func (a *App) member(owners []string, user string) bool {
	for _, id := range owners {
		if o := a.Config.Owners[id]; o != nil && slices.Contains(o.Slack.Members, user) {
			return true
		}
	}
	return false
}

func (a *App) modelMember(model, user string) bool {
	m := a.Config.Models[model]
	return m != nil && a.member([]string{m.Owners["model"]}, user)
}

// Timelines reads a model's version timeline: the registry's approvals
// and the deploys, as the router records them (pipeline.Timelines).
type Timelines interface {
	Timeline(ctx context.Context, model string) (*state.Timeline, error)
}

// errTimeline marks a version timeline that could not be read: without it
// the rollback target cannot be checked, so nothing is requested.
var errTimeline = errors.New("the version timeline could not be read")

// rollback is what a Rollback press asks for.
type rollback struct {
	target string // "": the pipeline chooses
	note   string // why target is not the version the alert showed
	refuse string // set: nothing is requested, and the user is told this
}

// rollbackTarget is the version the model's registry timeline approves,
// now, before the group's live version (its alert's Release), unless an
// open alert names it; else the latest version seen before the live one
// that no open alert names and the registry has not revoked: the last one
// that looked healthy. The alert's stored target is checked at the press,
// not trusted: the registry may have rejected it since the alert opened.
func (a *App) rollbackTarget(ctx context.Context, g *state.Group) (rollback, error) {
	versions, err := a.Store.Versions(ctx, g.Model)
	if err != nil {
		return rollback{}, fmt.Errorf("read versions of %s: %w", g.Model, err)
	}
	tl, err := a.Store.Timeline(ctx, g.Model)
	if err != nil {
		return rollback{}, fmt.Errorf("%w: %s: %w", errTimeline, g.Model, err)
	}
	bad, lead, err := a.openVersions(ctx, g)
	if err != nil {
		return rollback{}, err
	}
	var rb rollback
	live := ""
	if lead != nil {
		live = lead.ModelVersion
		if lead.Release != nil {
			if rb = previousApproved(tl, lead); rb.refuse != "" || !bad[rb.target] {
				return rb, nil
			}
		}
	}
	if live == "" && len(versions) > 0 {
		// The alerts do not say (a CloudWatch alarm carries no version):
		// the newest version seen is taken as the live one.
		live = versions[len(versions)-1].Version
	}
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i].Version
		if v == live || bad[v] || revoked(tl.Approval(v)) {
			continue
		}
		if live == "" || versionBefore(versions, v, live) {
			return rollback{target: v, note: rb.note}, nil
		}
	}
	return rollback{}, nil
}

// openVersions are the model versions the model's open alerts name (none
// is a rollback target), and g's first open alert that names one.
func (a *App) openVersions(ctx context.Context, g *state.Group) (map[string]bool, *state.Alert, error) {
	groups, err := a.Store.OpenGroups(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read open alerts: %w", err)
	}
	bad := map[string]bool{}
	var lead *state.Alert
	for _, og := range groups {
		if og.Model != g.Model {
			continue
		}
		for _, id := range og.Members {
			al, err := a.Store.GetAlert(ctx, id)
			if err != nil {
				return nil, nil, fmt.Errorf("read alert %s: %w", id, err)
			}
			if al != nil && al.Status == state.Open && al.ModelVersion != "" {
				bad[al.ModelVersion] = true
				if og.ID == g.ID && lead == nil {
					lead = al
				}
			}
		}
	}
	return bad, lead, nil
}

// previousApproved recomputes, on the timeline as it is now, the version
// approved before al's live one (state.Timeline.PreviousApproved), and
// says so when the one al stored was revoked since; with none left it
// refuses rather than roll back to a revoked version or a blind guess.
func previousApproved(tl *state.Timeline, al *state.Alert) rollback {
	r := al.Release
	now := tl.PreviousApproved(signal.VersionChange{Model: al.Model, Version: al.ModelVersion, At: r.LiveSince,
		Change: signal.ChangeDeployed, Environment: r.Environment})
	var why string
	if status := tl.Approval(r.Previous); r.Previous != "" && r.Previous != now && revoked(status) {
		why = r.Previous + " was rejected since the alert opened"
		if status != "Rejected" {
			why = fmt.Sprintf("%s went back to %s since the alert opened", r.Previous, status)
		}
	}
	if now != "" {
		return rollback{target: now, note: why}
	}
	env := cmp.Or(r.Environment, "production")
	refuse := fmt.Sprintf("🚫 No rollback requested: no version approved before %s in %s is known", al.ModelVersion, env)
	if why != "" {
		refuse = fmt.Sprintf("🚫 No rollback requested: %s, and no other version approved before %s in %s is left", why, al.ModelVersion, env)
	}
	return rollback{refuse: refuse + fmt.Sprintf(". To ask for one anyway, name it: `/stakeout rollback %s <version>`.", al.Model)}
}

// revoked reports whether a registry approval status bars a version as a
// rollback target ("": the registry never spoke of it, which does not).
func revoked(status string) bool { return status != "" && status != signal.Approved }

// versionBefore reports whether v was first seen before w.
func versionBefore(vs []state.ModelVersion, v, w string) bool {
	iv := slices.IndexFunc(vs, func(x state.ModelVersion) bool { return x.Version == v })
	iw := slices.IndexFunc(vs, func(x state.ModelVersion) bool { return x.Version == w })
	return iw < 0 || iv < iw
}

// ephemeral tells the user who pressed the button, and only them.
func (a *App) ephemeral(ctx context.Context, responseURL, text string) {
	a.respond(ctx, responseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: false, Text: text})
}

// respond posts msg to a response_url.
func (a *App) respond(ctx context.Context, responseURL string, msg *slack.WebhookMessage) {
	if responseURL == "" {
		return
	}
	u, err := url.Parse(responseURL)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" {
		a.log().WarnContext(ctx, "response_url is not a URL", "error", err)
		return
	}
	client := a.HTTP
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	if err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, client, msg); err != nil && !errors.Is(err, context.Canceled) {
		a.log().WarnContext(ctx, "could not answer the user", "error", err)
	}
}
