// Package slacknotify is stakeout's voice in Slack: it renders a
// notification as a Block Kit message (one per alert group, updated in
// place, with thread replies for what changed), the daily digest and the
// "could not deliver" notice, and it sends them with slack-go so that a
// retry never posts twice.
//
// Everything that comes from events or from files people edit (summaries,
// feature and segment names, labels, lineage, owner names) is rendered as
// plain_text, which Slack never parses for mentions, links or formatting;
// the few mrkdwn texts hold only values stakeout builds itself (validated
// Slack ids for mentions, an escaped runbook URL). Every length Slack
// limits is a named constant below and every text is cut to fit.
package slacknotify

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Slack's limits, from https://docs.slack.dev/reference/block-kit/blocks,
// .../block-elements and .../composition-objects, and
// https://docs.slack.dev/reference/methods/chat.postMessage (text).
const (
	MaxBlocks          = 50    // blocks in a message
	MaxSectionText     = 3000  // a section's text
	MaxHeaderText      = 150   // a header's plain_text
	MaxFields          = 10    // a section's fields
	MaxFieldText       = 2000  // one field's text
	MaxContextElements = 10    // elements of a context block
	MaxActionElements  = 25    // elements of an actions block
	MaxButtonText      = 75    // a button's text
	MaxActionID        = 255   // an element's action_id
	MaxButtonValue     = 2000  // a button's value
	MaxBlockID         = 255   // a block's block_id
	MaxOptionText      = 75    // an option's text
	MaxOptionValue     = 150   // an option's value
	MaxPlaceholder     = 150   // a select menu's placeholder
	MaxText            = 40000 // a message's top-level text (Slack truncates beyond)
	// MaxTextShown keeps the notification text (what a phone shows) short:
	// Slack's own advice is to stay under 4,000 characters.
	MaxTextShown = 4000
)

// Action ids of the message's interactive elements (functions/slack
// dispatches on them).
const (
	ActionAcknowledge = "stakeout.acknowledge"
	ActionResolve     = "stakeout.resolve"
	ActionMore        = "stakeout.more"
)

// Menu option values (the action behind "More…").
const (
	OptionSnooze1h       = "snooze:1h"
	OptionSnooze4h       = "snooze:4h"
	OptionSnooze24h      = "snooze:24h"
	OptionEscalate       = "escalate"
	OptionReassignPrefix = "reassign:" // + role
	OptionFalseAlarm     = "false-alarm"
	OptionRetrain        = "request-retrain"
	OptionRollback       = "request-rollback"
)

// Message is a rendered Slack message.
type Message struct {
	// Text is the notification text (push notifications, screen readers,
	// clients without blocks). It is mrkdwn to Slack, so it is escaped.
	Text   string
	Blocks []slack.Block
}

var (
	severityIcon  = map[string]string{"critical": "🔴", "high": "🟠", "warning": "🟡", "info": "🔵"}
	severityLabel = map[string]string{"critical": "Critical", "high": "High", "warning": "Warning", "info": "Info"}
)

