package config

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // owners name IANA zones; Lambda images have no zoneinfo

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/secret"
)

// Slack ids: channels are C… (public) or G… (private), users U… or W…
// (Enterprise Grid), user groups S…. Names like #general change when a
// channel is renamed; ids do not, so only ids are accepted.
var (
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
	slackUserID    = regexp.MustCompile(`^[UW][A-Z0-9]{8,}$`)
	slackMentionID = regexp.MustCompile(`^[UWS][A-Z0-9]{8,}$`)
	ownerID        = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
)

func (l *loader) loadOwner(name string) {
	d := l.read(name)
	defer l.report(d)
	root := d.parse()
	if root == nil {
		// Known by its file name, so that models naming it are not also
		// reported as naming an unknown owner.
		if l.cfg.Owners[baseName(name)] == nil {
			l.cfg.Owners[baseName(name)] = &Owner{File: d.file, ID: baseName(name), broken: true}
		}
		return
	}
	o := &Owner{File: d.file, pos: pos(root)}
	var idNode, hoursNode *yaml.Node
	d.mapping(root, "owner",
		field{name: "id", required: true, decode: func(_, v *yaml.Node) {
			idNode = v
			o.ID, _ = d.str(v, "id")
		}},
		field{name: "name", decode: func(_, v *yaml.Node) { o.Name, _ = d.str(v, "name") }},
		field{name: "timezone", decode: func(_, v *yaml.Node) {
			if s, ok := d.str(v, "timezone"); ok {
				loc, err := time.LoadLocation(s)
				if err != nil {
					d.errorf(v, "unknown time zone %q (use an IANA name like Europe/Paris)", s)
					return
				}
				o.Timezone = loc
			}
		}},
		field{name: "digest_at", decode: func(_, v *yaml.Node) {
			if s, ok := d.str(v, "digest_at"); ok {
				t, err := time.Parse("15:04", s)
				if err != nil {
					d.errorf(v, "digest_at %q is not a time of day like 09:00 (24-hour HH:MM)", s)
					return
				}
				o.DigestAt = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
				if o.DigestAt == 0 {
					o.DigestAt = time.Nanosecond // midnight, told apart from "not set"
				}
			}
		}},
		field{name: "slack", decode: func(_, v *yaml.Node) { l.decodeSlack(d, v, o) }},
		field{name: "pagerduty", decode: func(_, v *yaml.Node) {
			d.mapping(v, "pagerduty", field{name: "routing_key", required: true, decode: func(_, v *yaml.Node) {
				s, ok := d.str(v, "routing_key")
				if !ok {
					return
				}
				// Never echo the value: if it is a real key, it must not
				// reach CI logs as well.
				if !secret.IsRef(s) {
					d.errorf(v, "routing_key must be a secret reference like secret:stakeout/pagerduty/%s, not the key itself (keys in files leak; store it in Secrets Manager)", cmp.Or(o.ID, baseName(name)))
					return
				}
				if _, err := secret.ParseRef(s); err != nil {
					d.errorf(v, "routing_key: %v", err)
					return
				}
				o.PagerDuty.RoutingKey = s
			}})
		}},
		field{name: "escalation", decode: func(_, v *yaml.Node) {
			o.Escalation, o.escalationPos = d.strings(v, "escalation")
		}},
		field{name: "working_hours", decode: func(_, v *yaml.Node) {
			hoursNode, o.WorkingHours = v, d.workingHours(v)
		}},
	)
	d.settleWorkingHours(o, hoursNode)
	want := baseName(name)
	if idNode != nil && o.ID != "" {
		switch {
		case tooLong("owner id", o.ID) != "":
			d.errorf(idNode, "%s", tooLong("owner id", o.ID))
		case !ownerID.MatchString(o.ID):
			d.errorf(idNode, "owner id %q must be lower-case words joined by dashes, like credit-ds", o.ID)
		case o.ID != want:
			d.errorf(idNode, "owner id %q does not match the file name %s.yaml (rename one of them)", o.ID, want)
		}
	}
	// References resolve by file name, so a mismatch is reported once, here,
	// and not again at every model and escalation naming the owner.
	o.ID = want
	if prev, dup := l.cfg.Owners[o.ID]; dup {
		d.errorf(root, "owner %q is already defined in %s", o.ID, prev.File)
		return
	}
	o.broken = d.errors > 0
	l.cfg.Owners[o.ID] = o
}

