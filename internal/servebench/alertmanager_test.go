package servebench

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// alertmanagerModule and its version: the version issue 16 measured
// in-process (2,396 alerts/s, one per POST). `go install` builds it
// without replace directives trouble at this version.
const (
	alertmanagerModule  = "github.com/prometheus/alertmanager"
	alertmanagerVersion = "v0.31.1"
)

// installAlertmanager returns the alertmanager binary of
// alertmanagerVersion, installed with `go install` into the user's cache
// directory the first time (a minute or two: it downloads and compiles
// the module), checked by its build information afterwards.
func installAlertmanager(tb testing.TB) string {
	tb.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		tb.Fatalf("no cache directory to install Alertmanager into: %v", err)
	}
	dir := filepath.Join(cache, "stakeout-bench", "alertmanager-"+alertmanagerVersion)
	bin := filepath.Join(dir, "alertmanager")
	if installedVersion(bin) == alertmanagerVersion {
		return bin
	}
	pkg := alertmanagerModule + "/cmd/alertmanager@" + alertmanagerVersion
	fmt.Printf("servebench: installing %s into %s (go install; a minute or two the first time)\n", pkg, dir)
	cmd := exec.Command("go", "install", pkg)
	// Outside this module, so that nothing of go.mod applies.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go install %s: %v\n%s", pkg, err, out)
	}
	if v := installedVersion(bin); v != alertmanagerVersion {
		tb.Fatalf("%s: go install %s left a binary of version %q", bin, pkg, v)
	}
	return bin
}

// installedVersion is the alertmanager module's version bin was built
// from, "" when bin is missing or is not Alertmanager.
func installedVersion(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil || info.Main.Path != alertmanagerModule {
		return ""
	}
	return info.Main.Version
}

// alertmanagerConfig routes every alert to one webhook, grouped as
// stakeout groups (by model and rule), as fast as Alertmanager lets a
// group go out: the first notification at once (group_wait 0s), then the
// group's changes every groupInterval (-servebench.am-group-interval: 1s
// by default, Alertmanager at its quickest; 5s is stakeout's join window,
// the like-for-like setting). Every alert of the group is in each payload
// (max_alerts 0); repeats of an unchanged group are out of the run's time.
func alertmanagerConfig(webhook string, groupInterval time.Duration) string {
	return fmt.Sprintf(`route:
  receiver: sink
  group_by: [model, alertname]
  group_wait: 0s
  group_interval: %s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: %q
        send_resolved: false
        max_alerts: 0
`, groupInterval, webhook)
}

// webhookSink is Alertmanager's webhook receiver: it counts the distinct
// alerts (by feature) that arrived firing in any payload.
type webhookSink struct {
	srv *httptest.Server

	mu       sync.Mutex
	features map[string]bool
	calls    int
	bad      error
}

func newWebhookSink(tb testing.TB) *webhookSink {
	s := &webhookSink{features: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *webhookSink) serve(w http.ResponseWriter, r *http.Request) {
	var payload struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	err := json.NewDecoder(r.Body).Decode(&payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err != nil {
		s.bad = fmt.Errorf("webhook payload %d: %w", s.calls, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, a := range payload.Alerts {
		if a.Status == "firing" && a.Labels["model"] == benchModel {
			s.features[a.Labels["feature"]] = true
		}
	}
}

func (s *webhookSink) delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.features)
}

// amAlerts builds the request bodies of POST /api/v2/alerts: n alerts,
// size per request.
func amAlerts(n, size int, at time.Time) []request {
	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
	}
	return batches(n, size, func(from, to int) []byte {
		alerts := make([]alert, 0, to-from)
		for i := from; i < to; i++ {
			alerts = append(alerts, alert{
				Labels: map[string]string{"alertname": benchRule, "model": benchModel, "kind": "freshness",
					"metric": "lag_seconds", "feature": feature(i), "severity": "high"},
				Annotations: map[string]string{"summary": fmt.Sprintf("Churn scores are %ds old: offers go out on stale risk", benchLag)},
				StartsAt:    at,
			})
		}
		body, _ := json.Marshal(alerts)
		return body
	})
}

// runAlertmanager starts a fresh Alertmanager, sends it n alerts size per
// request and waits until its webhook has delivered them all.
func runAlertmanager(b *testing.B, bin string, n, size int) result {
	b.Helper()
	sink := newWebhookSink(b)
	dir := b.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(config, []byte(alertmanagerConfig(sink.srv.URL+"/", *amGroupInterval)), 0o644); err != nil {
		b.Fatal(err)
	}
	addr, err := freeAddr()
	if err != nil {
		b.Fatal(err)
	}
	p, err := startProcess("alertmanager "+alertmanagerVersion, bin, []string{
		"--config.file=" + config, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=warn"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.waitReady("http://"+addr+"/-/ready", 30*time.Second); err != nil {
		_ = p.stop(5 * time.Second)
		b.Fatal(err)
	}
	reqs := amAlerts(n, size, time.Now())
	header := http.Header{"Content-Type": {"application/json"}}
	start := time.Now()
	sent := send(context.Background(), "http://"+addr+"/api/v2/alerts", header, reqs, *clients, func(resp *http.Response, body []byte, alerts int) (int, error) {
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("POST /api/v2/alerts: %s: %.200s", resp.Status, body)
		}
		return alerts, nil
	})
	delivered, took := waitDelivered(start, sent.accepted, *timeout, sink.delivered)
	if err := p.stop(30 * time.Second); err != nil {
		b.Error(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.bad != nil {
		b.Error(sink.bad)
	}
	return result{system: "alertmanager", batch: size, alerts: n, sent: sent, delivered: delivered,
		deliveredIn: took, sinkCalls: sink.calls}
}
