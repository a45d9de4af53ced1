package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

var (
	// Ids are kebab-case: they are parts of alert ids and storage keys.
	modelID  = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	ruleName = modelID
)

// MaxNameLength bounds the ids and names that become parts of alert ids,
// group ids and storage keys — model ids, rule names, owner ids, expected
// metrics — as the router bounds the names events carry: every record
// made of them then has a bounded size (DynamoDB caps an item at 400 KB
// and a sort key at 1 KiB).
const MaxNameLength = 200

// MaxRules bounds a model's rules: every event of the model runs all of
// them, within the router's time and memory, and a series' state keeps a
// streak and an alert per rule, in one DynamoDB item.
const MaxRules = 100

// tooLong reports, for an error message, a name over MaxNameLength.
func tooLong(what, name string) string {
	if len(name) <= MaxNameLength {
		return ""
	}
	return fmt.Sprintf("%s %.40q… is %d bytes long, more than %d (it is part of alert ids and storage keys)", what, name, len(name), MaxNameLength)
}

// decodeModel decodes one rules file. It reads the loaded owners and stakes
// but changes nothing shared, so model files are decoded in parallel.
func (l *loader) decodeModel(d *doc, name string) *Model {
	m := &Model{File: d.file, ID: baseName(name), Owners: map[string]string{}, Business: map[string]float64{}, rolePos: map[string]Pos{},
		Inhibit: DefaultInhibit()}
	if d.src == nil {
		return m
	}
	root := d.parse()
	if root == nil {
		return m
	}
	m.pos = pos(root)
	var idNode, rulesNode, testsNode, maintenanceNode *yaml.Node
	// business must be decoded before rules, whatever the key order, since
	// expressions are checked against it.
	d.mapping(root, "model",
		field{name: "model", required: true, decode: func(_, v *yaml.Node) { idNode = v; m.ID, _ = d.str(v, "model") }},
		field{name: "description", decode: func(_, v *yaml.Node) { m.Description, _ = d.str(v, "description") }},
		field{name: "stakes", required: true, decode: func(_, v *yaml.Node) {
			m.stakesPos = pos(v)
			m.Stakes, _ = d.enum(v, "stakes", Tiers)
		}},
		field{name: "owners", required: true, decode: func(_, v *yaml.Node) { l.decodeRoles(d, v, m) }},
		field{name: "business", decode: func(_, v *yaml.Node) { d.decodeBusiness(v, m) }},
		field{name: "expect", decode: func(_, v *yaml.Node) { m.hasExpect = true; d.decodeExpect(v, m) }},
		field{name: "match", decode: func(_, v *yaml.Node) { d.decodeMatch(v, m) }},
		field{name: "inhibit", decode: func(_, v *yaml.Node) { d.decodeInhibit(v, m) }},
		field{name: "flapping", decode: func(_, v *yaml.Node) { m.flapping, _ = d.decodeFlapping(v) }},
		field{name: "rules", required: true, decode: func(_, v *yaml.Node) { rulesNode = v }},
		field{name: "tests", decode: func(_, v *yaml.Node) { testsNode = v }},
		field{name: "maintenance", decode: func(_, v *yaml.Node) { maintenanceNode = v }},
	)
	want := baseName(name)
	if idNode != nil && m.ID != "" {
		switch {
		case tooLong("model id", m.ID) != "":
			d.errorf(idNode, "%s", tooLong("model id", m.ID))
		case !modelID.MatchString(m.ID):
			d.errorf(idNode, "model id %q must be lower-case words joined by dashes, like credit-approval", m.ID)
		case m.ID != want:
			d.errorf(idNode, "model %q does not match the file name %s.yaml (rename one of them)", m.ID, want)
		}
	}
	if m.ID == "" {
		m.ID = want
	}
	m.Scope = expression.NewScope(m.Business, m.Stakes)
	if rn := resolve(rulesNode); rn != nil && rn.Kind == yaml.SequenceNode && len(rn.Content) > MaxRules {
		d.errorf(rn, "model %q has %d rules, more than the %d one model may have (every event of the model runs all of them, and a series keeps a streak and an alert per rule in one DynamoDB item): split it by what it watches",
			m.ID, len(rn.Content), MaxRules)
		rulesNode = nil
	}
	if rulesNode != nil {
		d.seq(rulesNode, "rules", func(item *yaml.Node) { l.decodeRule(d, item, m) })
		if len(m.Rules) == 0 && rulesNode.Kind == yaml.SequenceNode && d.errors == 0 {
			d.warnf(rulesNode, "model %q has no rules: nothing about it will ever alert", m.ID)
		}
	}
	if maintenanceNode != nil {
		l.decodeMaintenance(d, maintenanceNode, m)
	}
	if testsNode != nil {
		d.seq(testsNode, "tests", func(item *yaml.Node) { l.decodeTest(d, item, m) })
	}
	if !m.hasExpect {
		d.warnf(root, "model %q has no expect: if its monitoring stops sending signals, nobody will notice", m.ID)
	}
	l.checkRouting(d, m)
	return m
}

