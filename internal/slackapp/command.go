package slackapp

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// reply is a slash command's answer: ephemeral, seen by the caller only,
// unless it is for the channel (a quiet window made).
type reply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
	// Blocks, when set, are shown instead of Text (which notifications
	// and screen readers still use).
	Blocks []slack.Block `json:"blocks,omitempty"`
}

func ephemeralReply(format string, args ...any) reply {
	return reply{ResponseType: "ephemeral", Text: fmt.Sprintf(format, args...)}
}

// Usage is the slash command's help.
const Usage = "*/stakeout* commands:\n" +
	"• `/stakeout who <model>` — the owners of a model, per role, and who is next\n" +
	"• `/stakeout open` — the open alerts of the owners you belong to\n" +
	"• `/stakeout retrain <model> [reason]` — ask the pipeline for a retrain (model owners only)\n" +
	"• `/stakeout rollback <model> [version] [reason]` — ask the pipeline for a rollback, to `version` or to the last one without an open alert (model owners only)\n" +
	"• `/stakeout drill [owner]` — a fire drill: a test alert, marked as one, through the owner's Slack and PagerDuty, to acknowledge within its window (the owner's members and its escalation chain's)\n" +
	"• `/stakeout quiet <model> [rule] for 2h because <reason>` — a maintenance window from now: alerts recorded, nobody told until it ends (the model's owners' members); `/stakeout quiet list` lists them, each with an End quiet button"

// command answers /stakeout. signed is the digest of the request's signed
// bytes (signedDigest).
func (a *App) command(ctx context.Context, form url.Values, signed string) reply {
	user, name := form.Get("user_id"), form.Get("user_name")
	fields := strings.Fields(form.Get("text"))
	if len(fields) == 0 {
		return ephemeralReply("%s", Usage)
	}
	switch verb, args := strings.ToLower(fields[0]), fields[1:]; verb {
	case "who":
		if len(args) != 1 {
			return ephemeralReply("Usage: `/stakeout who <model>`")
		}
		return a.who(args[0])
	case "open":
		return a.open(ctx, user)
	case "retrain", "rollback":
		if len(args) == 0 {
			return ephemeralReply("Usage: `/stakeout %s <model> …`", verb)
		}
		return a.request(ctx, verb, args, user, name, a.requestOnce(form.Get("trigger_id"), "", user, signed))
	case "drill":
		return a.drill(ctx, args, user, name, a.requestOnce(form.Get("trigger_id"), "", user, signed))
	case "quiet":
		return a.quietCommand(ctx, args, user, name, form.Get("channel_id"), a.requestOnce(form.Get("trigger_id"), "", user, signed))
	default:
		return ephemeralReply("Unknown command `%s`.\n%s", escape(verb), Usage)
	}
}

