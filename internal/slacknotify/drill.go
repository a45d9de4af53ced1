package slacknotify

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// renderDrill renders a fire drill's message: marked as a drill in its
// header and its notification text, with one button, Acknowledge — the
// one thing a drill asks for.
func renderDrill(v *notify.View) Message {
	over := v.Change == state.NoticeResolved
	head := notify.DrillMark + " · " + v.Owner.Name
	if over {
		head = notify.DrillMark + " · over"
	}
	b := builder{}
	b.add(slack.NewHeaderBlock(plain(head, MaxHeaderText)))
	status := fmt.Sprintf("*Fire drill* · stakes *%s* · severity *%s* · started %s", escape(v.Stakes), escape(v.Severity), when(v.OpenedAt))
	b.add(slack.NewContextBlock("", mrkdwn(status, MaxSectionText)))
	b.add(slack.NewSectionBlock(plain(v.Summary, MaxSectionText), nil, nil))
	if v.Why != "" {
		b.add(slack.NewContextBlock("", plain(v.Why, MaxSectionText)))
	}
	owner := fmt.Sprintf("Owner: *%s* (`%s`)", escape(v.Owner.Name), escape(v.Owner.ID))
	if !over {
		if m := Mentions(v.Owner.Mention); m != "" {
			owner += " " + m
		}
	}
	b.add(slack.NewSectionBlock(mrkdwn(owner, MaxSectionText), nil, nil))
	if over {
		b.add(slack.NewContextBlock("", plain("Outcome: "+v.Note, MaxSectionText)))
	} else {
		next := fmt.Sprintf("Acknowledge by %s to pass (within %s). Nothing escalates: an unanswered drill is recorded as such.", when(v.EscalatesAt), escape(v.AckWithin))
		b.add(slack.NewContextBlock("", mrkdwn(next, MaxSectionText)))
		ack := slack.NewButtonBlockElement(ActionAcknowledge, cut(v.Group, MaxButtonValue), plain("Acknowledge", MaxButtonText))
		ack.Style = slack.StylePrimary
		b.add(slack.NewActionBlock(BlockID(v.Group), ack))
	}
	text := fmt.Sprintf("%s: fire drill for %s — acknowledge within %s", notify.DrillMark, v.Owner.Name, v.AckWithin)
	if over {
		text = fmt.Sprintf("%s: drill over — %s", notify.DrillMark, v.Note)
	}
	return Message{Text: escapeText(cut(text, MaxTextShown)), Blocks: b.blocks}
}

// drillReply is the thread reply of a drill's change: its outcome.
func drillReply(v *notify.View) Message {
	text := notify.DrillMark + ": " + v.Note
	return Message{Text: escapeText(cut(text, MaxTextShown)), Blocks: []slack.Block{slack.NewSectionBlock(plain(text, MaxSectionText), nil, nil)}}
}