// finishModel files a decoded model in the configuration, or in Broken.
// An owner with errors does not unload the models it serves: one team's
// typo must not silence everyone's alerts (validate still fails).
func (l *loader) finishModel(d *doc, m *Model) {
	prev := l.cfg.Models[m.ID]
	if prev == nil {
		prev = l.cfg.Broken[m.ID]
	}
	if prev != nil {
		d.errorAt(Pos{1, 1}, "model %q is already defined in %s", m.ID, prev.File)
	}
	l.report(d)
	if d.errors > 0 {
		m.Broken = fmt.Sprintf("%s has %d error(s)", d.file, d.errors)
		if prev != nil {
			m.Broken = fmt.Sprintf("defined twice, in %s and %s", prev.File, m.File)
			prev.Broken = m.Broken
			delete(l.cfg.Models, m.ID)
			l.cfg.Broken[m.ID] = prev
			return
		}
		l.cfg.Broken[m.ID] = m
		return
	}
	m.derive()
	l.cfg.Models[m.ID] = m
}

// derive sets what a loaded model's rules imply: the history it keeps,
// the scope its expressions read, each rule's flapping.
func (m *Model) derive() {
	for _, r := range m.Rules {
		m.HistoryDepth = max(m.HistoryDepth, r.When.History())
		if r.Impact != nil {
			m.HistoryDepth = max(m.HistoryDepth, r.Impact.History())
		}
		if r.ResolveWhen != nil {
			m.HistoryDepth = max(m.HistoryDepth, r.ResolveWhen.History())
		}
		r.Flapping = flappingOf(r, m)
	}
}

func (l *loader) decodeRoles(d *doc, v *yaml.Node, m *Model) {
	fields := make([]field, len(Roles))
	for i, role := range Roles {
		fields[i] = field{name: role, decode: func(_, v *yaml.Node) {
			id, ok := d.str(v, "owners."+role)
			if !ok {
				return
			}
			m.rolePos[role] = pos(v)
			if l.cfg.Owners[id] == nil {
				d.errorf(v, "owners.%s names unknown owner %q%s (no owners/%s.yaml)", role, id, suggestOwner(id, l.cfg.Owners), id)
				return
			}
			m.Owners[role] = id
		}}
	}
	if !d.mapping(v, "owners", fields...) {
		return
	}
	var missing []string
	for _, role := range Roles {
		if _, ok := m.rolePos[role]; !ok {
			missing = append(missing, role)
		}
	}
	if len(missing) > 0 {
		d.errorf(v, "owners: no owner for %s (every model names an owner for each of %s, so that every alert has someone to go to)",
			strings.Join(missing, ", "), strings.Join(Roles, ", "))
	}
}