// Render renders a notification as the group's message: what a channel
// shows, first posted and then updated in place.
func Render(v *notify.View) Message {
	if v.Drill {
		return renderDrill(v)
	}
	resolved := v.Change == state.NoticeResolved
	phase := cmp.Or(v.Phase, notify.PhaseOpen)
	b := builder{}
	b.add(slack.NewHeaderBlock(plain(headline(v, phase, resolved), MaxHeaderText)))
	b.add(slack.NewContextBlock("", mrkdwn(statusLine(v, phase, resolved), MaxSectionText)))
	if v.Description != "" {
		b.add(slack.NewContextBlock("", plain(v.Model+": "+v.Description, MaxSectionText)))
	}
	b.add(slack.NewSectionBlock(plain(v.Summary, MaxSectionText), nil, nil))
	if fields := facts(v); len(fields) > 0 {
		b.add(slack.NewSectionBlock(nil, fields, nil))
	}
	if v.Members > 1 {
		b.add(slack.NewSectionBlock(plain(members(v), MaxSectionText), nil, nil))
	}
	if len(v.Lineage) > 0 {
		b.add(slack.NewContextBlock("", plain(lineageLine(v), MaxSectionText)))
	}
	b.add(slack.NewSectionBlock(mrkdwn(ownerLine(v, resolved), MaxSectionText), nil, nil))
	if next := nextLine(v, phase, resolved); len(next) > 0 {
		b.add(slack.NewContextBlock("", mrkdwn(strings.Join(next, " · "), MaxSectionText)))
	}
	if len(v.Failing) > 0 {
		b.add(slack.NewContextBlock("", plain(failingText(v), MaxSectionText)))
	}
	if !resolved {
		b.add(actions(v, phase == notify.PhaseOpen))
	}

	text := fmt.Sprintf("[%s] %s/%s: %s", strings.ToUpper(v.Severity), v.Model, v.Rule, v.Summary)
	if resolved {
		text = fmt.Sprintf("Resolved: %s/%s", v.Model, v.Rule)
	}
	return Message{Text: escapeText(cut(text, MaxTextShown)), Blocks: b.blocks}
}

// headline is the message's header: severity, model and rule, or how the
// group ended.
func headline(v *notify.View, phase string, resolved bool) string {
	switch {
	case phase == notify.PhaseFalseAlarm:
		return fmt.Sprintf("🚫 False alarm · %s · %s", v.Model, v.Rule)
	case resolved:
		return fmt.Sprintf("✅ Resolved · %s · %s", v.Model, v.Rule)
	}
	return fmt.Sprintf("%s %s · %s · %s", severityIcon[v.Severity], severityLabel[v.Severity], v.Model, v.Rule)
}

// statusLine says where the group stands: its phase, stakes, severity and
// age, who closed, snoozed or acknowledged it, and how often it escalated.
func statusLine(v *notify.View, phase string, resolved bool) string {
	status := fmt.Sprintf("*%s* · stakes *%s* · severity *%s* · opened %s", phase, escape(v.Stakes), escape(v.Severity), when(v.OpenedAt))
	switch {
	case resolved && v.ClosedBy != "":
		status += " · closed by " + v.ClosedBy + " " + when(v.At) + " after " + lasted(v.At.Sub(v.OpenedAt))
	case resolved:
		status += " · resolved " + when(v.At) + " after " + lasted(v.At.Sub(v.OpenedAt))
	case phase == notify.PhaseSnoozed:
		status += " · snoozed by " + v.AckedBy + " until " + when(v.SnoozedUntil)
	case phase == notify.PhaseAcknowledged:
		status += " · acknowledged by " + v.AckedBy + " " + when(v.AckedAt)
	}
	if v.Step > 0 {
		status += fmt.Sprintf(" · escalated %d time(s)", v.Step)
	}
	return status
}

// facts are the alert's fields: why it fired, its value against the
// baseline and lately, where, and its impact (those with nothing to say
// left out, at most MaxFields).
func facts(v *notify.View) []*slack.TextBlockObject {
	var fields []*slack.TextBlockObject
	field := func(label, value string) {
		if value != "" && len(fields) < MaxFields {
			fields = append(fields, plain(label+": "+value, MaxFieldText))
		}
	}
	field("Fired because", v.Why)
	value := expression.FormatNumber(v.Value)
	if v.Baseline != nil {
		value += " (baseline " + expression.FormatNumber(*v.Baseline) + ")"
	}
	field(strings.TrimSpace(v.Kind+" "+v.Metric), value)
	if len(v.Recent) > 1 {
		field(fmt.Sprintf("Last %d", len(v.Recent)), Sparkline(v.Recent)+"  "+expression.FormatNumber(v.Recent[0])+" → "+expression.FormatNumber(v.Recent[len(v.Recent)-1]))
	}
	field("Feature", v.Feature)
	field("Segment", v.Segment)
	field("Model version", v.VersionLine())
	if v.Impact != nil {
		field("Impact", expression.FormatImpact(*v.Impact))
	}
	return fields
}

