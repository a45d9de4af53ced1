package slackapp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// TestSignature: a request Slack signed is acted on; anything else is a 401
// that changes nothing — no state, no audit record, no notification, no
// reply to the user.
func TestSignature(t *testing.T) {
	ack := press{user: credit1, name: "ana", action: slacknotify.ActionAcknowledge}
	cases := []struct {
		name string
		// prepare signs (or not) the request for body.
		prepare func(e *env, r *http.Request, body string) *http.Request
		want    int
	}{
		{"signed by Slack", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock(), body)
			return r
		}, http.StatusOK},
		{"timestamp 4 minutes old (within the window)", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock().Add(-4*time.Minute), body)
			return r
		}, http.StatusOK},
		{"no headers", func(e *env, r *http.Request, body string) *http.Request { return r }, http.StatusUnauthorized},
		{"no signature", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock(), body)
			r.Header.Del(signature.SlackSignatureHeader)
			return r
		}, http.StatusUnauthorized},
		{"no timestamp", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock(), body)
			r.Header.Del(signature.SlackTimestampHeader)
			return r
		}, http.StatusUnauthorized},
		{"wrong secret", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, []byte("not-the-apps-signing-secret-0000"), e.clock(), body)
			return r
		}, http.StatusUnauthorized},
		{"tampered body (the signature of another user's press)", func(e *env, r *http.Request, body string) *http.Request {
			other, _ := e.payload(press{user: credit2, action: slacknotify.ActionAcknowledge})
			sign(r, signingSecret, e.clock(), other)
			return r
		}, http.StatusUnauthorized},
		{"tampered body (one byte appended)", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock(), body)
			return newSigned(r, body+"&x=1")
		}, http.StatusUnauthorized},
		{"replayed: timestamp 6 minutes old, signature valid for it", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock().Add(-6*time.Minute), body)
			return r
		}, http.StatusUnauthorized},
		{"timestamp 6 minutes ahead", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock().Add(6*time.Minute), body)
			return r
		}, http.StatusUnauthorized},
		{"signature under a replaced timestamp", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock().Add(-time.Hour), body)
			r.Header.Set(signature.SlackTimestampHeader, strconv.FormatInt(e.clock().Unix(), 10))
			return r
		}, http.StatusUnauthorized},
		{"unknown signature version", func(e *env, r *http.Request, body string) *http.Request {
			sign(r, signingSecret, e.clock(), body)
			r.Header.Set(signature.SlackSignatureHeader, "v1="+strings.TrimPrefix(r.Header.Get(signature.SlackSignatureHeader), "v0="))
			return r
		}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			body, id := e.payload(ack)
			r := c.prepare(e, newRequest(body), body)
			w := e.serve(r)
			if w.Code != c.want {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), c.want)
			}
			if c.want != http.StatusOK {
				e.unchanged(before)
				if resp := e.slack.Responses(id); len(resp) != 0 {
					t.Errorf("a rejected request answered the user: %+v", resp)
				}
				if strings.Contains(w.Body.String(), "v0=") {
					t.Errorf("the 401 body leaks a signature: %q", w.Body.String())
				}
				return
			}
			if g := e.getGroup(); g.AckedBy != "slack:"+credit1 {
				t.Errorf("a signed press was not applied: AckedBy %q", g.AckedBy)
			}
		})
	}
}

// newSigned returns a request for body carrying r's headers.
func newSigned(r *http.Request, body string) *http.Request {
	n := newRequest(body)
	n.Header = r.Header.Clone()
	return n
}

// TestSigningSecretUnavailable: stakeout's own misconfiguration is a 500,
// never a 401 that would look like a forged request, and changes nothing.
func TestSigningSecretUnavailable(t *testing.T) {
	for name, secret := range map[string]func(context.Context) ([]byte, error){
		"secret store fails": func(context.Context) ([]byte, error) { return nil, errNoSecret },
		"empty secret":       func(context.Context) ([]byte, error) { return nil, nil },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			body, _ := e.payload(press{user: credit1, action: slacknotify.ActionAcknowledge})
			r := newRequest(body)
			sign(r, signingSecret, e.clock(), body)
			e.app.SigningSecret = secret
			w := e.serve(r)
			want := http.StatusInternalServerError
			if name == "empty secret" {
				// An empty key verifies nothing (signature.ErrNoSecret); the
				// app may answer 401 or 500, but must not act.
				if w.Code != http.StatusUnauthorized && w.Code != http.StatusInternalServerError {
					t.Errorf("status %d, want 401 or 500", w.Code)
				}
			} else if w.Code != want {
				t.Errorf("status %d, want %d", w.Code, want)
			}
			e.unchanged(before)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		body, _ := e.payload(press{user: credit1, action: slacknotify.ActionAcknowledge})
		r := httptest.NewRequest(m, "/", strings.NewReader(body))
		sign(r, signingSecret, e.clock(), body)
		if w := e.serve(r); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, w.Code)
		}
	}
	e.unchanged(before)
}