func (d *doc) decodeBusiness(v *yaml.Node, m *Model) {
	v = resolve(v)
	if v.Kind != yaml.MappingNode {
		d.errorf(v, "business must be a mapping of names to numbers")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !identifier.MatchString(k.Value) {
			d.errorf(k, "business constant %q must be a name usable in expressions (letters, digits, underscores)", k.Value)
			continue
		}
		if _, dup := m.Business[k.Value]; dup {
			d.errorf(k, "business: key %q appears twice", k.Value)
			continue
		}
		// Declared even when the value is bad, so expressions using it are
		// not also reported as naming an unknown constant.
		m.Business[k.Value], _ = d.number(val, "business."+k.Value)
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *doc) decodeExpect(v *yaml.Node, m *Model) {
	d.seq(v, "expect", func(item *yaml.Node) {
		e := Expectation{Pos: pos(item)}
		ok := true
		d.mapping(item, "expect entry",
			field{name: "kind", required: true, decode: func(_, v *yaml.Node) {
				var good bool
				e.Kind, good = d.enum(v, "kind", signal.Kinds)
				ok = ok && good
			}},
			field{name: "metric", decode: func(_, v *yaml.Node) {
				e.Metric, _ = d.str(v, "metric")
				if msg := tooLong("metric", e.Metric); msg != "" {
					d.errorf(v, "%s", msg)
					ok = false
				}
			}},
			field{name: "every", required: true, decode: func(_, v *yaml.Node) {
				var good bool
				e.Every, good = d.duration(v, "every")
				ok = ok && good
			}},
			field{name: "grace", decode: func(_, v *yaml.Node) {
				var good bool
				e.Grace, good = d.duration(v, "grace")
				ok = ok && good
			}},
			field{name: "severity", decode: func(_, v *yaml.Node) {
				var good bool
				e.Severity, good = d.enum(v, "severity", Severities)
				ok = ok && good
			}},
			field{name: "owner", decode: func(_, v *yaml.Node) {
				var good bool
				e.Role, good = d.enum(v, "owner", Roles)
				ok = ok && good
			}},
		)
		if ok && e.Kind != "" && e.Every > 0 {
			if e.Grace == 0 {
				e.Grace = DefaultGrace(e.Every)
			}
			e.Severity = cmp.Or(e.Severity, DefaultSilenceSeverity)
			e.Role = cmp.Or(e.Role, DefaultSilenceRole)
			m.Expect = append(m.Expect, e)
		}
	})
}

func (d *doc) decodeMatch(v *yaml.Node, m *Model) {
	fields := make([]field, len(signal.MatchKinds))
	for i, kind := range signal.MatchKinds {
		fields[i] = field{name: string(kind), decode: func(_, v *yaml.Node) { d.decodeMatchGlobs(v, kind, m) }}
	}
	d.mapping(v, "match", fields...)
}

// decodeMatchGlobs decodes one key of match: globs over names of kind.
func (d *doc) decodeMatchGlobs(v *yaml.Node, kind signal.MatchKind, m *Model) {
	what := "match." + string(kind)
	globs, ps := d.strings(v, what)
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			d.errorAt(ps[i], "%s: %q is not a valid glob (use * and ?; [ ] needs its closing bracket)", what, g)
			continue
		}
		if kind == signal.MatchGlueTable && strings.Count(g, ".") != 1 {
			d.errorAt(ps[i], "%s: %q is not database.table (a Glue database name has no dot; use * for any, e.g. sales.*)", what, g)
			continue
		}
		if m.Match == nil {
			m.Match = map[signal.MatchKind][]string{}
		}
		m.Match[kind] = append(m.Match[kind], g)
	}
}

func (d *doc) decodeInhibit(v *yaml.Node, m *Model) {
	var inh Inhibit
	kinds := func(what string) func(_, v *yaml.Node) {
		return func(_, v *yaml.Node) {
			var out []string
			d.seq(v, "inhibit."+what, func(item *yaml.Node) {
				if k, ok := d.enum(item, "kind", signal.Kinds); ok {
					out = append(out, k)
				}
			})
			if what == "sources" {
				inh.Sources = out
			} else {
				inh.Targets = out
			}
		}
	}
	if !d.mapping(v, "inhibit", field{name: "sources", required: true, decode: kinds("sources")},
		field{name: "targets", required: true, decode: kinds("targets")}) {
		return
	}
	for _, k := range inh.Targets {
		if slices.Contains(inh.Sources, k) {
			d.errorf(v, "inhibit: kind %q is both a source and a target: its alerts would suppress each other", k)
		}
	}
	m.Inhibit = inh
}

