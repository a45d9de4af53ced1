package pdnotify

import (
	"strings"

	"github.com/PagerDuty/go-pagerduty"
)

// Text renders an event's payload as lines for people — severity, source
// and class, the summary, the links — as replay shows a page and serve
// logs one it has no routing key for. An event without a payload (an
// acknowledge, a resolve) renders as "".
func Text(ev *pagerduty.V2Event) string {
	pl := ev.Payload
	if pl == nil {
		return ""
	}
	lines := []string{"severity " + pl.Severity + " · source " + pl.Source + " · class " + pl.Class, "summary: " + pl.Summary}
	for _, l := range ev.Links {
		if m, ok := l.(map[string]string); ok {
			lines = append(lines, "link: "+m["text"]+" "+m["href"])
		}
	}
	return strings.Join(lines, "\n")
}
