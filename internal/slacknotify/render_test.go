package slacknotify

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

func exampleConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func ptr(f float64) *float64 { return &f }

// notices are one of each kind of notification, on the example
// configuration.
func notices() map[string]*state.Notification {
	accuracy := state.Alert{ID: "credit-approval/accuracy-loss", Model: "credit-approval", Rule: "accuracy-loss",
		Kind: "quality", Metric: "accuracy", Status: state.Open, Severity: "critical", Role: "model", Owner: "credit-ds",
		Notify: []string{"slack", "pagerduty"}, AckWithin: "15m", Stakes: "critical",
		Summary: "Accuracy 0.81 against a 0.9 baseline", Why: "(baseline - value) = 0.09 > 0.03",
		Runbook: "https://wiki.example.com/runbooks/credit-accuracy", Value: 0.81, Baseline: ptr(0.90),
		Recent: []float64{0.9, 0.89, 0.9, 0.88, 0.86, 0.81}, Impact: ptr(1620000), ModelVersion: "v42",
		Lineage:  map[string]any{"training_data": "s3://ml/credit/2026-01", "trained_through": "2026-01-31", "auc_at_training": 0.91},
		OpenedAt: t0, UpdatedAt: t0}
	drift := state.Alert{ID: "credit-approval/key-feature-drift/feature=income", Model: "credit-approval", Rule: "key-feature-drift",
		Kind: "drift", Metric: "psi", Feature: "income", Status: state.Open, Severity: "high", Role: "model", Owner: "credit-ds",
		Notify: []string{"slack", "pagerduty"}, AckWithin: "30m", Stakes: "critical", Summary: "PSI 0.31 on income",
		Why: "value 0.31 > 0.25", Value: 0.31, Recent: []float64{0.05, 0.08, 0.12, 0.22, 0.31}, OpenedAt: t0, UpdatedAt: t0.Add(2 * time.Hour)}
	resolved := drift
	resolved.Status, resolved.ResolvedAt, resolved.UpdatedAt, resolved.Value = state.Resolved, t0.Add(26*time.Hour), t0.Add(26*time.Hour), 0.08
	playlist := state.Alert{ID: "playlist-recommender/skip-rate-high/segment=region%3Deu", Model: "playlist-recommender", Rule: "skip-rate-high",
		Kind: "prediction", Metric: "skip_rate", Segment: "region=eu", Status: state.Open, Severity: "warning", Role: "product",
		Owner: "listening-product", Notify: []string{"digest"}, Stakes: "low", Summary: "Skip rate 0.42 in region=eu", Value: 0.42,
		OpenedAt: t0, UpdatedAt: t0}
	return map[string]*state.Notification{
		"opened-critical": {ID: "credit-approval/accuracy-loss@20260301T060000Z.1#1", Kind: state.NoticeOpened,
			Group: "credit-approval/accuracy-loss@20260301T060000Z.1", Model: "credit-approval", Rule: "accuracy-loss", Owner: "credit-ds",
			Role: "model", Channels: []string{"slack", "pagerduty"}, Alert: accuracy, Members: 1, Created: t0},
		"updated-group": {ID: "credit-approval/key-feature-drift@20260301T060000Z.1#3", Kind: state.NoticeUpdated,
			Group: "credit-approval/key-feature-drift@20260301T060000Z.1", Model: "credit-approval", Rule: "key-feature-drift",
			Owner: "credit-ds", Role: "model", Channels: []string{"slack", "pagerduty"}, Alert: drift, Members: 3,
			Subjects: []string{"feature=age", "feature=debt_ratio", "feature=income"}, Created: t0.Add(2 * time.Hour)},
		"resolved": {ID: "credit-approval/key-feature-drift@20260301T060000Z.1#4", Kind: state.NoticeResolved,
			Group: "credit-approval/key-feature-drift@20260301T060000Z.1", Model: "credit-approval", Rule: "key-feature-drift",
			Owner: "credit-ds", Role: "model", Channels: []string{"slack", "pagerduty"}, Alert: resolved, Members: 3, Created: t0.Add(26 * time.Hour)},
		"opened-digest": {ID: "playlist-recommender/skip-rate-high@20260301T060000Z.1#1", Kind: state.NoticeOpened,
			Group: "playlist-recommender/skip-rate-high@20260301T060000Z.1", Model: "playlist-recommender", Rule: "skip-rate-high",
			Owner: "listening-product", Role: "product", Channels: []string{"digest"}, Alert: playlist, Members: 1, Created: t0},
	}
}