// Matches reports whether one of the model's match globs of kind accepts
// name (a Glue table as database.table).
func (m *Model) Matches(kind signal.MatchKind, name string) bool {
	for _, g := range m.Match[kind] {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// ruleNodes are the nodes of a rule's fields that are decoded once the
// whole rule is read (expressions need the rule's name in their messages).
type ruleNodes struct {
	name, when, summary, impact, resolveWhen, escalateWhen *yaml.Node
}

// decodeRule decodes one rule of m; a rule with errors is left out of
// m.Rules (its name still counts as the model's, for other messages).
func (l *loader) decodeRule(d *doc, item *yaml.Node, m *Model) {
	r := &Rule{pos: pos(item), ResolveAfter: 1}
	var n ruleNodes
	errorsBefore := d.errors
	d.mapping(item, "rule", d.ruleFields(r, m, &n)...)
	if r.Name != "" {
		m.ruleNames = append(m.ruleNames, r.Name)
	}
	if n.name != nil && r.Name != "" {
		d.checkRuleName(n.name, r, m)
	}
	d.compileRule(r, m, n)
	if n.summary != nil {
		d.ruleSummary(n.summary, r, m)
	}
	if d.errors == errorsBefore {
		r.errorRule = newErrorRule(r)
		m.Rules = append(m.Rules, r)
	}
}

// ruleFields are a rule's fields: scalars decoded into r at once, the
// rest kept in n.
func (d *doc) ruleFields(r *Rule, m *Model, n *ruleNodes) []field {
	return []field{
		{name: "name", required: true, decode: func(_, v *yaml.Node) { n.name = v; r.Name, _ = d.str(v, "name") }},
		{name: "description", decode: func(_, v *yaml.Node) { r.Description, _ = d.str(v, "description") }},
		{name: "when", required: true, decode: func(_, v *yaml.Node) { n.when = v }},
		{name: "for", decode: func(_, v *yaml.Node) { r.For, _ = d.window(v) }},
		{name: "severity", required: true, decode: func(_, v *yaml.Node) {
			r.severityPos = pos(v)
			r.Severity, _ = d.enum(v, "severity", Severities)
		}},
		{name: "owner", required: true, decode: func(_, v *yaml.Node) { d.ruleRole(v, r, m) }},
		{name: "summary", decode: func(_, v *yaml.Node) { n.summary = v }},
		{name: "runbook", decode: func(_, v *yaml.Node) { d.runbook(v, r) }},
		{name: "impact", decode: func(_, v *yaml.Node) { n.impact = v }},
		{name: "resolve_after", decode: func(_, v *yaml.Node) {
			var k int
			if v.Tag != "!!int" || v.Decode(&k) != nil || k < 1 || k > expression.MaxHistory {
				d.errorf(v, "resolve_after must be a whole number of clean readings from 1 to %d", expression.MaxHistory)
				return
			}
			r.ResolveAfter = k
		}},
		{name: "escalate_when", decode: func(_, v *yaml.Node) { n.escalateWhen = v; r.EscalateWhen = d.growth(v) }},
		{name: "resolve_when", decode: func(_, v *yaml.Node) { n.resolveWhen = v }},
		{name: "flapping", decode: func(_, v *yaml.Node) { r.flapping, _ = d.decodeFlapping(v) }},
	}
}

// ruleRole decodes a rule's owner: a role, not an owner id (one written
// there is told which role it holds).
func (d *doc) ruleRole(v *yaml.Node, r *Rule, m *Model) {
	r.rolePos = pos(v)
	s, ok := d.str(v, "owner")
	if !ok {
		return
	}
	if !slices.Contains(Roles, s) {
		hint := ""
		var roles []string
		for _, role := range Roles {
			if m.Owners[role] == s {
				roles = append(roles, role)
			}
		}
		if len(roles) > 0 {
			hint = fmt.Sprintf("; %q is an owner id — write its role: %s", s, strings.Join(roles, " or "))
		}
		d.errorf(v, "unknown role %q%s (owner names the role that must respond: one of %s%s)", s, expression.Suggest(s, Roles), strings.Join(Roles, ", "), hint)
		return
	}
	r.Role = s
}

// runbook decodes a rule's runbook, an http(s) URL.
func (d *doc) runbook(v *yaml.Node, r *Rule) {
	s, ok := d.str(v, "runbook")
	if !ok {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		d.errorf(v, "runbook %q must be an http(s) URL", s)
		return
	}
	r.Runbook = s
}

// checkRuleName reports a rule name too long, not in the house style, or
// the model's already.
func (d *doc) checkRuleName(v *yaml.Node, r *Rule, m *Model) {
	switch {
	case tooLong("rule name", r.Name) != "":
		d.errorf(v, "%s", tooLong("rule name", r.Name))
	case !ruleName.MatchString(r.Name):
		d.errorf(v, "rule name %q must be lower-case words joined by dashes, like income-drift (it is part of alert ids)", r.Name)
	case slices.ContainsFunc(m.Rules, func(o *Rule) bool { return o.Name == r.Name }):
		prev := m.Rules[slices.IndexFunc(m.Rules, func(o *Rule) bool { return o.Name == r.Name })]
		d.errorf(v, "duplicate rule name %q (first defined at line %d)", r.Name, prev.pos.Line)
	}
}

// compileRule compiles a rule's expressions and checks what they read
// against each other.
func (d *doc) compileRule(r *Rule, m *Model, n ruleNodes) {
	if n.when != nil {
		r.When = d.compile(n.when, "when", expression.Bool, m.Business)
		if r.When != nil && r.When.NeverFires != "" {
			d.warnf(n.when, "rule %q can never fire: %s", r.Name, r.When.NeverFires)
		}
	}
	if n.impact != nil {
		r.Impact = d.compile(n.impact, "impact", expression.Number, m.Business)
	}
	if n.resolveWhen != nil {
		d.compileResolveWhen(n.resolveWhen, r, m.Business)
	}
	if r.When != nil && r.Impact != nil {
		if extra := without(r.Impact.Needs(), r.When.Needs()); len(extra) > 0 {
			d.warnf(n.impact, "impact reads %s, which when does not require: alerts on events without it will have no impact", strings.Join(extra, ", "))
		}
	}
	if r.When != nil && r.ResolveWhen != nil {
		// when holds only on events with every field it reads; resolve_when
		// must be decidable on each of them, or an alert could stay open
		// for good (at run time it falls back to `not when`, see engine).
		if extra := without(r.ResolveWhen.Needs(), r.When.Needs()); len(extra) > 0 {
			d.errorf(n.resolveWhen, "resolve_when reads %s, which when does not require: an alert opened on an event without it could never be resolved by resolve_when (make when read it too, or resolve_when read only what when reads)", strings.Join(extra, ", "))
		}
	}
	if r.EscalateWhen != nil && Higher(r.Severity) == "" && r.Severity != "" {
		// The runtime raises a group to the level above, or keeps its level
		// at the top: the owner should know a critical group only re-pages.
		d.warnf(n.escalateWhen, "rule %q is %s: escalate_when cannot raise its group above %s; when the group grows that much it is re-notified at %s, as when it opened, and its escalation restarts from its first owner, unacknowledged",
			r.Name, r.Severity, r.Severity, r.Severity)
	}
}

// ruleSummary parses a rule's summary template.
func (d *doc) ruleSummary(v *yaml.Node, r *Rule, m *Model) {
	s, ok := d.str(v, "summary")
	if !ok {
		return
	}
	var errs []templateError
	r.Summary, errs = parseTemplate(s, func(name string) error { return expression.CheckPlaceholder(name, m.Business) })
	for _, e := range errs {
		d.errorAt(d.exprPos(v, utf8.RuneCountInString(s[:e.offset])), "summary: %s", e.msg)
	}
}

// window decodes `for:` — a whole count or a duration.
func (d *doc) window(v *yaml.Node) (Window, bool) {
	v = resolve(v)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
		var n int
		if err := v.Decode(&n); err != nil || n < 1 {
			d.errorf(v, "for: %s must be a positive count of consecutive breaching observations, or a duration like 2h", v.Value)
			return Window{}, false
		}
		if n > expression.MaxHistory {
			d.errorf(v, "for: %d is more than %d observations", n, expression.MaxHistory)
			return Window{}, false
		}
		return Window{Count: n}, true
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!float" {
		d.errorf(v, "for: %s must be a whole count of consecutive breaching observations, or a duration like 2h", v.Value)
		return Window{}, false
	}
	dur, ok := d.duration(v, "for")
	return Window{Duration: dur}, ok
}

// compiler returns the expression compiler for the model being decoded: one
// per file, since a model's expressions share its business constants.
func (d *doc) compiler(business map[string]float64) *expression.Compiler {
	if d.exprCompiler == nil {
		d.exprCompiler = expression.NewCompiler(business)
	}
	return d.exprCompiler
}

func (d *doc) compile(v *yaml.Node, what string, typ expression.Type, business map[string]float64) *expression.Program {
	src, ok := d.str(v, what)
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		d.errorf(v, "%s is empty", what)
		return nil
	}
	p, err := d.compiler(business).Compile(src, typ)
	if err != nil {
		var ee *expression.Error
		if errors.As(err, &ee) {
			msg := ee.Msg
			if typ == expression.Bool && strings.HasPrefix(msg, "expected bool") {
				msg = what + " must be a condition (true or false): " + msg
			}
			if typ == expression.Number && strings.HasPrefix(msg, "expected float64") {
				msg = "impact must be a number (money per day): " + msg
			}
			d.errorAt(d.exprPos(v, ee.Offset), "%s: %s", what, msg)
			return nil
		}
		d.errorf(v, "%s: %v", what, err)
		return nil
	}
	return p
}