// TestOversizedBody: more than MaxBody is refused before anything else,
// even when it is validly signed.
func TestOversizedBody(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	body, _ := e.payload(press{user: credit1, action: slacknotify.ActionAcknowledge})
	body += "&pad=" + strings.Repeat("a", slackapp.MaxBody)
	r := newRequest(body)
	sign(r, signingSecret, e.clock(), body)
	if w := e.serve(r); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", w.Code)
	}
	e.unchanged(before)

	// Exactly MaxBody is still read (and, being signed, acted on).
	body, _ = e.payload(press{user: credit1, action: slacknotify.ActionAcknowledge})
	body += "&pad="
	body += strings.Repeat("a", slackapp.MaxBody-len(body))
	r = newRequest(body)
	sign(r, signingSecret, e.clock(), body)
	if w := e.serve(r); w.Code != http.StatusOK {
		t.Errorf("a body of exactly MaxBody: status %d, want 200", w.Code)
	}
	if g := e.getGroup(); g.AckedBy != "slack:"+credit1 {
		t.Errorf("a body of exactly MaxBody was not applied: AckedBy %q", g.AckedBy)
	}
}

// TestMalformedSignedRequests: Slack's own signature on something that is
// neither an interaction nor a command is a 400 and changes nothing.
func TestMalformedSignedRequests(t *testing.T) {
	for name, body := range map[string]string{
		"payload is not JSON":   "payload=%7Bnot-json",
		"neither kind":          "foo=bar",
		"empty body":            "",
		"body is not a form":    "payload=%zz",
		"payload is a JSON lie": `payload=` + "%5B1%2C2%5D",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			r := newRequest(body)
			sign(r, signingSecret, e.clock(), body)
			if w := e.serve(r); w.Code != http.StatusBadRequest {
				t.Errorf("status %d, want 400", w.Code)
			}
			e.unchanged(before)
		})
	}
}

// TestOtherInteractionsIgnored: interaction types stakeout never asks for
// (a shortcut, a view submission) are answered 200 and change nothing.
func TestOtherInteractionsIgnored(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	for _, p := range []string{`{"type":"shortcut","callback_id":"x","user":{"id":"U012ABCDE"}}`,
		`{"type":"block_actions","user":{"id":"U012ABCDE"},"actions":[]}`} {
		body := "payload=" + urlEscape(p)
		r := newRequest(body)
		sign(r, signingSecret, e.clock(), body)
		if w := e.serve(r); w.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p, w.Code)
		}
	}
	e.unchanged(before)
}

// TestCommandSignature: the slash command is verified like a button press.
func TestCommandSignature(t *testing.T) {
	e := newEnv(t)
	body := "command=%2Fstakeout&text=open&user_id=" + credit1 + "&user_name=ana"
	for name, prepare := range map[string]func(r *http.Request){
		"unsigned":     func(*http.Request) {},
		"wrong secret": func(r *http.Request) { sign(r, []byte("not-the-apps-signing-secret-0000"), e.clock(), body) },
		"replayed":     func(r *http.Request) { sign(r, signingSecret, e.clock().Add(-6*time.Minute), body) },
	} {
		r := newRequest(body)
		prepare(r)
		w := e.serve(r)
		if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "accuracy-loss") {
			t.Errorf("%s: status %d, body %q; want 401 revealing nothing", name, w.Code, w.Body.String())
		}
	}
}

// TestSlowDeliveryStaysWithinBudget: Slack wants an answer within 3 s. A
// slow message update is cut at the budget and left to the outbox; the
// change itself is recorded.
func TestSlowDeliveryStaysWithinBudget(t *testing.T) {
	e := newEnv(t)
	e.app.Budget = 300 * time.Millisecond
	hadDeadline := make(chan bool, 1)
	e.app.Deliver = func(ctx context.Context, ids []string) error {
		_, ok := ctx.Deadline()
		hadDeadline <- ok
		<-ctx.Done()
		return ctx.Err()
	}
	start := time.Now()
	code, resp := e.click(press{user: credit1, action: slacknotify.ActionAcknowledge})
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("answered after %v with a budget of %v", elapsed, e.app.Budget)
	}
	if code != http.StatusOK || len(resp) != 0 {
		t.Errorf("status %d, replies %+v; want 200 and no reply", code, resp)
	}
	if !<-hadDeadline {
		t.Error("Deliver got a context without a deadline")
	}
	if g := e.getGroup(); g.AckedBy != "slack:"+credit1 {
		t.Errorf("the acknowledgement was lost: AckedBy %q", g.AckedBy)
	}
	pending, err := e.st.Pending(context.Background(), t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	waiting := false
	for _, n := range pending {
		waiting = waiting || n.Kind == "acknowledged" && n.Group == e.group.ID
	}
	if !waiting {
		t.Errorf("the acknowledgement's notification is not waiting in the outbox (%d pending)", len(pending))
	}
}