func (l *loader) decodeSlack(d *doc, v *yaml.Node, o *Owner) {
	d.mapping(v, "slack",
		field{name: "channel", required: true, decode: func(_, v *yaml.Node) {
			s, ok := d.str(v, "slack.channel")
			if !ok {
				return
			}
			if !slackChannelID.MatchString(s) {
				d.errorf(v, "slack.channel %q is not a channel id: %s", s, slackIDHint(s, "channel", "C0123ABCD"))
				return
			}
			o.Slack.Channel = s
		}},
		field{name: "mention", decode: func(_, v *yaml.Node) {
			o.Slack.Mention = d.slackIDs(v, "slack.mention", slackMentionID, "user or user-group", "U012ABCDE or S012ABCDE")
		}},
		field{name: "members", decode: func(_, v *yaml.Node) {
			o.Slack.Members = d.slackIDs(v, "slack.members", slackUserID, "user", "U012ABCDE")
		}},
	)
}

func (d *doc) slackIDs(v *yaml.Node, what string, re *regexp.Regexp, kind, example string) []string {
	var out []string
	d.seq(v, what, func(item *yaml.Node) {
		s, ok := d.str(item, what+" entry")
		if !ok {
			return
		}
		if !re.MatchString(s) {
			d.errorf(item, "%s entry %q is not a Slack %s id: %s", what, s, kind, slackIDHint(s, kind, example))
			return
		}
		out = append(out, s)
	})
	return out
}

func slackIDHint(s, kind, example string) string {
	if strings.HasPrefix(s, "#") || strings.HasPrefix(s, "@") {
		return fmt.Sprintf("%s is a name, not an id (names change, ids do not: copy the id, like %s, from the %s's details in Slack)", s, example, kind)
	}
	return fmt.Sprintf("want an id like %s", example)
}

// checkEscalations verifies escalation lists once every owner is known:
// unknown owners, an owner escalating to itself, repeats and cycles.
func (l *loader) checkEscalations() {
	owners := l.cfg.Owners
	problems := map[string]*doc{}
	docFor := func(o *Owner) *doc {
		if problems[o.ID] == nil {
			problems[o.ID] = &doc{file: o.File}
		}
		return problems[o.ID]
	}
	ids := slices.Sorted(maps.Keys(owners))
	for _, id := range ids {
		o := owners[id]
		for i, next := range o.Escalation {
			p := o.escalationPos[i]
			switch {
			case next == o.ID:
				docFor(o).errorAt(p, "owner %q escalates to itself", o.ID)
			case owners[next] == nil:
				docFor(o).errorAt(p, "escalation names unknown owner %q%s (no owners/%s.yaml)", next, suggestOwner(next, owners), next)
			case slices.Index(o.Escalation, next) < i:
				docFor(o).errorAt(p, "escalation names %q twice", next)
			}
		}
	}
	// A cycle in the "escalates to" graph means no chain ever reaches
	// someone with the authority to end it. Report each cycle once, at the
	// owner whose id sorts first.
	reported := map[string]bool{}
	for _, id := range ids {
		if cycle := findCycle(id, owners); cycle != nil && !reported[cycle[0]] {
			for _, c := range cycle {
				reported[c] = true
			}
			o := owners[cycle[0]]
			i := slices.Index(o.Escalation, cycle[1])
			docFor(o).errorAt(o.escalationPos[i], "escalation forms a cycle: %s", strings.Join(append(cycle, cycle[0]), " → "))
		}
	}
	for _, id := range ids {
		if d := problems[id]; d != nil {
			l.cfg.Problems = append(l.cfg.Problems, d.problems...)
			owners[id].broken = true
		}
	}
}

// findCycle returns a cycle through start, rotated so that its smallest id
// comes first, or nil.
func findCycle(start string, owners map[string]*Owner) []string {
	var path []string
	onPath := map[string]bool{}
	var visit func(id string) []string
	visited := map[string]bool{}
	visit = func(id string) []string {
		if onPath[id] {
			i := slices.Index(path, id)
			if id != start {
				return nil
			}
			return rotate(slices.Clone(path[i:]))
		}
		if visited[id] {
			return nil
		}
		visited[id] = true
		o := owners[id]
		if o == nil {
			return nil
		}
		path = append(path, id)
		onPath[id] = true
		for _, next := range o.Escalation {
			if next == id {
				continue
			}
			if c := visit(next); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		onPath[id] = false
		return nil
	}
	return visit(start)
}

func rotate(cycle []string) []string {
	m := 0
	for i, c := range cycle {
		if c < cycle[m] {
			m = i
		}
	}
	return append(cycle[m:], cycle[:m]...)
}

func suggestOwner(id string, owners map[string]*Owner) string {
	return expression.Suggest(id, slices.Sorted(maps.Keys(owners)))
}