// golden compares got with testdata/<name>.golden.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func payload(t testing.TB, m Message) []byte {
	t.Helper()
	b, err := json.MarshalIndent(struct {
		Text   string        `json:"text"`
		Blocks []slack.Block `json:"blocks"`
	}{m.Text, m.Blocks}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// checkSlack fails if Slack would refuse the message's blocks.
func checkSlack(t testing.TB, m Message) {
	t.Helper()
	blocks, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	if reason := notifytest.CheckBlocks(blocks); reason != "" {
		t.Errorf("Slack would refuse the blocks: %s", reason)
	}
	if n := len([]rune(m.Text)); n > MaxText || n == 0 {
		t.Errorf("text is %d characters", n)
	}
}

// TestRenderGolden pins the Block Kit JSON of every kind of message, and
// its text rendering (what `stakeout replay` prints).
func TestRenderGolden(t *testing.T) {
	for name, m := range goldenMessages(t) {
		t.Run(name, func(t *testing.T) {
			checkSlack(t, m)
			golden(t, name+".json", string(payload(t, m)))
			golden(t, name+".txt", Text(m))
		})
	}
}

// goldenMessages are one message of each kind, by golden file name.
func goldenMessages(t testing.TB) map[string]Message {
	cfg := exampleConfig(t)
	ns := notices()
	views := map[string]*notify.View{}
	for name, n := range ns {
		views[name] = notify.NewView(cfg, n)
	}
	digest := []*notify.View{views["opened-digest"], notify.NewView(cfg, ns["opened-digest"])}
	digest[1].Change, digest[1].At = state.NoticeResolved, t0.Add(5*time.Hour)
	pageFailed := notify.NewView(cfg, ns["opened-critical"])
	pageFailed.Failing = []notify.KV{{Key: "pagerduty", Value: "http 503"}}
	pageFailed.Failure = &state.Failure{Channel: "pagerduty", Reason: "http 503", Notice: pageFailed.Notice}
	return map[string]Message{
		"page-failed":       Render(pageFailed),
		"page-failed-reply": FailureReply(pageFailed),
		"opened-critical":   Render(views["opened-critical"]),
		"updated-group":     Render(views["updated-group"]),
		"updated-reply":     Reply(views["updated-group"]),
		"resolved":          Render(views["resolved"]),
		"resolved-reply":    Reply(views["resolved"]),
		"opened-low-stakes": Render(views["opened-digest"]),
		"failure":           Failure(views["opened-critical"], "slack", "credit-approval/accuracy-loss@20260301T060000Z.1#1", "channel_not_found"),
		"digest":            Digest(notify.Owner(cfg, "listening-product"), "2026-03-01", digest),
	}
}

func TestRenderShowsTheFacts(t *testing.T) {
	cfg := exampleConfig(t)
	text := Text(Render(notify.NewView(cfg, notices()["opened-critical"])))
	for _, want := range []string{
		"Critical · credit-approval · accuracy-loss", "stakes critical", "(baseline - value) = 0.09 > 0.03",
		"0.81 (baseline 0.9)", "▇", "Model version: v42", "Impact: $1,620,000/day", "training_data: s3://ml/credit/2026-01",
		"Credit data science", "<@U012ABCDE>", "Escalates to ML platform at 2026-03-01 06:15 UTC",
		"Runbook (https://wiki.example.com/runbooks/credit-accuracy)", "[Acknowledge] [Resolve] [More… ▾]",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	if resolved := Text(Render(notify.NewView(cfg, notices()["resolved"]))); strings.Contains(resolved, "Acknowledge") || strings.Contains(resolved, "<@") {
		t.Errorf("a resolved message keeps buttons or mentions:\n%s", resolved)
	}
}

// A group names its first state.MaxMembers alerts and counts the rest:
// the message and an update's reply say "and N more" of those unnamed.
func TestGroupsPastTheirNamesSayHowManyMore(t *testing.T) {
	cfg := exampleConfig(t)
	n := notices()["updated-group"]
	n.Members, n.Subjects = 250, []string{"feature=age", "feature=debt_ratio"}
	n.Joined, n.Joins = []string{"feature=age", "feature=debt_ratio"}, 150
	if msg := Text(Render(notify.NewView(cfg, n))); !strings.Contains(msg, "250 alerts in this group: feature=age, feature=debt_ratio, and 248 more") {
		t.Errorf("message lacks the count of those unnamed:\n%s", msg)
	}
	if reply := Reply(notify.NewView(cfg, n)).Text; !strings.Contains(reply, "150 alerts joined (age, debt_ratio and 148 more") {
		t.Errorf("reply %q, want the 150 that joined counted, two named", reply)
	}
	n.Joined = nil
	if reply := Reply(notify.NewView(cfg, n)).Text; !strings.Contains(reply, "150 alerts joined (none named: the group names its first 100 alerts") {
		t.Errorf("reply %q, want the 150 that joined counted, none named", reply)
	}
}

func TestSparkline(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want string
	}{
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8}, "▁▂▃▄▅▆▇█"},
		{[]float64{5, 5, 5}, "▄▄▄"},
		{[]float64{0, 10, 0}, "▁█▁"},
		{nil, ""},
	} {
		if got := Sparkline(tc.in); got != tc.want {
			t.Errorf("Sparkline(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDigestKeepsToSlacksLimits(t *testing.T) {
	cfg := exampleConfig(t)
	n := notices()["opened-digest"]
	n.Alert.Summary = strings.Repeat("long summary ", 40)
	var views []*notify.View
	for range 2000 {
		views = append(views, notify.NewView(cfg, n))
	}
	m := Digest(notify.Owner(cfg, "listening-product"), "2026-03-01", views)
	checkSlack(t, m)
	text := Text(m)
	shown := strings.Count(text, "• ")
	if !strings.Contains(text, fmt.Sprintf("…and %d more", 2000-shown)) || shown == 0 {
		t.Errorf("digest of 2000 shows %d lines and does not count the rest:\n%s", shown, text[len(text)-200:])
	}
}

// FuzzRender: whatever an event or a file puts in the user-controlled
// fields, the message stays within Slack's limits, and its mrkdwn can
// mention nobody but the owner and link nowhere but the runbook.
func FuzzRender(f *testing.F) {
	cfg := exampleConfig(f)
	for _, s := range []string{"<!channel>", "<@U0BADBAD0> hi", "<https://evil.example|click>", "*bold* _it_ ~s~ `c`",
		"&lt;!here&gt;", strings.Repeat("ö", 5000), "a\nb\r\n> quote", "\u200b<", ""} {
		f.Add(s, s, "income", "https://wiki.example.com/x")
	}
	f.Fuzz(func(t *testing.T, summary, name, feature, runbook string) {
		n := notices()["updated-group"]
		n.Alert.Summary, n.Alert.Feature, n.Alert.Segment, n.Alert.Why, n.Alert.Runbook = summary, feature, name, summary, runbook
		n.Alert.Lineage = map[string]any{name: summary}
		n.Subjects = []string{feature, name, summary}
		v := notify.NewView(cfg, n)
		v.Owner.Name, v.Model, v.Rule, v.Stakes, v.AckWithin = name, name, feature, name, feature
		v.EscalatesTo = &notify.Person{ID: name, Name: summary}
		for _, m := range []Message{Render(v), Reply(v), Failure(v, "slack", name, summary), Digest(v.Owner, name, []*notify.View{v, v})} {
			checkSlack(t, m)
			for _, mk := range mrkdwnTexts(m) {
				assertInert(t, mk, runbook)
			}
			assertInert(t, m.Text, "")
		}
	})
}

// mrkdwnTexts returns every mrkdwn text of a message.
func mrkdwnTexts(m Message) []string {
	var out []string
	add := func(t *slack.TextBlockObject) {
		if t != nil && t.Type == slack.MarkdownType {
			out = append(out, t.Text)
		}
	}
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			add(b.Text)
			for _, f := range b.Fields {
				add(f)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					add(t)
				}
			}
		}
	}
	return out
}

