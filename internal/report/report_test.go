package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestThresholdIsTheRightSideOfTheComparisonThatFired(t *testing.T) {
	for _, tc := range []struct {
		why      string
		want     threshold
		hasLimit bool
	}{
		{"value 0.295 > 0.2", threshold{Value: 0.2, Op: ">"}, true},
		{"(mean(last(7))) = 0.0526 > (business.expected_churn_rate * 1.5) = 0.0525",
			threshold{Value: 0.0525, Op: ">", Of: "mean(last(7))", Source: "business.expected_churn_rate * 1.5"}, true},
		{"(slope(4)) = -0.0012 < (-0.001) = -0.001", threshold{Value: -0.001, Op: "<", Of: "slope(4)"}, true},
		{"(baseline - value) = 0.09 > 0.03", threshold{Value: 0.03, Op: ">", Of: "baseline - value"}, true},
		{"value 0.8 <= baseline 0.9", threshold{Value: 0.9, Op: "<=", Source: "baseline"}, true},
		{"0.2 < value 0.3", threshold{Value: 0.2, Op: ">"}, true},
		// The first comparison with a number; " and " inside brackets or
		// quotes does not split a clause, nor does " > " inside a string.
		{`(labels.job == "a > b and c") is true and value 5 >= 4`, threshold{Value: 4, Op: ">="}, true},
		{"(len(filter(items, {# > 1 and # < 3}))) = 4 > 2", threshold{Value: 2, Op: ">", Of: "len(filter(items, {# > 1 and # < 3}))"}, true},
		{"condition holds", threshold{}, false},
		{`labels.tier is "gold"`, threshold{}, false},
		{"", threshold{}, false},
	} {
		got, ok := parseThreshold(tc.why)
		if ok != tc.hasLimit || got != tc.want {
			t.Errorf("parseThreshold(%q) = %+v, %v; want %+v, %v", tc.why, got, ok, tc.want, tc.hasLimit)
		}
	}
}

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// trail seals records of one alert, as the router and people write them.
func trail(alert, feature string, steps ...audit.Record) []audit.Record {
	parts := strings.SplitN(alert, "/", 3)
	seq, head := 0, ""
	var out []audit.Record
	for _, r := range steps {
		r.Alert, r.Model, r.Rule, r.Kind, r.Metric, r.Feature, r.ConfigDigest = alert, parts[0], parts[1], "drift", "psi", feature, "test"
		seq, head = r.Seal(seq, head)
		out = append(out, r)
	}
	return out
}

func step(minutes int, action, actor, owner string) audit.Record {
	return audit.Record{At: at(minutes), Action: action, Actor: actor, Owner: owner}
}

func value(v float64) *float64 { return &v }

// A week of one model: an alert opened for credit-ds, escalated to
// ml-platform and acknowledged there after 12 minutes, then resolved; a
// second alert suppressed, then opened again and called a false alarm.
func exampleInput() Input {
	opened := step(0, audit.Opened, "router", "credit-ds")
	opened.Value = value(0.31)
	recs := trail("credit/drift/feature=income", "income",
		opened,
		step(0, audit.Queued, "router", "credit-ds"),
		step(30, audit.Escalated, "escalator", "ml-platform"),
		step(42, audit.Acknowledged, "slack:U1", "ml-platform"),
		step(600, audit.Resolved, "router", "ml-platform"))
	recs = append(recs, trail("credit/drift/feature=age", "age",
		step(100, audit.Suppressed, "router", "credit-ds"),
		step(200, audit.Resolved, "router", "credit-ds"),
		step(300, audit.Opened, "router", "credit-ds"),
		step(303, audit.FalseAlarm, "slack:U2", "credit-ds"))...)
	var readings []series.Observation
	for i := range 8 {
		readings = append(readings, series.Observation{At: at(i * 90), Value: 0.1 + 0.03*float64(i)})
	}
	return Input{
		Source: "state.json", Since: at(-60), Until: at(24 * 60),
		Records: recs,
		Alerts:  []*state.Alert{{ID: "credit/drift/feature=income", Model: "credit", Rule: "drift", Why: "value 0.31 > 0.25"}},
		Series:  []Series{{Key: signal.SeriesKey{Model: "credit", Kind: "drift", Metric: "psi", Feature: "income"}, Readings: readings}},
	}
}

