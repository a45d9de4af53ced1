package slackapp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/quiet"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// ActionEndQuiet is the "End quiet" button of a window made from Slack;
// its value is the window's name.
const ActionEndQuiet = "stakeout.end_quiet"

// quietUsage is `/stakeout quiet`'s help.
const quietUsage = "Usage: `/stakeout quiet <model> [rule] for <duration> because <reason>` (like `for 2h`, at most 7d), or `/stakeout quiet list`"

// maxListed bounds the windows `/stakeout quiet list` shows with a button
// (Slack allows 50 blocks a message).
const maxListed = 40

// quietCommand answers `/stakeout quiet …`.
func (a *App) quietCommand(ctx context.Context, args []string, user, name, channel string, once lifecycle.Once) reply {
	if len(args) == 1 && strings.EqualFold(args[0], "list") {
		return a.quietList(ctx)
	}
	r, err := parseQuiet(args)
	if err != nil {
		return ephemeralReply("%s\n%s", escape(err.Error()), quietUsage)
	}
	r.By, r.Channel, r.Once = lifecycle.Actor{ID: "slack:" + user, Name: name}, channel, once
	if err := quiet.Check(a.Config, r); err != nil {
		return ephemeralReply("%s", escape(err.Error()))
	}
	if allowed := a.modelOwners(r.Model); !a.member(allowed, user) {
		return ephemeralReply("🚫 Not allowed: only members of %s's owners (%s) may quiet it (the owners files list them).", r.Model, strings.Join(allowed, ", "))
	}
	w, err := quiet.Start(ctx, a.Store, a.Config, r, a.now())
	switch {
	case errors.Is(err, state.ErrDuplicate):
		return ephemeralReply("%s", lifecycle.AlreadyDone)
	case errors.Is(err, quiet.ErrFull):
		return ephemeralReply("%s", escape(err.Error()))
	case err != nil:
		a.log().ErrorContext(ctx, "quiet window not made", "model", r.Model, "error", err)
		return ephemeralReply("⚠️ stakeout could not make the quiet window just now; nothing is silenced. Try again.")
	}
	text := fmt.Sprintf("🔕 <@%s> quieted %s for %s, until %s, because: %s\nAlerts are still recorded; whatever is still open at the end is told then.",
		user, escape(quiet.What(w)), duration.Format(r.For), w.Until.UTC().Format("Jan 2 15:04 UTC"), escape(w.Reason))
	return reply{ResponseType: slack.ResponseTypeInChannel, Text: text, Blocks: windowBlocks([]*state.Quiet{w}, text)}
}

// parseQuiet reads `<model> [rule] for <duration> because <reason>`.
func parseQuiet(args []string) (quiet.Request, error) {
	var r quiet.Request
	i := slices.IndexFunc(args, func(s string) bool { return strings.EqualFold(s, "for") })
	switch {
	case i < 1 || i > 2:
		return r, errors.New("name the model (and a rule, if only one), then `for <duration>`")
	case i+1 >= len(args):
		return r, errors.New("`for` needs a duration, like `for 2h`")
	}
	r.Model = args[0]
	if i == 2 {
		r.Rule = args[1]
	}
	d, err := duration.Parse(args[i+1])
	if err != nil {
		return r, err
	}
	r.For = d
	rest := args[i+2:]
	if len(rest) == 0 || !strings.EqualFold(rest[0], "because") {
		return r, errors.New("say why: `because <reason>`")
	}
	r.Reason = strings.Join(rest[1:], " ")
	return r, nil
}