// lineageLine lists the alert's lineage, key: value.
func lineageLine(v *notify.View) string {
	parts := make([]string, len(v.Lineage))
	for i, kv := range v.Lineage {
		parts[i] = kv.Key + ": " + kv.Value
	}
	return "Lineage — " + strings.Join(parts, " · ")
}

// ownerLine names the owner, their role and escalation step, mentioning
// them while the group is open.
func ownerLine(v *notify.View, resolved bool) string {
	owner := fmt.Sprintf("Owner: *%s* (`%s`, %s role)", escape(v.Owner.Name), escape(v.Owner.ID), escape(v.Role))
	if v.Step > 0 {
		owner = fmt.Sprintf("Owner: *%s* (`%s`, escalation step %d of the %s role)", escape(v.Owner.Name), escape(v.Owner.ID), v.Step, escape(v.Role))
	}
	if !resolved {
		if m := Mentions(v.Owner.Mention); m != "" {
			owner += " " + m
		}
	}
	return owner
}

// nextLine says what happens next unless someone acts (nothing once
// resolved), and links the runbook.
func nextLine(v *notify.View, phase string, resolved bool) []string {
	var next []string
	switch {
	case resolved:
	case phase == notify.PhaseSnoozed:
		next = append(next, "Escalation resumes at "+when(v.SnoozedUntil)+" unless resolved")
	case phase == notify.PhaseAcknowledged:
		next = append(next, "Acknowledged: no further escalation")
	case v.EscalatesTo != nil:
		next = append(next, fmt.Sprintf("Escalates to *%s* at %s unless acknowledged (ack within %s)", escape(v.EscalatesTo.Name), when(v.EscalatesAt), escape(v.AckWithin)))
	case !v.EscalatesAt.IsZero():
		next = append(next, fmt.Sprintf("Re-notifies at %s unless acknowledged (ack within %s)", when(v.EscalatesAt), escape(v.AckWithin)))
	default:
		next = append(next, "No acknowledgement deadline at these stakes")
	}
	if link := Link(v.Runbook, "Runbook"); link != "" {
		next = append(next, link)
	}
	return next
}