func TestMarksFollowTheTrail(t *testing.T) {
	v := build(exampleInput())
	if len(v.Models) != 1 || len(v.Models[0].Charts) != 2 {
		t.Fatalf("models %+v, want one with two charts", v.Models)
	}
	kinds := func(c chartView) string {
		var k []string
		for _, m := range c.MarkList {
			k = append(k, m.Kind)
		}
		return strings.Join(k, " ")
	}
	// Sorted by rule, then alert id: age before income.
	age, income := v.Models[0].Charts[0], v.Models[0].Charts[1]
	if got, want := kinds(income), "opened escalated acknowledged resolved"; got != want {
		t.Errorf("income marks = %q, want %q", got, want)
	}
	if got, want := kinds(age), "suppressed resolved opened false-alarm"; got != want {
		t.Errorf("age marks = %q, want %q", got, want)
	}
	if v.Marks != 8 {
		t.Errorf("page counts %d marks, want 8", v.Marks)
	}
	if income.Limit == nil || !strings.Contains(income.Limit.Label, "0.25") {
		t.Errorf("income threshold = %+v, want a line at 0.25", income.Limit)
	}
	if age.Limit != nil || age.Note == "" || age.Empty == "" {
		t.Errorf("age (no explanation, no readings): limit %+v, note %q, empty %q; want no line, and both said", age.Limit, age.Note, age.Empty)
	}
	if len(income.Bands) != 1 || len(age.Bands) != 2 || !age.Bands[0].Suppressed {
		t.Errorf("bands: income %+v, age %+v; want one open, and suppressed then open", income.Bands, age.Bands)
	}
}

func TestLanesSayWhoAnsweredAndHowFast(t *testing.T) {
	v := build(exampleInput())
	lanes := map[string]laneView{}
	for _, l := range v.Owners {
		lanes[l.Owner] = l
	}
	ds, platform := lanes["credit-ds"], lanes["ml-platform"]
	// credit-ds: asked for income (escalated away unanswered) and for age
	// (a false alarm 3 minutes later); suppressed, it was not asked.
	if ds.Asked != 2 || ds.Answered != 1 || ds.Median != "3m" {
		t.Errorf("credit-ds lane: asked %d, answered %d, median %s; want 2, 1, 3m", ds.Asked, ds.Answered, ds.Median)
	}
	if !strings.Contains(ds.Asks[0].Tip, "no answer before it was escalated to ml-platform") {
		t.Errorf("credit-ds's first ask: %q, want it to say it escalated unanswered", ds.Asks[0].Tip)
	}
	if platform.Asked != 1 || platform.Answered != 1 || platform.Median != "12m" || !strings.Contains(platform.Asks[0].Tip, "acknowledged by slack:U1") {
		t.Errorf("ml-platform lane = %+v, want one ask answered in 12m by slack:U1", platform)
	}
}

func TestWindowLeavesOutWhatIsOutsideIt(t *testing.T) {
	in := exampleInput()
	in.Since = at(250) // after the income alert's opening and the age suppression
	v := build(in)
	if v.Marks != 3 { // income: resolved; age: opened, false alarm
		t.Errorf("marks since %s = %d, want 3", in.Since, v.Marks)
	}
	if len(v.Noise) != 1 || v.Noise[0].Alerts != 1 || v.Noise[0].FalseAlarms != 1 {
		t.Errorf("noise since %s = %+v, want the age alert alone, a false alarm", in.Since, v.Noise)
	}
	// The income alert opened before the window, and is open from its start.
	if income := v.Models[0].Charts[1]; len(income.Bands) != 1 || income.Bands[0].X != plotLeft {
		t.Errorf("income bands %+v, want one from the window's start (x %d)", income.Bands, plotLeft)
	}
	for _, c := range v.Models[0].Charts {
		for _, d := range c.Dots {
			if d.X < plotLeft {
				t.Errorf("%s: a reading drawn at x %g, before the window", c.Title, d.X)
			}
		}
	}
}

// hostile are names users and events may give models, rules, features and
// owners: markup, attribute breakers, script and style closers, URLs.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	`</svg></style></script><iframe src=javascript:alert(1)>`,
	`javascript:alert(1)`,
	"{{.Marks}} ${x} `x` \u2028\u2029 é",
}

func TestHostileNamesStayText(t *testing.T) {
	for _, name := range hostile {
		checkEscaped(t, name)
	}
}

func FuzzHostileNamesStayText(f *testing.F) {
	for _, name := range hostile {
		f.Add(name)
	}
	f.Fuzz(checkEscaped)
}

