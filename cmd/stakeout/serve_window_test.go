package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// serveWith runs `stakeout serve` in the process with args until the test
// ends or stop is called, and returns its address once it answers.
func serveWith(t *testing.T, args ...string) (addr string, stop func() (int, string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := &serveCmd{stop: ctx}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.flags(fs)
	if err := fs.Parse(append([]string{"--dir", "../..", "--addr", addr}, args...)); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- c.run(fs.Args(), stdio{in: strings.NewReader(""), out: &out, err: &errOut}) }()
	stopped := false
	stop = func() (int, string) {
		if !stopped {
			stopped = true
			cancel()
		}
		code := <-done
		return code, errOut.String()
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return addr, stop
		}
		if time.Now().After(deadline) {
			t.Fatal("stakeout serve did not answer /healthz within 10s")
		}
	}
}

// --update-window is the windows of the groups serve opens, stored with
// them: two alerts of one rule make the group's message and, once the
// 300 ms window ends, its thread reply naming both; the saved group keeps
// the window, without the functions' grace.
func TestServeUpdateWindowIsTheGroupsWindow(t *testing.T) {
	slack := notifytest.NewSlack(t, notifytest.WithChannels("C0DATAPLAT"))
	t.Setenv("SLACK_BOT_TOKEN", slack.Token())
	t.Setenv("STAKEOUT_SLACK_API_URL", slack.URL())
	statePath := filepath.Join(t.TempDir(), "state.json")
	addr, stop := serveWith(t, "--state", statePath, "--update-window", "300ms")
	for _, f := range []string{"fa", "fb"} {
		detail := fmt.Sprintf(`{"model":"churn-prediction","kind":"freshness","metric":"lag_seconds","feature":%q,"value":180000,"observed_at":%q}`,
			f, time.Now().UTC().Format(time.RFC3339Nano))
		body := fmt.Sprintf(`{"Entries":[{"Source":"test","DetailType":"ML Model Signal","Detail":%q}]}`, detail)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PutEvents of %s: %s", f, resp.Status)
		}
	}
	both := regexp.MustCompile(`The group has 2 alert\(s\) now`)
	told := func() bool {
		for _, m := range slack.Messages("C0DATAPLAT") {
			for _, r := range slack.Replies("C0DATAPLAT", m.TS) {
				if both.Match(r.Blocks) {
					return true
				}
			}
		}
		return false
	}
	for deadline := time.Now().Add(20 * time.Second); !told(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no thread reply naming both alerts reached Slack within 20s")
		}
	}
	if code, stderr := stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, stderr)
	}
	st, err := memstore.Open(statePath, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.GetGroup(context.Background(), "churn-prediction", "scoring-lag")
	if err != nil || g == nil {
		t.Fatalf("GetGroup = %v, %v; want the group saved", g, err)
	}
	if want := (state.Windows{Length: 300 * time.Millisecond}); g.Windows != want {
		t.Errorf("group saved with windows %+v, want %+v", g.Windows, want)
	}
}

// A window must be a positive duration: serve refuses to start otherwise.
func TestServeRefusesAnEmptyUpdateWindow(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"serve", "--update-window", "0s"}, stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	if code != 2 || !strings.Contains(errOut.String(), "--update-window must be a positive duration") {
		t.Errorf("serve --update-window 0s exited %d saying %q; want 2 naming --update-window", code, errOut.String())
	}
}
