package servebench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/notifytest"
)

// repoRoot is the configuration stakeout serves (rules/, owners/), and the
// module the CLI is built from.
const repoRoot = "../.."

// stakeoutBinary returns -servebench.stakeout, or the CLI built into a
// temporary directory as the Makefile builds it.
func stakeoutBinary(tb testing.TB) string {
	tb.Helper()
	if *stakeoutBin != "" {
		return *stakeoutBin
	}
	bin := filepath.Join(tb.TempDir(), "stakeout")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/stakeout")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/stakeout: %v\n%s", err, out)
	}
	return bin
}

// ownerChannels are the Slack channels of every owner in owners/: the
// Slack fake knows them all, so that a notification of any owner is
// accepted (and only benchChannel's group is counted).
func ownerChannels(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "owners", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("owners/*.yaml: %d files, %v", len(files), err)
	}
	channel := regexp.MustCompile(`(?m)^\s*channel:\s*(\S+)`)
	var ids []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range channel.FindAllSubmatch(data, -1) {
			ids = append(ids, string(m[1]))
		}
	}
	return ids
}

// putEvents builds the PutEvents request bodies: n native events, size
// entries per request, each opening its feature's scoring-lag alert.
func putEvents(n, size int, at time.Time) []request {
	type entry struct {
		Source     string
		DetailType string
		Detail     string
	}
	return batches(n, size, func(from, to int) []byte {
		entries := make([]entry, 0, to-from)
		for i := from; i < to; i++ {
			detail := fmt.Sprintf(`{"model":%q,"kind":"freshness","metric":"lag_seconds","feature":%q,"value":%d,"observed_at":%q}`,
				benchModel, feature(i), benchLag, at.UTC().Format(time.RFC3339Nano))
			entries = append(entries, entry{Source: "stakeout.servebench", DetailType: "ML Model Signal", Detail: detail})
		}
		body, _ := json.Marshal(map[string]any{"Entries": entries})
		return body
	})
}

// putEventsAnswer reads EventBridge's answer: entries not failed are
// accepted; a failed one is an error naming EventBridge's code.
func putEventsAnswer(resp *http.Response, body []byte, alerts int) (int, error) {
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("PutEvents: %s: %.300s", resp.Status, body)
	}
	var out struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("PutEvents: the answer is not EventBridge's JSON: %w: %.300s", err, body)
	}
	if len(out.Entries) != alerts {
		return 0, fmt.Errorf("PutEvents: %d entries sent, %d answered: %.300s", alerts, len(out.Entries), body)
	}
	if out.FailedEntryCount > 0 {
		for _, e := range out.Entries {
			if e.ErrorCode != "" {
				return alerts - out.FailedEntryCount, fmt.Errorf("PutEvents: %d of %d entries failed, e.g. %s: %s", out.FailedEntryCount, alerts, e.ErrorCode, e.ErrorMessage)
			}
		}
	}
	return alerts - out.FailedEntryCount, nil
}

var (
	groupMembers = regexp.MustCompile(`(\d+) alerts in this group`)
	groupHas     = regexp.MustCompile(`The group has (\d+) alert\(s\) now`)
)

// slackDelivered counts the alerts whose notification reached Slack: for
// each of the rule's group messages in benchChannel, the members the
// message as last updated names ("N alerts in this group", absent for a
// group of one), or its latest thread reply ("The group has N alert(s)
// now") if that says more.
func slackDelivered(s *notifytest.Slack) int {
	total := 0
	for _, m := range s.Messages(benchChannel) {
		if !strings.Contains(m.Text, benchModel+"/"+benchRule) {
			continue
		}
		n := max(1, lastCount(groupMembers, string(m.Blocks)))
		for _, r := range s.Replies(benchChannel, m.TS) {
			n = max(n, lastCount(groupHas, string(r.Blocks)))
		}
		total += n
	}
	return total
}

// lastCount is the number of re's last match in s, 0 when none.
func lastCount(re *regexp.Regexp, s string) int {
	all := re.FindAllStringSubmatch(s, -1)
	if len(all) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(all[len(all)-1][1])
	return n
}

// runStakeout starts `stakeout serve` on a fresh embedded store (with
// --update-window=window unless it is 0: the default), sends it n events
// size per PutEvents request and waits until the Slack fake has been told
// of every alert.
func runStakeout(window time.Duration) func(b *testing.B, bin string, n, size int) result {
	return func(b *testing.B, bin string, n, size int) result {
		b.Helper()
		return stakeoutRun(b, bin, n, size, window)
	}
}

func stakeoutRun(b *testing.B, bin string, n, size int, window time.Duration) result {
	slack := notifytest.NewSlack(b, notifytest.WithChannels(ownerChannels(b)...))
	addr, err := freeAddr()
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"serve", "--dir", repoRoot, "--addr", addr, "--state", filepath.Join(b.TempDir(), "state.json")}
	name := fmt.Sprintf("stakeout-batch%d", size)
	if window > 0 {
		args = append(args, "--update-window", window.String())
		name += "-window" + window.String()
	}
	if *cpuProfiles != "" {
		args = append(args, "--cpuprofile", filepath.Join(*cpuProfiles, name+".pprof"))
	}
	p, err := startProcess("stakeout serve", bin, args,
		[]string{"SLACK_BOT_TOKEN=" + slack.Token(), "STAKEOUT_SLACK_API_URL=" + slack.URL()})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.waitReady("http://"+addr+"/healthz", 30*time.Second); err != nil {
		_ = p.stop(5 * time.Second)
		b.Fatal(err)
	}
	reqs := putEvents(n, size, time.Now())
	header := http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"AWSEvents.PutEvents"}}
	start := time.Now()
	sent := send(context.Background(), "http://"+addr+"/", header, reqs, *clients, putEventsAnswer)
	delivered, took := waitDelivered(start, sent.accepted, *timeout, func() int { return slackDelivered(slack) })
	if err := p.stop(2 * time.Minute); err != nil {
		b.Error(err)
	}
	for _, r := range slack.Rejections() {
		b.Errorf("Slack refused a call of stakeout serve: %s", r)
	}
	return result{system: "stakeout", batch: size, alerts: n, sent: sent, delivered: delivered, deliveredIn: took,
		sinkCalls: slack.Calls("chat.postMessage") + slack.Calls("chat.update")}
}