// assertInert checks that every <…> in mrkdwn is one stakeout made: the
// owner's mentions or a link to the runbook.
func assertInert(t *testing.T, mk, runbook string) {
	t.Helper()
	allowed := map[string]bool{"<@U012ABCDE>": true}
	if l := Link(runbook, "Runbook"); l != "" {
		allowed[l] = true
	}
	rest := mk
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			t.Fatalf("unclosed < in mrkdwn %q", mk)
		}
		if tok := rest[i : i+j+1]; !allowed[tok] {
			t.Fatalf("mrkdwn %q contains %q, which stakeout did not put there", mk, tok)
		}
		rest = rest[i+j+1:]
	}
	if strings.Contains(rest, ">") {
		t.Fatalf("stray > in mrkdwn %q", mk)
	}
}

// BenchmarkRender: building one alert group's message. Target ≤ 50 µs.
func BenchmarkRender(b *testing.B) {
	v := notify.NewView(exampleConfig(b), notices()["opened-critical"])
	b.ReportAllocs()
	for b.Loop() {
		Render(v)
	}
}

// BenchmarkRenderAndEncode adds the JSON encoding slack-go does when it
// posts (encoding/json over slack-go's types, not ours to speed up): for
// the record, no target.
func BenchmarkRenderAndEncode(b *testing.B) {
	v := notify.NewView(exampleConfig(b), notices()["opened-critical"])
	b.ReportAllocs()
	for b.Loop() {
		m := Render(v)
		if _, err := json.Marshal(m.Blocks); err != nil {
			b.Fatal(err)
		}
	}
}

