package serve_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/serve"
)

// journal is the order things happened in, across goroutines.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// running is a Server serving in the background.
type running struct {
	addr string
	stop context.CancelFunc
	done chan error
}

// start serves s on a loopback port of its own until stop is called.
func start(t *testing.T, s *serve.Server) *running {
	t.Helper()
	s.Addr = "127.0.0.1:0"
	ctx, stop := context.WithCancel(context.Background())
	r := &running{stop: stop, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { r.done <- s.Serve(ctx, func(a net.Addr) { ready <- a.String() }) }()
	select {
	case r.addr = <-ready:
	case err := <-r.done:
		t.Fatalf("Serve returned before listening: %v", err)
	}
	t.Cleanup(stop)
	return r
}

// refusing waits until the listener is closed: shutdown has begun.
func (r *running) refusing(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 5s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait returns Serve's error, failing the test if it does not return.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of shutdown")
		return nil
	}
}

func TestShutdownAnswersTheRequestInFlightBeforeSaving(t *testing.T) {
	var j journal
	entered, release := make(chan struct{}), make(chan struct{})
	s := &serve.Server{
		Events: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			if err := r.Context().Err(); err != nil {
				j.add("request cancelled: " + err.Error())
			}
			j.add("request answered")
			io.WriteString(w, "accepted")
		}),
		Save: func() error { j.add("saved"); return nil },
	}
	r := start(t, s)
	answer := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+r.addr+"/", "application/json", strings.NewReader("{}"))
		if err != nil {
			answer <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- resp.Status + " " + string(b)
	}()
	<-entered
	r.stop()
	r.refusing(t)
	if got := j.get(); len(got) != 0 {
		t.Fatalf("with a request in flight, shutdown already did %v", got)
	}
	close(release)
	if err := r.wait(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if got := <-answer; got != "200 OK accepted" {
		t.Errorf("the client in flight at shutdown got %q, want its answer", got)
	}
	if got, want := j.get(), []string{"request answered", "saved"}; !slices.Equal(got, want) {
		t.Errorf("shutdown did %v, want %v", got, want)
	}
}

func TestShutdownFinishesTheLoopsRunBeforeSaving(t *testing.T) {
	var j journal
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := &serve.Server{
		Loops: []serve.Loop{{Name: "escalator run", Every: time.Millisecond, Run: func(ctx context.Context) error {
			first := false
			once.Do(func() { first = true })
			if !first {
				return nil
			}
			close(started)
			<-release
			if err := ctx.Err(); err != nil {
				j.add("run cancelled: " + err.Error())
			}
			j.add("run finished")
			return nil
		}}},
		Save: func() error { j.add("saved"); return nil },
	}
	r := start(t, s)
	<-started
	r.stop()
	r.refusing(t)
	select {
	case err := <-r.done:
		t.Fatalf("Serve returned (%v) with a loop's run in progress", err)
	default:
	}
	close(release)
	if err := r.wait(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if got, want := j.get(), []string{"run finished", "saved"}; !slices.Equal(got, want) {
		t.Errorf("shutdown did %v, want %v", got, want)
	}
}

func TestServeReturnsSavesError(t *testing.T) {
	full := errors.New("no space left on device")
	r := start(t, &serve.Server{Save: func() error { return full }})
	r.stop()
	err := r.wait(t)
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "save") {
		t.Errorf("Serve returned %v, want the save's error, said to be the save's", err)
	}
}

// A client that never finishes its request cannot keep the state from
// being saved: after Grace, Serve saves and says what was left.
func TestShutdownSavesAfterGraceWithARequestStillInFlight(t *testing.T) {
	var j journal
	entered, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := &serve.Server{
		Grace: 50 * time.Millisecond,
		Events: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			close(entered)
			<-release
		}),
		Save: func() error { j.add("saved"); return nil },
	}
	r := start(t, s)
	go http.Post("http://"+r.addr+"/", "application/json", strings.NewReader("{}"))
	<-entered
	r.stop()
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "still in flight after 50ms") {
		t.Errorf("Serve returned %v, want it to say requests were still in flight after the grace", err)
	}
	if got := j.get(); !slices.Equal(got, []string{"saved"}) {
		t.Errorf("after the grace, shutdown did %v, want the state saved", got)
	}
}

func TestServeSaysWhyItCannotListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	saved := false
	s := &serve.Server{Addr: ln.Addr().String(), Save: func() error { saved = true; return nil }}
	err = s.Serve(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Errorf("Serve on a port in use returned %v, want it to name the address", err)
	}
	if saved {
		t.Error("Serve saved although it never served")
	}
}

func TestUnconfiguredEndpointsAnswer503SayingWhatToSet(t *testing.T) {
	slack := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "slack app") })
	for _, c := range []struct {
		name         string
		s            serve.Server
		method, path string
		status       int
		says         string
	}{
		{"no Slack signing secret", serve.Server{}, http.MethodPost, "/slack/actions", 503, "set SLACK_SIGNING_SECRET"},
		{"no PagerDuty webhook secret", serve.Server{Slack: slack}, http.MethodPost, "/pagerduty/webhook", 503, "set PAGERDUTY_WEBHOOK_SECRET"},
		{"no metrics", serve.Server{}, http.MethodGet, "/metrics", 503, "metrics are not configured"},
		{"no PutEvents", serve.Server{}, http.MethodPost, "/", 503, "PutEvents endpoint is not configured"},
		{"the Slack endpoint configured", serve.Server{Slack: slack}, http.MethodPost, "/slack/actions", 200, "slack app"},
		{"health, whatever is configured", serve.Server{}, http.MethodGet, "/healthz", 200, "ok"},
	} {
		w := httptest.NewRecorder()
		c.s.Handler().ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.says) {
			t.Errorf("%s: %s %s answered %d %q, want %d saying %q", c.name, c.method, c.path, w.Code, w.Body.String(), c.status, c.says)
		}
	}
}