// quietList lists every model's windows made from Slack that have not
// ended, each with its End quiet button.
func (a *App) quietList(ctx context.Context) reply {
	now := a.now()
	var live []*state.Quiet
	for _, model := range slices.Sorted(maps.Keys(a.Config.Models)) {
		qs, err := a.Store.GetQuiets(ctx, model)
		if err != nil {
			a.log().ErrorContext(ctx, "could not list quiet windows", "model", model, "error", err)
			return ephemeralReply("⚠️ stakeout could not read the quiet windows just now; try again.")
		}
		for i := range qs.Windows {
			if w := &qs.Windows[i]; w.Until.After(now) {
				live = append(live, w)
			}
		}
	}
	if len(live) == 0 {
		return ephemeralReply("No quiet windows made from Slack are running (configured maintenance windows are in rules/*.yaml).")
	}
	text := fmt.Sprintf("%d quiet window(s) running:", len(live))
	for _, w := range live {
		text += "\n" + windowLine(w)
	}
	return reply{ResponseType: slack.ResponseTypeEphemeral, Text: text, Blocks: windowBlocks(live, "")}
}

// windowLine describes a window for people.
func windowLine(w *state.Quiet) string {
	return fmt.Sprintf("• *%s* — %s, until %s, by %s: %s", w.Name, escape(quiet.What(w)), w.Until.UTC().Format("Jan 2 15:04 UTC"),
		escape(pipeline.QuietAuthor(w)), escape(w.Reason))
}

// windowBlocks shows text (or each window's line) with an End quiet
// button per window.
func windowBlocks(ws []*state.Quiet, text string) []slack.Block {
	var out []slack.Block
	if text != "" {
		out = append(out, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil))
	}
	for i, w := range ws {
		if i == maxListed {
			out = append(out, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("and %d more", len(ws)-i), false, false)))
			break
		}
		end := slack.NewButtonBlockElement(ActionEndQuiet, w.Name, slack.NewTextBlockObject(slack.PlainTextType, "End quiet", false, false))
		end.Style = slack.StyleDanger
		if text == "" {
			out = append(out, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, windowLine(w), false, false), nil, slack.NewAccessory(end)))
			continue
		}
		out = append(out, slack.NewActionBlock("q:"+w.Name, end))
	}
	return out
}

// endQuiet answers the End quiet button: a member of the model's owners
// ends the window now; the channel is told, and the escalator's next run
// tells what it silenced and is still open.
func (a *App) endQuiet(ctx context.Context, ic *slack.InteractionCallback, act *slack.BlockAction) {
	name, user := act.Value, ic.User.ID
	model, _, _ := strings.Cut(strings.TrimPrefix(name, state.QuietPrefix), "/")
	if !state.IsQuiet(name) || a.Config.Models[model] == nil {
		a.ephemeral(ctx, ic.ResponseURL, "This button does not name a quiet window stakeout knows.")
		return
	}
	if allowed := a.modelOwners(model); !a.member(allowed, user) {
		a.ephemeral(ctx, ic.ResponseURL, fmt.Sprintf("🚫 Not allowed: only members of %s's owners (%s) may end its quiet window.", model, strings.Join(allowed, ", ")))
		return
	}
	w, err := quiet.End(ctx, a.Store, a.Config, model, name, lifecycle.Actor{ID: "slack:" + user, Name: ic.User.Name}, a.now())
	switch {
	case errors.Is(err, quiet.ErrEnded):
		a.ephemeral(ctx, ic.ResponseURL, fmt.Sprintf("Quiet window %s has already ended.", name))
		return
	case err != nil:
		a.log().ErrorContext(ctx, "quiet window not ended", "window", name, "error", err)
		a.ephemeral(ctx, ic.ResponseURL, "⚠️ stakeout could not end the quiet window just now; it still silences. Please try again.")
		return
	}
	a.respond(ctx, ic.ResponseURL, &slack.WebhookMessage{ResponseType: slack.ResponseTypeInChannel, ReplaceOriginal: false,
		Text: fmt.Sprintf("🔔 <@%s> ended quiet window %s early (%s): what it silenced and is still open is told within a minute.", user, name, escape(quiet.What(w)))})
}

// modelOwners are the owners of a model's roles: their members may quiet
// it.
func (a *App) modelOwners(model string) []string {
	m := a.Config.Models[model]
	if m == nil {
		return nil
	}
	var out []string
	for _, id := range slices.Sorted(maps.Values(m.Owners)) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
