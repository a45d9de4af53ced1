package slackapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stakeout-ml/stakeout/internal/drill"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// drill starts a fire drill of an owner (the caller's, when they belong
// to one only). Who may drill an owner is who may act on its alerts: its
// members and those of the owners on its escalation chain.
func (a *App) drill(ctx context.Context, args []string, user, name string, once lifecycle.Once) reply {
	mine := a.ownersOf(user)
	var owner string
	switch {
	case len(args) > 1:
		return ephemeralReply("Usage: `/stakeout drill [owner]`")
	case len(args) == 1:
		owner = args[0]
	case len(mine) == 1:
		owner = mine[0]
	case len(mine) == 0:
		return ephemeralReply("You are not a member of any owner (slack.members in owners/*.yaml): name the owner to drill, `/stakeout drill <owner>`.")
	default:
		return ephemeralReply("You belong to %s: name the one to drill, `/stakeout drill <owner>`.", strings.Join(mine, ", "))
	}
	p, err := drill.PlanFor(a.Config, owner)
	if err != nil {
		return ephemeralReply("%s", escape(err.Error()))
	}
	allowed := []string{owner}
	if o := a.Config.Owners[owner]; o != nil {
		allowed = append(allowed, o.Escalation...)
	}
	if !a.member(allowed, user) {
		return ephemeralReply("🚫 Not allowed: only members of %s may drill %s (the owners files list them).", strings.Join(allowed, ", "), owner)
	}
	s, err := drill.Start(ctx, a.Store, a.Config, p, lifecycle.Actor{ID: "slack:" + user, Name: name}, once, a.now())
	switch {
	case errors.Is(err, state.ErrDuplicate):
		return ephemeralReply("%s", lifecycle.AlreadyDone)
	case errors.Is(err, drill.ErrRunning):
		return ephemeralReply("A drill of %s is under way already: acknowledge it (it ends at its deadline otherwise).", owner)
	case err != nil:
		a.log().ErrorContext(ctx, "drill not started", "owner", owner, "error", err)
		return ephemeralReply("⚠️ stakeout could not start the drill just now; nothing was sent. Try again.")
	}
	if a.Deliver != nil {
		if err := a.Deliver(ctx, s.Queued); err != nil {
			a.log().WarnContext(ctx, "drill left to the outbox", "error", err)
		}
	}
	where := []string{}
	if slices.Contains(p.Notify, "slack") {
		where = append(where, fmt.Sprintf("<#%s>", a.Config.Owners[owner].Slack.Channel))
	}
	if slices.Contains(p.Notify, "pagerduty") {
		where = append(where, "PagerDuty")
	}
	return ephemeralReply("🧯 Drill of %s started: a test alert marked as one went to %s. Someone must acknowledge it within %s; the outcome goes to the audit trail (`stakeout audit --drills`).",
		owner, strings.Join(where, " and "), duration.Format(p.AckWithin))
}
