//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A named pipe is refused before it is opened: opening one with no writer
// blocks forever.
func TestInputFIFOIsRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "events.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	for _, cmd := range []string{"route", "replay"} {
		code, out, errOut := runLimited(t, nil, cmd, fifo)
		if want := fifo + " is a named pipe (FIFO), not a file: name a regular file, or pipe the input to standard input with -"; code != 2 || !strings.Contains(out+errOut, want) {
			t.Errorf("stakeout %s of a FIFO: exit %d, output %s%s; want exit 2 and %q", cmd, code, out, errOut, want)
		}
	}
}
