package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var exampleDir, _ = filepath.Abs("../..")

// runLimited runs the CLI in the repository root (the example configuration)
// and gives its exit code, stdout and stderr; a run that does not end
// within a minute fails the test instead of hanging it.
func runLimited(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(exampleDir)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(args, stdio{in: stdin, out: &out, err: &errOut}) }()
	select {
	case code := <-done:
		return code, out.String(), errOut.String()
	case <-time.After(time.Minute):
		t.Fatalf("stakeout %s did not end within a minute", strings.Join(args, " "))
		return 0, "", ""
	}
}

// nativeEvent is a credit-approval drift reading with extra fields.
func nativeEvent(at, extra string) string {
	return fmt.Sprintf(`{"model":"credit-approval","kind":"drift","metric":"psi","feature":"income","value":0.41,"observed_at":%q%s}`, at, extra)
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// route holds each event to the router's limits: an event over 64 KiB,
// a label over 1,024 characters and a time in the future are refused, as
// the router would quarantine them, and the others are still routed.
func TestRouteAppliesTheRoutersLimits(t *testing.T) {
	big := nativeEvent("2026-03-01T00:00:00Z", `,"labels":{"note":"`+strings.Repeat("x", 70<<10)+`"}`)
	lines := []string{
		nativeEvent("2026-03-01T00:00:00Z", ""),
		big,
		nativeEvent("2026-03-01T01:00:00Z", `,"labels":{"note":"`+strings.Repeat("y", 5000)+`"}`),
		nativeEvent(time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), ""),
		nativeEvent("2026-03-01T02:00:00Z", ""),
	}
	path := writeFile(t, "events.jsonl", strings.Join(lines, "\n")+"\n")
	code, out, _ := runLimited(t, nil, "route", "--json", path)
	if code != 1 {
		t.Errorf("exit %d, want 1 (rejected inputs)", code)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		`"model":"credit-approval"`,
		fmt.Sprintf(`{"input":"%s:2","error":"event is %d bytes, more than the 65536 (64 KiB) an event may have"}`, path, len(big)),
		`"error":"label \"note\" is longer than 1024 characters"`,
		`"error":"field \"observed_at\": `,
		`"model":"credit-approval"`,
	}
	if len(got) != len(want) {
		t.Fatalf("route printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("line %d = %.200s, want it to contain %s", i+1, got[i], want[i])
		}
	}
	if !strings.Contains(got[3], "is 2d in the future") {
		t.Errorf("line 4 = %s, want the future named", got[3])
	}

	// One pretty-printed event over the limit: the same refusal.
	single := writeFile(t, "big.json", strings.Replace(big, `{"model"`, "{\n  \"model\"", 1))
	if code, out, _ := runLimited(t, nil, "route", single); code != 1 || !strings.Contains(out, "bytes, more than the 65536 (64 KiB) an event may have") {
		t.Errorf("route of one %d-byte event: exit %d\n%.300s", len(big), code, out)
	}
}

// A whole input over 32 MiB is refused before it is read, naming the
// file and the limit; from standard input, when the limit is passed.
func TestInputOverTheCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(path, 50<<20); err != nil { // sparse: nothing written
		t.Fatal(err)
	}
	want := path + " is 52428800 bytes, more than the 33554432 (32 MiB) one input may have"
	for _, cmd := range []string{"route", "replay"} {
		code, out, errOut := runLimited(t, nil, cmd, path)
		if code != 1 || !strings.Contains(out+errOut, want) {
			t.Errorf("stakeout %s of 50 MiB: exit %d, output %.300s%.300s; want exit 1 and %q", cmd, code, out, errOut, want)
		}
	}
	for _, cmd := range []string{"route", "replay"} {
		zeros := io.LimitReader(zeroReader{}, 40<<20)
		code, out, errOut := runLimited(t, zeros, cmd, "-")
		if code != 1 || !strings.Contains(out+errOut, "stdin holds more than the 33554432 (32 MiB) one input may have") {
			t.Errorf("stakeout %s of 40 MiB on stdin: exit %d, output %.300s%.300s", cmd, code, out, errOut)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A device is refused before it is read (/dev/zero used to hang route),
// and so is a directory: exit 2, the path named.
func TestInputMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, what string }{{"/dev/zero", "a character device"}, {dir, "a directory"}} {
		if _, err := os.Stat(tc.path); err != nil {
			t.Logf("skipping %s: %v", tc.path, err)
			continue
		}
		for _, cmd := range []string{"route", "replay"} {
			code, out, errOut := runLimited(t, nil, cmd, tc.path)
			if want := tc.path + " is " + tc.what + ", not a file"; code != 2 || !strings.Contains(out+errOut, want) {
				t.Errorf("stakeout %s %s: exit %d, output %s%s; want exit 2 and %q", cmd, tc.path, code, out, errOut, want)
			}
		}
	}
}

