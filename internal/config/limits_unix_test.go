//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A named pipe among the rules is reported, not read: reading one with no
// writer would block validate (and a cold start) forever.
func TestRulesFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"rules", "owners"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "owners", "team.yaml"), withOwners(nil)["owners/team.yaml"].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "rules", "m.yaml"), 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	done := make(chan string, 1)
	go func() { done <- render(t, dir) }()
	select {
	case got := <-done:
		if want := "rules/m.yaml:1:1: not a regular file (a named pipe): rules and owners are regular files\n"; !strings.Contains(got, want) {
			t.Errorf("problems:\n%s\nwant:\n%s", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("loading a configuration with a FIFO among the rules hangs")
	}
}