// checkRouting checks, for each rule, what the stakes table and the owners
// make of it: the cell must exist, and every owner the alert can reach (the
// role's owner, then its escalation chain) must have what the cell uses.
func (l *loader) checkRouting(d *doc, m *Model) {
	if m.Stakes == "" {
		return
	}
	stakesFile := StakesFile
	if l.cfg.StakesBuiltIn {
		stakesFile = "the built-in stakes table"
	}
	for _, r := range m.Rules {
		if r.Severity == "" || r.Role == "" {
			continue
		}
		pol, ok := l.cfg.Stakes.Cell(m.Stakes, r.Severity)
		if !ok {
			d.errorAt(r.severityPos, "rule %q needs stakes %s × severity %s, which %s does not define", r.Name, m.Stakes, r.Severity, stakesFile)
			continue
		}
		owner := l.cfg.Owners[m.Owners[r.Role]]
		if owner == nil {
			continue
		}
		chain := []*Owner{owner}
		if pol.AckWithin > 0 {
			for _, id := range owner.Escalation {
				if o := l.cfg.Owners[id]; o != nil {
					chain = append(chain, o)
				}
			}
		}
		for i, o := range chain {
			how := "notifies"
			if i > 0 {
				how = fmt.Sprintf("escalates (via %s) to", owner.ID)
			}
			if (pol.Notifies("slack") || pol.Notifies("digest")) && o.Slack.Channel == "" && !o.broken {
				d.errorAt(r.severityPos, "rule %q %s owner %q on Slack (stakes %s × severity %s) but %s has no slack.channel",
					r.Name, how, o.ID, m.Stakes, r.Severity, o.File)
			}
			if pol.Notifies("pagerduty") && o.PagerDuty.RoutingKey == "" && !o.broken {
				d.errorAt(r.severityPos, "rule %q pages: it %s owner %q on PagerDuty (stakes %s × severity %s) but %s has no pagerduty.routing_key",
					r.Name, how, o.ID, m.Stakes, r.Severity, o.File)
			}
			if owner.WorkingHours != nil {
				d.checkOutsideHoursOwner(r, m, pol, o, how)
			}
		}
	}
}

// nodeJSON converts a YAML node to the JSON a monitor would send, so that
// test events go through the same decoder as real ones.
func nodeJSON(n *yaml.Node) (any, error) {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			v, err := nodeJSON(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s is not a finite number", n.Value)
			}
			return f, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!null":
			return nil, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("unsupported YAML node")
}

// without returns the items of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
