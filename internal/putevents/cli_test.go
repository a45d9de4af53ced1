package putevents_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/putevents"
)

// The AWS CLI itself, as the README tells people to run it: unsigned
// (--no-sign-request) and signed with placeholder credentials. Skipped
// where no aws command is installed.
func TestAWSCLIPutsEvents(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws command on PATH")
	}
	s := start(t, putevents.Config{})
	entries := `[{"Source":"com.example.monitoring","DetailType":"ML Model Signal","Detail":"{\"model\":\"churn-prediction\",\"value\":0.27}"},` +
		`{"Source":"com.example.monitoring","DetailType":"ML Model Signal","Detail":"not json"}]`
	for _, signing := range [][]string{{"--no-sign-request"}, nil} {
		args := append([]string{"events", "put-events", "--endpoint-url", s.URL, "--region", "us-east-1", "--output", "json", "--entries", entries}, signing...)
		cmd := exec.Command(aws, args...)
		home := t.TempDir() // no profile, config or cache of the machine's
		cmd.Env = append(withoutAWS(os.Environ()), "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
			"AWS_ACCESS_KEY_ID=placeholder", "AWS_SECRET_ACCESS_KEY=placeholder")
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		var got struct {
			FailedEntryCount int
			Entries          []map[string]string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("aws output %s: %v", out, err)
		}
		if got.FailedEntryCount != 1 || len(got.Entries) != 2 || !uuidRE.MatchString(got.Entries[0]["EventId"]) || got.Entries[1]["ErrorCode"] != "MalformedDetail" {
			t.Errorf("aws put-events %v printed %s, want an EventId then MalformedDetail", signing, out)
		}
	}
	t.Run("11 entries", func(t *testing.T) {
		one := `{"Source":"com.example.monitoring","DetailType":"ML Model Signal","Detail":"{}"}`
		cmd := exec.Command(aws, "events", "put-events", "--endpoint-url", s.URL, "--region", "us-east-1", "--no-sign-request",
			"--cli-read-timeout", "5", "--entries", "["+strings.TrimSuffix(strings.Repeat(one+",", 11), ",")+"]")
		cmd.Env = append(withoutAWS(os.Environ()), "HOME="+t.TempDir(), "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.CombinedOutput()
		want := "An error occurred (ValidationException) when calling the PutEvents operation: 1 validation error detected: " +
			"Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("aws put-events with 11 entries: %v\n%s\nwant it to fail saying %s", err, out, want)
		}
	})
	if n := len(s.router.got()); n != 2 {
		t.Errorf("router got %d events, want 2 (one per CLI call)", n)
	}
}

// withoutAWS is env without the AWS_ variables of whoever runs the tests.
func withoutAWS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}
