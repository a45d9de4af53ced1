package runtimeapitest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakRSS is the most memory, in bytes, the bootstrap process has had
// resident since it started (the kernel's VmHWM, the "high water mark"):
// what Lambda's "Max Memory Used" reports of a function. Linux only: it is
// read from /proc/<pid>/status, so the process must still be running.
func (s *Server) PeakRSS() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS of %s: %w", s.name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		value, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak RSS of %s: VmHWM:%s: %w", s.name, value, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("peak RSS of %s: no VmHWM line in /proc/%d/status", s.name, s.cmd.Process.Pid)
}