// Reply renders the thread reply that says what changed: a new member, an
// acknowledgement, an escalation, a resolution, a request.
func Reply(v *notify.View) Message {
	if v.Drill {
		return drillReply(v)
	}
	// Replies about what people did mention them (mrkdwn, with everything
	// else escaped); replies carrying what the events said stay plain text.
	var text string
	md := true
	switch v.Change {
	case state.NoticeResolved:
		switch v.Phase {
		case notify.PhaseFalseAlarm:
			text = fmt.Sprintf("🚫 Marked as a false alarm by %s at %s and resolved. `stakeout noise` counts it against the rule.", v.ClosedBy, when(v.At))
		case notify.PhaseResolved:
			if v.ClosedBy != "" {
				text = fmt.Sprintf("✅ Resolved by %s at %s.", v.ClosedBy, when(v.At))
				break
			}
			fallthrough
		default:
			text, md = fmt.Sprintf("✅ Resolved at %s: every alert of the group is clean again.", when(v.At)), false
		}
	case state.NoticeUpdated:
		if joins := max(v.Joins, len(v.Joined)); joins > 1 {
			text, md = fmt.Sprintf("➕ %d alerts joined (%s, %s to %s). The group has %d alert(s) now.", joins,
				JoinedOf(v.Joined, joins, maxJoinedShown), when(v.At), when(v.OpenedAt), v.Members), false
			if !v.At.After(v.OpenedAt) {
				text = fmt.Sprintf("➕ %d alerts joined (%s). The group has %d alert(s) now.", joins, JoinedOf(v.Joined, joins, maxJoinedShown), v.Members)
			}
			break
		}
		subject := v.Feature
		if v.Segment != "" {
			subject = strings.TrimSpace(subject + " " + v.Segment)
		}
		if subject == "" {
			subject = v.AlertID
		}
		text, md = fmt.Sprintf("➕ %s (%s) — %s. The group has %d alert(s) now.", subject, when(v.At), v.Summary, v.Members), false
		if strings.HasPrefix(v.Note, state.MuteEnded) {
			// Held back by a CloudWatch mute (pipeline's TellMuted).
			text = fmt.Sprintf("🔕 %s (%s) — %s. %s.", subject, when(v.At), v.Summary, upperFirst(v.Note))
		}
		if v.Flapping && strings.HasPrefix(v.Note, "flapping") {
			// Reopened in place (pipeline's Rejoin): say why no new message.
			text = fmt.Sprintf("🔁 %s reopened (%s) — %s. %s.", subject, when(v.At), v.Summary, upperFirst(v.Note))
		}
	case state.NoticeAcknowledged:
		text = fmt.Sprintf("👀 Acknowledged by %s at %s: escalation stopped.", v.AckedBy, when(v.AckedAt))
	case state.NoticeSnoozed:
		text = fmt.Sprintf("😴 Snoozed by %s until %s; escalation resumes then unless it is resolved.", v.AckedBy, when(v.SnoozedUntil))
	case state.NoticeSnoozeEnded:
		text = "⏰ The snooze is over: unacknowledged again. " + whoIsNext(v)
	case state.NoticeEscalated:
		text = fmt.Sprintf("⬆️ Escalated to *%s* %s — %s. %s", escape(v.Owner.Name), Mentions(v.Owner.Mention), escape(v.Note), whoIsNext(v))
		if v.Renotify {
			text = fmt.Sprintf("🔁 Still nobody acknowledged: *%s* %s notified again (the end of the escalation chain). %s", escape(v.Owner.Name), Mentions(v.Owner.Mention), whoIsNext(v))
		}
	case state.NoticeStillOpen:
		text = fmt.Sprintf("🔔 Still open: %s acknowledged it and it has not resolved — %s. Acknowledge again or resolve it. %s %s",
			v.Reacked, escape(v.Note), Mentions(v.Owner.Mention), whoIsNext(v))
	case state.NoticeRaised:
		text = fmt.Sprintf("📈 Raised to *%s* — %s. *%s* %s %s", escape(v.Severity), escape(v.Note), escape(v.Owner.Name), Mentions(v.Owner.Mention), whoIsNext(v))
	case state.NoticeReassigned:
		text = fmt.Sprintf("↪️ Reassigned to *%s* (%s role) %s by %s. %s", escape(v.Owner.Name), escape(v.Role), Mentions(v.Owner.Mention), v.By, whoIsNext(v))
	case state.NoticeRequest:
		text = requestText(v)
	case state.NoticeLabels:
		// What the labels said, from the events: plain text.
		text, md = fmt.Sprintf("🏷️ %s (%s).", upperFirst(v.Note), v.AlertID), false
	default:
		text, md = v.Summary, false
	}
	if !md {
		return Message{Text: escapeText(cut(text, MaxTextShown)), Blocks: []slack.Block{slack.NewSectionBlock(plain(text, MaxSectionText), nil, nil)}}
	}
	text = strings.Join(strings.Fields(text), " ")
	return Message{Text: cut(text, MaxTextShown), Blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(text, MaxSectionText), nil, nil)}}
}

// maxJoinedShown bounds the subjects an update's reply names.
const maxJoinedShown = 10

// Joined lists what joined: "income, tenure and 12 more", features by
// their name alone.
func Joined(subjects []string, limit int) string { return JoinedOf(subjects, len(subjects), limit) }