func (a *App) who(model string) reply {
	m := a.Config.Models[model]
	if m == nil {
		return ephemeralReply("stakeout knows no model `%s`. Models: %s.", escape(model), strings.Join(slices.Sorted(maps.Keys(a.Config.Models)), ", "))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* (stakes %s)", escape(m.ID), m.Stakes)
	if m.Description != "" {
		fmt.Fprintf(&b, " — %s", escape(m.Description))
	}
	for _, role := range config.Roles {
		id := m.Owners[role]
		o := a.Config.Owners[id]
		if o == nil {
			fmt.Fprintf(&b, "\n• %s: `%s` (no owner file)", role, escape(id))
			continue
		}
		fmt.Fprintf(&b, "\n• %s: *%s* (`%s`)", role, escape(cmp.Or(o.Name, o.ID)), o.ID)
		if o.Slack.Channel != "" {
			fmt.Fprintf(&b, " in <#%s>", o.Slack.Channel)
		}
		if len(o.Escalation) > 0 {
			fmt.Fprintf(&b, ", escalates to %s", strings.Join(o.Escalation, " → "))
		}
	}
	return ephemeralReply("%s", b.String())
}

// open lists the open alert groups of the caller's owners.
func (a *App) open(ctx context.Context, user string) reply {
	mine := a.ownersOf(user)
	if len(mine) == 0 {
		return ephemeralReply("You are not a member of any owner (slack.members in owners/*.yaml), so no alert is yours.")
	}
	groups, err := a.Store.OpenGroups(ctx)
	if err != nil {
		a.log().ErrorContext(ctx, "could not list open alerts", "error", err)
		return ephemeralReply("⚠️ stakeout could not read the open alerts just now; try again.")
	}
	var lines []string
	for _, g := range groups {
		if !slices.Contains(mine, g.Owner) && !slices.Contains(mine, g.Base) {
			continue
		}
		state := "open"
		switch {
		case !g.SnoozedUntil.IsZero():
			state = "snoozed until " + g.SnoozedUntil.UTC().Format("Jan 2 15:04 UTC")
		case g.Acked():
			state = "acknowledged"
		case !g.EscalateAt.IsZero():
			state = "unacknowledged, escalates " + g.EscalateAt.UTC().Format("Jan 2 15:04 UTC")
		}
		lines = append(lines, fmt.Sprintf("• *%s* · %s — %d alert(s), with `%s`, %s, since %s", escape(g.Model), escape(g.Rule),
			g.Open, g.Owner, state, g.Opened.UTC().Format("Jan 2 15:04 UTC")))
	}
	if len(lines) == 0 {
		return ephemeralReply("No open alerts for %s. 🎉", strings.Join(mine, ", "))
	}
	return ephemeralReply("Open alerts for %s:\n%s", strings.Join(mine, ", "), strings.Join(lines, "\n"))
}

// request asks for a retrain or a rollback of a model, attached to its
// most recent open alert group (the request needs an alert to answer to),
// once however often the command arrives.
func (a *App) request(ctx context.Context, verb string, args []string, user, name string, once lifecycle.Once) reply {
	model := args[0]
	if a.Config.Models[model] == nil {
		return ephemeralReply("stakeout knows no model `%s`.", escape(model))
	}
	groups, err := a.Store.OpenGroups(ctx)
	if err != nil {
		return ephemeralReply("⚠️ stakeout could not read the open alerts just now; try again.")
	}
	var latest *state.Group
	for _, g := range groups {
		if g.Model == model && (latest == nil || g.Opened.After(latest.Opened)) {
			latest = g
		}
	}
	if latest == nil {
		return ephemeralReply("%s has no open alert: a %s request is made from an alert (stakeout records it on the alert's trail).", escape(model), verb)
	}
	c := lifecycle.Change{Action: lifecycle.Retrain, Group: latest.ID, By: lifecycle.Actor{ID: "slack:" + user, Name: name}, Once: once}
	rest := args[1:]
	if verb == "rollback" {
		c.Action = lifecycle.Rollback
		if len(rest) > 0 {
			versions, err := a.Store.Versions(ctx, model)
			if err != nil {
				return ephemeralReply("⚠️ stakeout could not read the versions of %s just now; try again.", escape(model))
			}
			switch {
			case slices.ContainsFunc(versions, func(v state.ModelVersion) bool { return v.Version == rest[0] }):
				c.Target, rest = rest[0], rest[1:]
			case looksLikeVersion().MatchString(rest[0]):
				// Never swap a version the user picked for another.
				var known []string
				for _, v := range versions {
					known = append(known, v.Version)
				}
				return ephemeralReply("stakeout has not seen version `%s` of %s (seen: %s). Nothing was requested.",
					escape(rest[0]), escape(model), cmp.Or(strings.Join(known, ", "), "none"))
			}
		}
	}
	c.Reason = strings.Join(rest, " ")
	res, err := a.apply(ctx, c, user)
	if err != nil {
		a.log().ErrorContext(ctx, "request failed", "error", err)
		return ephemeralReply("%s", failed(err, "⚠️ stakeout could not record the request just now; nothing was sent. Try again."))
	}
	if res.Done && len(res.Queued) > 0 && a.Deliver != nil {
		if err := a.Deliver(ctx, res.Queued); err != nil {
			a.log().WarnContext(ctx, "request left to the outbox", "error", err)
		}
	}
	return ephemeralReply("%s", res.Message)
}

// looksLikeVersion tells a version ("2026.02.1", "v12", "41") from the
// first word of a reason; compiled at the first command that needs it,
// not at the start of every function that links the package.
var looksLikeVersion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v?[0-9][0-9A-Za-z._+-]*$`) })

// ownersOf are the owners whose slack.members list the user.
func (a *App) ownersOf(user string) []string {
	var out []string
	for id, o := range a.Config.Owners {
		if slices.Contains(o.Slack.Members, user) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// escape makes user-typed text inert in mrkdwn.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
