package slackapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// blockReply is a slash command's answer with its blocks.
type blockReply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
	Blocks       []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
		Accessory *struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"accessory"`
	} `json:"blocks"`
}

func (e *env) quietCommand(user, text string) blockReply {
	e.t.Helper()
	w := e.commandAnswer(user, text)
	var rep blockReply
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &rep) != nil {
		e.t.Fatalf("/stakeout %s: %d %q", text, w.Code, w.Body.String())
	}
	return rep
}

// endButtons are the End quiet buttons' values (window names).
func (r blockReply) endButtons() []string {
	var out []string
	for _, b := range r.Blocks {
		for _, el := range b.Elements {
			if el.ActionID == slackapp.ActionEndQuiet {
				out = append(out, el.Value)
			}
		}
		if b.Accessory != nil && b.Accessory.ActionID == slackapp.ActionEndQuiet {
			out = append(out, b.Accessory.Value)
		}
	}
	return out
}

func (e *env) quiets() []state.Quiet {
	e.t.Helper()
	qs, err := e.st.GetQuiets(context.Background(), "credit-approval")
	if err != nil {
		e.t.Fatal(err)
	}
	return qs.Windows
}

func (e *env) quietTrail(w state.Quiet) []string {
	e.t.Helper()
	recs, err := e.st.AlertRecords(context.Background(), w.AuditID())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := audit.Verify(recs); err != nil {
		e.t.Errorf("the window's trail does not verify: %v", err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Action+" by "+r.Actor)
	}
	return out
}

// TestQuietCommandListAndEndButton: a signed `/stakeout quiet` by a member
// of the model's owners makes a window, told in the channel with an End
// quiet button; `/stakeout quiet list` shows it; another member's press of
// End quiet ends it at once, told in the channel; both are audited.
func TestQuietCommandListAndEndButton(t *testing.T) {
	e := newEnv(t)
	rep := e.quietCommand(credit1, "quiet credit-approval accuracy-loss for 2h because relabelling last week's applications")
	if rep.ResponseType != "in_channel" || !strings.Contains(rep.Text, "<@"+credit1+"> quieted rule accuracy-loss of credit-approval for 2h, until Mar 9 08:05 UTC, because: relabelling last week's applications") {
		t.Fatalf("reply %+v, want an in-channel announcement of the window", rep)
	}
	ws := e.quiets()
	if len(ws) != 1 || ws[0].Rule != "accuracy-loss" || !ws[0].Until.Equal(t0.Add(2*time.Hour)) || ws[0].By != "slack:"+credit1 || ws[0].Channel != "C0CREDITDS" {
		t.Fatalf("stored windows %+v, want one on accuracy-loss until 08:05 by %s", ws, credit1)
	}
	if b := rep.endButtons(); len(b) != 1 || b[0] != ws[0].Name {
		t.Errorf("End quiet buttons %v, want one for %s", b, ws[0].Name)
	}
	list := e.quietCommand(lending, "quiet list")
	if list.ResponseType != "ephemeral" || !strings.Contains(list.Text, ws[0].Name) || !strings.Contains(list.Text, "relabelling") {
		t.Errorf("list %+v, want the window", list)
	}
	if b := list.endButtons(); len(b) != 1 || b[0] != ws[0].Name {
		t.Errorf("list's End quiet buttons %v, want one for %s", b, ws[0].Name)
	}
	e.now = e.now.Add(40 * time.Minute)
	code, resp := e.click(press{user: credit2, name: "ben", action: slackapp.ActionEndQuiet, group: ws[0].Name})
	if code != http.StatusOK || len(resp) != 1 || resp[0].ResponseType != "in_channel" || !strings.Contains(resp[0].Text, "<@"+credit2+"> ended quiet window "+ws[0].Name+" early") {
		t.Fatalf("End quiet: %d %+v, want it told in the channel", code, resp)
	}
	if got := e.quiets(); len(got) != 1 || !got[0].Until.Equal(e.now) || got[0].EndedBy != "slack:"+credit2 {
		t.Errorf("after End quiet: %+v, want it ending now, by %s", got, credit2)
	}
	if got := strings.Join(e.quietTrail(ws[0]), ", "); got != "quiet-started by slack:"+credit1+", quiet-ended by slack:"+credit2 {
		t.Errorf("the window's trail: %s", got)
	}
	if sc, _ := e.st.GetSchedule(context.Background(), ws[0].Name); sc == nil || !sc.Next.Equal(e.now) {
		t.Errorf("the window's end is not due now: %+v", sc)
	}
	_, resp = e.click(press{user: credit2, action: slackapp.ActionEndQuiet, group: ws[0].Name})
	if len(resp) != 1 || !strings.Contains(resp[0].Text, "already ended") {
		t.Errorf("a second End quiet: %+v, want 'already ended'", resp)
	}
	if list := e.quietCommand(credit1, "quiet list"); !strings.Contains(list.Text, "No quiet windows") {
		t.Errorf("list after the end: %q", list.Text)
	}
}

// TestQuietIsAuthorisedLikeTheActions: only members of the model's owners
// may quiet it or end its window; a refusal, or a malformed command,
// stores nothing and ends nothing.
func TestQuietIsAuthorisedLikeTheActions(t *testing.T) {
	for _, c := range []struct{ name, user, text, want string }{
		{"a user in no owner file", outsider, "quiet credit-approval for 2h because x", "🚫 Not allowed: only members of credit-approval's owners (credit-ds, data-platform, lending-product, ml-platform) may quiet it"},
		{"no reason", credit1, "quiet credit-approval for 2h", "say why"},
		{"longer than 7 days", credit1, "quiet credit-approval for 8d because x", "longer than 7 days"},
		{"an unknown rule", credit1, "quiet credit-approval accuracy-los for 2h because x", "has no rule &quot;accuracy-los&quot;"},
		{"an unknown model", credit1, "quiet credit for 2h because x", "no model &quot;credit&quot;"},
		{"no duration", credit1, "quiet credit-approval because x", "Usage: `/stakeout quiet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			rep := e.quietCommand(c.user, c.text)
			if rep.ResponseType != "ephemeral" || !strings.Contains(strings.ReplaceAll(rep.Text, `"`, "&quot;"), c.want) {
				t.Errorf("reply %+v, want an ephemeral %q", rep, c.want)
			}
			if ws := e.quiets(); len(ws) != 0 {
				t.Errorf("a refused command stored %+v", ws)
			}
		})
	}
	e := newEnv(t)
	e.quietCommand(dataEng, "quiet credit-approval for 1h because the bureau feed is being replayed")
	ws := e.quiets()
	if len(ws) != 1 || ws[0].Rule != "" {
		t.Fatalf("a data owner's member quieting the model: %+v, want one window on every rule", ws)
	}
	code, resp := e.click(press{user: outsider, action: slackapp.ActionEndQuiet, group: ws[0].Name})
	refused(t, code, resp, "🚫 Not allowed")
	if got := e.quiets(); len(got) != 1 || !got[0].Until.Equal(ws[0].Until) || got[0].EndedBy != "" {
		t.Errorf("an outsider's End quiet changed the window: %+v", got)
	}
}