// JoinedOf lists what joined when total alerts joined and subjects name
// some of them (a group names its first state.MaxMembers): "income,
// tenure and 120 more".
func JoinedOf(subjects []string, total, limit int) string {
	if len(subjects) == 0 {
		return fmt.Sprintf("none named: the group names its first %d alerts", state.MaxMembers)
	}
	shown := make([]string, 0, min(len(subjects), limit))
	for _, s := range subjects[:min(len(subjects), limit)] {
		if f, ok := strings.CutPrefix(s, "feature="); ok && !strings.Contains(f, " ") {
			s = f
		}
		shown = append(shown, s)
	}
	out := strings.Join(shown, ", ")
	if rest := max(total, len(subjects)) - len(shown); rest > 0 {
		out += fmt.Sprintf(" and %d more", rest)
	}
	return out
}

// whoIsNext says when the group escalates next, and to whom.
func whoIsNext(v *notify.View) string {
	switch {
	case v.EscalatesAt.IsZero():
		return ""
	case v.EscalatesTo != nil:
		return fmt.Sprintf("Escalates to *%s* at %s unless acknowledged.", escape(v.EscalatesTo.Name), when(v.EscalatesAt))
	}
	return fmt.Sprintf("Re-notifies at %s unless acknowledged.", when(v.EscalatesAt))
}

func requestText(v *notify.View) string {
	r := v.Request
	if r == nil {
		return escape(v.Note)
	}
	by := notify.Actor(r.Requester, r.Name)
	var text string
	switch r.Type {
	case state.RequestRollback:
		target := "a version the pipeline chooses"
		if r.Target != "" {
			target = "version `" + escape(r.Target) + "`"
		}
		text = fmt.Sprintf("⏪ Rollback of %s to %s requested by %s (live: `%s`).", escape(v.Model), target, by, escape(cmp.Or(r.Version, "unknown")))
	default:
		text = fmt.Sprintf("🔁 Retrain of %s requested by %s (live: `%s`).", escape(v.Model), by, escape(cmp.Or(r.Version, "unknown")))
	}
	if r.Reason != "" {
		text += " Reason: " + escape(r.Reason) + "."
	}
	return text + " Published on EventBridge for the team's pipeline: stakeout does not change the model itself."
}

// failingText says which of the group's other channels failed.
func failingText(v *notify.View) string {
	parts := make([]string, len(v.Failing))
	for i, kv := range v.Failing {
		parts[i] = channelName(kv.Key) + " failed (" + kv.Value + ")"
	}
	text := "⚠️ " + strings.Join(parts, "; ") + "."
	for _, kv := range v.Failing {
		if kv.Key == "pagerduty" {
			text += " Nobody was paged: page " + v.Owner.Name + " by hand if this needs someone now."
		}
	}
	return text
}

func channelName(ch string) string {
	switch ch {
	case "pagerduty":
		return "The PagerDuty page"
	case "slack":
		return "The Slack message"
	case "events":
		return "The lifecycle event"
	}
	return "The " + ch + " notification"
}

// FailureReply is the thread reply that tells the group's owner that
// another channel failed them.
func FailureReply(v *notify.View) Message {
	f := v.Failure
	if f == nil {
		return Reply(v)
	}
	text := fmt.Sprintf("⚠️ %s for this alert failed: %s. stakeout keeps trying and sends it once the channel is back; the alert's trail: stakeout audit %s",
		channelName(f.Channel), f.Reason, v.AlertID)
	if f.Channel == "pagerduty" {
		text += ". Nobody was paged: page " + v.Owner.Name + " by hand if this needs someone now."
	}
	return Message{Text: escapeText(cut(text, MaxTextShown)), Blocks: []slack.Block{slack.NewSectionBlock(plain(text, MaxSectionText), nil, nil)}}
}

