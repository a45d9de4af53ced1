package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// indent lines notification renderings up under the timeline's text.
var indent = strings.Repeat(" ", 19)

// previewSlack shows each Slack call of a replay as text; with a real
// client behind it (SLACK_BOT_TOKEN set), it also makes the call.
type previewSlack struct {
	w     io.Writer
	next  slacknotify.API // nil: a dry run
	clock func() time.Time
	n     int
}

func (p *previewSlack) Post(ctx context.Context, channel, threadTS string, m slacknotify.Message, key string, mayExist bool) (string, error) {
	ts := ""
	if p.next != nil {
		var err error
		if ts, err = p.next.Post(ctx, channel, threadTS, m, key, mayExist); err != nil {
			fmt.Fprintf(p.w, "%sslack → %s: %v\n", indent, channel, err)
			return "", err
		}
	} else {
		p.n++
		ts = fmt.Sprintf("%d.%06d", p.clock().Unix(), p.n) // what a ts looks like
	}
	if threadTS != "" {
		fmt.Fprintf(p.w, "%sslack → %s, reply in the thread of %s:\n", indent, channel, threadTS)
	} else {
		fmt.Fprintf(p.w, "%sslack → %s, new message %s:\n", indent, channel, ts)
	}
	writeBox(p.w, slacknotify.Text(m))
	return ts, nil
}

func (p *previewSlack) Update(ctx context.Context, channel, ts string, m slacknotify.Message) error {
	if p.next != nil {
		if err := p.next.Update(ctx, channel, ts, m); err != nil {
			fmt.Fprintf(p.w, "%sslack → %s: %v\n", indent, channel, err)
			return err
		}
	}
	fmt.Fprintf(p.w, "%sslack → %s, message %s updated in place (%s)\n", indent, channel, ts, firstLine(slacknotify.Text(m)))
	return nil
}

// previewPager shows each PagerDuty event of a replay; with a real client
// behind it (STAKEOUT_PAGERDUTY_ROUTING_KEY set), it also sends it.
type previewPager struct {
	w    io.Writer
	next pdnotify.Sender // nil: a dry run
}

func (p *previewPager) Send(ctx context.Context, ref string, ev *pagerduty.V2Event) error {
	if p.next != nil {
		if err := p.next.Send(ctx, ref, ev); err != nil {
			fmt.Fprintf(p.w, "%spagerduty %s: %v\n", indent, ev.Action, err)
			return err
		}
	}
	fmt.Fprintf(p.w, "%spagerduty %s → routing key %s, dedup_key %s\n", indent, ev.Action, ref, ev.DedupKey)
	if text := pdnotify.Text(ev); text != "" {
		writeBox(p.w, text)
	}
	return nil
}

func writeBox(w io.Writer, text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(w, "%s│ %s\n", indent, l)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