// replay holds each line to the router's limits (an event over 64 KiB is
// skipped with its line), bounds observed_at by the wall clock, and exits
// 1 when it skipped any.
func TestReplayRejectsWhatTheRouterWould(t *testing.T) {
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	lines := []string{
		nativeEvent("2026-03-01T00:00:00Z", `,"labels":{"note":"`+strings.Repeat("x", 70<<10)+`"}`),
		nativeEvent(future, ""),
		nativeEvent("0001-01-01T00:00:00Z", ""),
		nativeEvent("2026-03-01T00:00:00Z", ""),
	}
	path := writeFile(t, "events.jsonl", strings.Join(lines, "\n")+"\n")
	code, out, errOut := runLimited(t, nil, "replay", path)
	if code != 1 {
		t.Errorf("exit %d, want 1 (events skipped)", code)
	}
	for _, want := range []string{
		// A line is the event with its newline, as the router's size counts it.
		fmt.Sprintf("%s:1: skipped: event is %d bytes, more than the 65536 (64 KiB) an event may have", path, len(lines[0])+1),
		path + `:2: skipped: field "observed_at": ` + future + " is 3d in the future",
		path + `:3: skipped: field "observed_at": 0001-01-01T00:00:00Z is before 2000-01-01`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%.2000s", want, errOut)
		}
	}
	if !strings.Contains(out, "4 events replayed: 0 duplicates ignored, 3 skipped") {
		t.Errorf("summary:\n%s", out)
	}
}

// A late reading in a replay is reported with its line and counted.
func TestReplayReportsLateReadings(t *testing.T) {
	path := writeFile(t, "events.jsonl", nativeEvent("2026-03-02T00:00:00Z", "")+"\n"+nativeEvent("2026-03-01T00:00:00Z", "")+"\n")
	code, out, errOut := runLimited(t, nil, "replay", path)
	if code != 0 {
		t.Errorf("exit %d, want 0: a late reading is no rejected input", code)
	}
	if want := path + ":2: late: observed_at 2026-03-01T00:00:00Z is no newer than the series' latest reading 2026-03-02T00:00:00Z"; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if !strings.Contains(out, "1 late (changed no alert)") {
		t.Errorf("summary does not count the late reading:\n%s", out)
	}
}

// A rules file of 100,000 rules is refused for its size, naming the file
// and the limit, by validate and test alike (it used to be called an
// alias bomb).
func TestHugeRulesFile(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"rules", "owners"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	owner := "id: team\nslack: {channel: C0TEAM0001}\npagerduty: {routing_key: \"secret:stakeout/pagerduty/team\"}\n"
	var rules strings.Builder
	rules.WriteString("model: big\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\nexpect: [{kind: drift, every: 1d}]\nrules:\n")
	for i := range 100_000 {
		fmt.Fprintf(&rules, "  - {name: r%d, when: 'value > 0.5', severity: info, owner: data}\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "owners", "team.yaml"), []byte(owner), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "big.yaml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rules", "big.yaml")
	for cmd, want := range map[string]string{
		"validate": fmt.Sprintf("%s:1:1: file is %d bytes, more than the 1048576 (1 MiB) a rules or owners file may have", file, rules.Len()),
		"test":     "big: not tested: " + file + " has 1 error(s) (run stakeout validate)",
	} {
		code, out, errOut := runLimited(t, nil, cmd, "--dir", dir)
		if code != 1 || !strings.Contains(out+errOut, want) || strings.Contains(out+errOut, "alias") {
			t.Errorf("stakeout %s: exit %d\n%s%s\nwant exit 1 and %q", cmd, code, out, errOut, want)
		}
	}
}