// Failure renders the notice sent when a notification could not be
// delivered on another channel and the group has no message here: the
// reason, what failed, and the alert itself, so that nothing is lost with
// the failed message.
func Failure(v *notify.View, channel, notice, reason string) Message {
	b := builder{}
	b.add(slack.NewHeaderBlock(plain("⚠️ stakeout could not deliver an alert", MaxHeaderText)))
	b.add(slack.NewSectionBlock(plain(fmt.Sprintf("%s notification %s for %s (owner %s) failed: %s. Check the integration or the owner file. The alert's trail: stakeout audit %s",
		channel, notice, v.Model, v.Owner.ID, reason, v.AlertID), MaxSectionText), nil, nil))
	b.add(slack.NewSectionBlock(plain(fmt.Sprintf("[%s] %s/%s: %s", strings.ToUpper(v.Severity), v.Model, v.Rule, v.Summary), MaxSectionText), nil, nil))
	if link := Link(v.Runbook, "Runbook"); link != "" {
		b.add(slack.NewContextBlock("", mrkdwn(link, MaxSectionText)))
	}
	return Message{Text: escapeText(cut(fmt.Sprintf("stakeout could not deliver %s/%s on %s: %s", v.Model, v.Rule, channel, reason), MaxTextShown)), Blocks: b.blocks}
}

// Digest renders an owner's daily digest: one line per notification,
// oldest first, as many as fit in one message, and how many did not.
func Digest(owner notify.Person, day string, views []*notify.View) Message {
	b := builder{}
	b.add(slack.NewHeaderBlock(plain(fmt.Sprintf("🗞 Daily digest · %s · %s", owner.Name, day), MaxHeaderText)))
	b.add(slack.NewContextBlock("", plain(fmt.Sprintf("%d notification(s) at stakes that do not interrupt anybody, for %s (%s).", len(views), owner.Name, owner.ID), MaxSectionText)))
	// Lines are packed into sections of at most MaxSectionText, as many
	// sections as fit with one block left for the closing line.
	var chunks []string
	var lines []int
	for _, v := range views {
		line := cut(digestLine(v), MaxSectionText)
		if n := len(chunks); n > 0 && utf8.RuneCountInString(chunks[n-1])+1+utf8.RuneCountInString(line) <= MaxSectionText {
			chunks[n-1] += "\n" + line
			lines[n-1]++
			continue
		}
		chunks, lines = append(chunks, line), append(lines, 1)
	}
	shown := 0
	for i, c := range chunks {
		if len(b.blocks) >= MaxBlocks-1 {
			break
		}
		b.add(slack.NewSectionBlock(plain(c, MaxSectionText), nil, nil))
		shown += lines[i]
	}
	if rest := len(views) - shown; rest > 0 {
		b.add(slack.NewContextBlock("", plain(fmt.Sprintf("…and %d more (stakeout audit has them all).", rest), MaxSectionText)))
	}
	return Message{Text: escapeText(cut(fmt.Sprintf("Daily digest for %s, %s: %d notification(s)", owner.Name, day, len(views)), MaxTextShown)), Blocks: b.blocks}
}

func digestLine(v *notify.View) string {
	what := map[string]string{state.NoticeOpened: "opened", state.NoticeUpdated: "grew", state.NoticeResolved: "resolved"}[v.Change]
	if what == "" {
		what = v.Change
	}
	return fmt.Sprintf("• %s %s/%s %s (%s): %s", v.At.UTC().Format("15:04"), v.Model, v.Rule, what, v.Severity, v.Summary)
}

// actions are the buttons and the menu. Acknowledge and Resolve are in
// front; the rest wait behind one "More…" menu (on-call people ask for
// fewer buttons). Slack's overflow menu takes at most five options and
// there are eight, so the menu is a static select with option groups.
func actions(v *notify.View, ackable bool) *slack.ActionBlock {
	value := cut(v.Group, MaxButtonValue)
	var elems []slack.BlockElement
	if ackable {
		ack := slack.NewButtonBlockElement(ActionAcknowledge, value, plain("Acknowledge", MaxButtonText))
		ack.Style = slack.StylePrimary
		elems = append(elems, ack)
	}
	res := slack.NewButtonBlockElement(ActionResolve, value, plain("Resolve", MaxButtonText))
	opt := func(label, value string) *slack.OptionBlockObject {
		return slack.NewOptionBlockObject(cut(value, MaxOptionValue), plain(label, MaxOptionText), nil)
	}
	reassign := []*slack.OptionBlockObject{opt("Escalate now", OptionEscalate)}
	for _, role := range []string{"data", "model", "platform", "product"} {
		if role != v.Role {
			reassign = append(reassign, opt("Reassign to "+role, OptionReassignPrefix+role))
		}
	}
	more := slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, plain("More…", MaxPlaceholder), ActionMore,
		slack.NewOptionGroupBlockElement(plain("Snooze", MaxOptionText), opt("Snooze 1 h", OptionSnooze1h), opt("Snooze 4 h", OptionSnooze4h), opt("Snooze 24 h", OptionSnooze24h)),
		slack.NewOptionGroupBlockElement(plain("Route", MaxOptionText), reassign...),
		slack.NewOptionGroupBlockElement(plain("Model", MaxOptionText), opt("False alarm", OptionFalseAlarm), opt("Request retrain", OptionRetrain), opt("Request rollback", OptionRollback)),
	)
	return slack.NewActionBlock(BlockID(v.Group), append(elems, res, more)...)
}