// checkEscaped renders a page whose every name is name, and checks that
// the page has no element, attribute or script that is not the
// template's own, and that the name is there as text.
func checkEscaped(t *testing.T, name string) {
	in := exampleInput()
	for i := range in.Records {
		r := &in.Records[i]
		r.Alert, r.Model, r.Rule, r.Feature, r.Owner, r.Actor, r.Detail = name+"/"+r.Alert, name, name, name, name, name, name
	}
	in.Alerts[0].ID, in.Alerts[0].Model, in.Alerts[0].Why = name+"/"+in.Alerts[0].ID, name, "value 0.31 > 0.25 and "+name
	in.Series[0].Key = signal.SeriesKey{Model: name, Kind: name, Metric: name, Feature: name, Segment: name}
	in.Source = name
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	scripts, sawName := 0, false
	allowed := map[string]bool{"class": true, "id": true, "href": true, "style": true, "viewbox": true, "role": true, "aria-label": true, "aria-hidden": true, "hidden": true}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				scripts++
			case "img", "iframe", "object", "embed", "link", "meta", "base", "form", "foreignobject":
				if n.Data != "meta" || scripts > 0 || n.Parent.Data != "head" {
					t.Fatalf("name %q made a <%s> element", name, n.Data)
				}
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "src" || a.Key == "srcdoc" {
					t.Fatalf("name %q made a %s attribute on <%s>", name, a.Key, n.Data)
				}
				if a.Key == "href" && !strings.HasPrefix(a.Val, "#") {
					t.Fatalf("name %q made a link to %q", name, a.Val)
				}
				if strings.HasPrefix(a.Key, "data-") && strings.Contains(a.Val, name) {
					sawName = true
				}
				if k := strings.ToLower(a.Key); !allowed[k] && !strings.HasPrefix(k, "data-") && !svgAttr(k) {
					t.Fatalf("name %q made an attribute %q on <%s>", name, a.Key, n.Data)
				}
			}
		}
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data != "script" && n.Parent.Data != "style" && strings.Contains(n.Data, name) {
			sawName = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 {
		t.Fatalf("name %q: %d scripts in the page, want the template's one", name, scripts)
	}
	// The parser turns NUL, CR and invalid UTF-8 into something else: only
	// printable names can be looked for as they are.
	printable := utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0
	if !sawName && printable && strings.TrimSpace(name) != "" {
		t.Fatalf("name %q is nowhere in the page's text", name)
	}
}

func svgAttr(k string) bool {
	switch k {
	case "x", "y", "dx", "dy", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "d", "width", "height", "fill", "stroke",
		"stroke-width", "text-anchor", "patternunits", "patterntransform", "lang", "charset", "name", "content":
		return true
	}
	return false
}

// A rule over hundreds of features does not make a page of hundreds of
// charts: the most eventful are drawn, and the page says what it left.
func TestManyAlertsOfARuleAreCappedAndSaidSo(t *testing.T) {
	in := Input{Since: at(-60), Until: at(24 * 60)}
	for i := range maxChartsPerRule + 3 {
		f := fmt.Sprintf("f%02d", i)
		steps := []audit.Record{step(i, audit.Opened, "router", "credit-ds")}
		if i == 0 { // the most eventful: drawn whatever its place
			steps = append(steps, step(30, audit.Escalated, "escalator", "ml-platform"))
		}
		in.Records = append(in.Records, trail("credit/drift/feature="+f, f, steps...)...)
	}
	for i := range maxQuietCharts + 2 {
		in.Series = append(in.Series, Series{Key: signal.SeriesKey{Model: "credit", Kind: "quality", Metric: fmt.Sprintf("m%02d", i)},
			Readings: []series.Observation{{At: at(5), Value: 1}}})
	}
	v := build(in)
	mv := v.Models[0]
	if len(mv.Charts) != maxChartsPerRule || len(mv.Quiet) != maxQuietCharts {
		t.Fatalf("%d alert charts and %d quiet ones, want %d and %d", len(mv.Charts), len(mv.Quiet), maxChartsPerRule, maxQuietCharts)
	}
	if mv.Charts[0].Alert != "credit/drift/feature=f00" || mv.Charts[0].Marks != 2 {
		t.Errorf("first chart %s with %d marks, want the escalated f00 with 2", mv.Charts[0].Alert, mv.Charts[0].Marks)
	}
	want := []string{"drift: 3 more alerts, with fewer marks, not drawn (the noise table counts them)", "2 more series without an alert, not drawn"}
	if strings.Join(mv.Left, "|") != strings.Join(want, "|") {
		t.Errorf("the page says %q, want %q", mv.Left, want)
	}
	if v.Noise[0].Alerts != maxChartsPerRule+3 {
		t.Errorf("noise counts %d alerts, want all %d", v.Noise[0].Alerts, maxChartsPerRule+3)
	}
}