// An escalation step past the end of the chain pages nobody new: its
// reply says the owner is told again, not that it escalated.
func TestEndOfChainReplySaysNotifiedAgain(t *testing.T) {
	cfg := exampleConfig(t)
	n := notices()["opened-critical"]
	n.Kind = state.NoticeEscalated
	n.Lifecycle = state.Lifecycle{Owner: "credit-ds", From: "credit-ds", Step: 3, Note: "still nobody acknowledged"}
	if reply := Reply(notify.NewView(cfg, n)).Text; strings.Contains(reply, "Escalated") || !strings.Contains(reply, "notified again") {
		t.Errorf("end-of-chain reply %q, want it to say the owner is notified again", reply)
	}
	n.Lifecycle.From = "someone-else"
	if reply := Reply(notify.NewView(cfg, n)).Text; !strings.Contains(reply, "Escalated to") {
		t.Errorf("escalation reply %q, want it to say escalated to", reply)
	}
}

// A PagerDuty user's name (who acknowledged or resolved from PagerDuty)
// reaches the message as text: it can neither mention the channel nor
// make a link.
func TestAPagerDutyUsersNameIsShownInert(t *testing.T) {
	cfg := exampleConfig(t)
	evil := "<!channel> <https://evil.example/login|Re-authenticate stakeout>"
	for _, kind := range []string{state.NoticeAcknowledged, state.NoticeResolved} {
		n := &state.Notification{ID: "credit-approval/accuracy-loss@x.1#2", Kind: kind, Group: "credit-approval/accuracy-loss@x.1",
			Model: "credit-approval", Rule: "accuracy-loss", Owner: "credit-ds", Role: "model", Created: t0,
			Alert: state.Alert{ID: "credit-approval/accuracy-loss", Model: "credit-approval", Rule: "accuracy-loss", Severity: "critical", OpenedAt: t0},
			Lifecycle: state.Lifecycle{Owner: "credit-ds", Base: "credit-ds", AckedBy: "pagerduty:P1B2C3D", AckedName: evil, AckedAt: t0,
				By: "pagerduty:P1B2C3D", ByName: evil}}
		if kind == state.NoticeResolved {
			n.Lifecycle.Resolution, n.Lifecycle.ClosedBy, n.Lifecycle.ClosedName, n.Lifecycle.ClosedAt = state.ResolvedByPerson, "pagerduty:P1B2C3D", evil, t0
		}
		v := notify.NewView(cfg, n)
		for name, m := range map[string]Message{"reply": Reply(v), "message": Render(v)} {
			b, err := json.Marshal(m.Blocks)
			if err != nil {
				t.Fatal(err)
			}
			for _, live := range []string{"<!channel>", "<https://evil.example"} {
				if strings.Contains(string(b), strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(live)) || strings.Contains(m.Text, live) {
					t.Errorf("%s %s carries a live %s from a PagerDuty user's name: text=%q", kind, name, live, m.Text)
				}
			}
		}
	}
}

// When the version timeline knows the release, the message says since when
// the version was live, what it was trained through and the version
// approved before it.
func TestRenderShowsTheLiveAndPreviousVersion(t *testing.T) {
	cfg := exampleConfig(t)
	n := notices()["opened-critical"]
	n.Alert.ModelVersion = "2026.04.2"
	n.Alert.Release = &state.Release{LiveSince: time.Date(2026, 4, 14, 9, 30, 0, 0, time.UTC), Environment: "prod",
		TrainedThrough: "2026-03-31", Previous: "2026.03.1"}
	text := Text(Render(notify.NewView(cfg, n)))
	want := "Model version: live since Tue 14 Apr: 2026.04.2, trained through 2026-03-31; previous approved 2026.03.1"
	if !strings.Contains(text, want) {
		t.Errorf("message lacks %q:\n%s", want, text)
	}
}