// BlockID is the actions block's id: the group, so that a button press
// names its alert group even from the menu (whose option values are too
// short for it). Longer group ids — not produced by validated model and
// rule names — are cut; functions/slack then finds the group by message.
func BlockID(group string) string { return cut("g:"+group, MaxBlockID) }

func members(v *notify.View) string {
	s := fmt.Sprintf("%d alerts in this group", v.Members)
	if len(v.Subjects) > 0 {
		s += ": " + strings.Join(v.Subjects, ", ")
		if v.Members > len(v.Subjects) {
			s += fmt.Sprintf(", and %d more", v.Members-len(v.Subjects))
		}
	}
	return s
}

// builder collects blocks, never more than Slack takes.
type builder struct{ blocks []slack.Block }

func (b *builder) add(bl slack.Block) {
	if len(b.blocks) < MaxBlocks {
		b.blocks = append(b.blocks, bl)
	}
}

// plain is a plain_text object: Slack shows it as it is, so user content
// cannot mention, link or format. Empty text is not allowed; "-" stands in.
func plain(s string, limit int) *slack.TextBlockObject {
	if s == "" {
		s = "-"
	}
	return slack.NewTextBlockObject(slack.PlainTextType, cut(s, limit), false, false)
}

// mrkdwn is a mrkdwn object, verbatim so that Slack links nothing by
// itself. Only for text stakeout built, with every value escaped.
func mrkdwn(s string, limit int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, cutMrkdwn(s, limit), false, true)
}

// escapeText makes a message's top-level text inert: without <, no
// mention or link can be formed. Formatting characters are left alone —
// the text is what a phone's notification shows.
func escapeText(s string) string { return textEscaper.Replace(s) }

// Replacers are built once: building one costs more than using it.
var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	urlEscaper  = strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", "&", "&amp;", " ", "%20")
	unescaper   = strings.NewReplacer("\u200b", "", "&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// escape makes s inert in mrkdwn: Slack's control characters are &, < and
// > (https://docs.slack.dev/messaging/formatting-message-text#escaping), and
// without < no mention, link or channel reference can be formed. Formatting
// characters (*, _, ~, `) are kept apart from words with a zero-width space
// so they cannot turn into bold or code.
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>*_~`") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '*', '_', '~', '`':
			b.WriteRune(r)
			b.WriteRune('\u200b')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Mentions renders owner mentions: users as <@U…>, user groups as
// <!subteam^S…>. Ids are validated when the owner file loads; anything
// else is dropped rather than trusted.
func Mentions(ids []string) string {
	var parts []string
	for _, id := range ids {
		if !slackID(id) {
			continue
		}
		if id[0] == 'S' {
			parts = append(parts, "<!subteam^"+id+">")
		} else {
			parts = append(parts, "<@"+id+">")
		}
	}
	return strings.Join(parts, " ")
}

func slackID(id string) bool {
	if len(id) < 9 || len(id) > 32 || !strings.ContainsRune("UWS", rune(id[0])) {
		return false
	}
	for _, r := range id[1:] {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Link renders <url|label> for an http(s) URL, or "" for anything else.
// The URL cannot close the link early: |, < and > are percent-encoded.
func Link(url, label string) string {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return ""
	}
	return "<" + urlEscaper.Replace(url) + "|" + escape(label) + ">"
}

// cut shortens s to at most limit characters, ending in "…" when cut.
// Slack counts characters, not bytes.
func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	return string(runes[:limit-1]) + "…"
}

// cutMrkdwn cuts mrkdwn without splitting an escape (&amp;) or a <…>
// construct, which would leave a dangling control character.
func cutMrkdwn(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	out := string([]rune(s)[:limit-1])
	if i := strings.LastIndexByte(out, '<'); i >= 0 && !strings.Contains(out[i:], ">") {
		out = out[:i]
	}
	if i := strings.LastIndexByte(out, '&'); i >= 0 && !strings.Contains(out[i:], ";") {
		out = out[:i]
	}
	return out + "…"
}

// Sparkline draws values as ▁▂▃▄▅▆▇█, scaled from their minimum to their
// maximum; a flat series is a flat line, and NaN or infinite values a gap.
func Sparkline(values []float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	levels := []rune(bars)
	var b strings.Builder
	for _, v := range values {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			b.WriteRune(' ')
		case hi == lo || hi-lo == math.Inf(1):
			b.WriteRune(levels[3])
		default:
			i := int(math.Round((v - lo) / (hi - lo) * float64(len(levels)-1)))
			b.WriteRune(levels[max(0, min(i, len(levels)-1))])
		}
	}
	return b.String()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// lasted puts an alert's duration in words people use: 45m, 5h 20m, 3d 4h.
func lasted(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Text renders a message as plain text, the way `stakeout replay` shows
// what would be posted: one line per block, fields indented, buttons in
// brackets, mrkdwn unescaped and links as "label (url)".
func Text(m Message) string {
	var b strings.Builder
	line := func(s string) {
		for _, l := range strings.Split(s, "\n") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	for _, bl := range m.Blocks {
		switch bl := bl.(type) {
		case *slack.HeaderBlock:
			line(textOf(bl.Text))
		case *slack.ContextBlock:
			var parts []string
			for _, e := range bl.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					parts = append(parts, textOf(t))
				}
			}
			line(strings.Join(parts, " · "))
		case *slack.SectionBlock:
			if bl.Text != nil {
				line(textOf(bl.Text))
			}
			for _, f := range bl.Fields {
				line("  " + textOf(f))
			}
		case *slack.ActionBlock:
			var parts []string
			for _, e := range bl.Elements.ElementSet {
				switch e := e.(type) {
				case *slack.ButtonBlockElement:
					parts = append(parts, "["+textOf(e.Text)+"]")
				case *slack.SelectBlockElement:
					parts = append(parts, "["+textOf(e.Placeholder)+" ▾]")
				}
			}
			line(strings.Join(parts, " "))
		}
	}
	return b.String()
}

// textOf shows a text object as people would read it.
func textOf(t *slack.TextBlockObject) string {
	if t == nil {
		return ""
	}
	if t.Type != slack.MarkdownType {
		return t.Text
	}
	s := t.Text
	// <url|label> → label (url); mentions stay as Slack ids.
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		inner := s[i+1 : i+j]
		if url, label, ok := strings.Cut(inner, "|"); ok {
			b.WriteString(label + " (" + url + ")")
		} else {
			b.WriteString("<" + inner + ">")
		}
		s = s[i+j+1:]
	}
	// Drop stakeout's own bold and code marks; a user's (escaped: followed
	// by a zero-width space) stay, as they were written.
	rs := []rune(b.String())
	var out strings.Builder
	for i, r := range rs {
		if (r == '*' || r == '`') && (i+1 == len(rs) || rs[i+1] != '\u200b') {
			continue
		}
		out.WriteRune(r)
	}
	return unescaper.Replace(out.String())
}

// upperFirst starts s with a capital letter.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
