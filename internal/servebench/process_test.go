package servebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is a system under test running as its own process, its output
// kept (bounded) for the error that says why it did not start or stop.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// startProcess starts bin with args and env added to the environment.
func startProcess(name, bin string, args, env []string) (*process, error) {
	p := &process{name: name, cmd: exec.Command(bin, args...), out: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls url until it answers 200, the process exits or the
// timeout passes; the error names the process, the url and its output.
func (p *process) waitReady(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-p.exited:
			return fmt.Errorf("%s did not become ready: it exited (%v) before GET %s answered 200; its output:\n%s", p.name, p.err, url, p.out)
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: GET %s did not answer 200 within %s (last: %v); its output:\n%s", p.name, url, timeout, last, p.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for the exit; after grace it kills the
// process and says so. A non-zero exit after SIGTERM is an error too: both
// systems are meant to shut down cleanly.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited before it was stopped (%v); its output:\n%s", p.name, p.err, p.out)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: SIGTERM: %w", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit within %s of SIGTERM (killed); its output:\n%s", p.name, grace, p.out)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return fmt.Errorf("%s exited with %v after SIGTERM; its output:\n%s", p.name, p.err, p.out)
	}
	return p.err
}

// freeAddr returns a loopback address with a port nobody listens on now.
// Another process could take it before ours binds; on a test box that is
// rare, and the system then fails to start, saying so.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tailBuffer keeps the first and last bytes written to it, max in all, so
// that a chatty process (a log line per alert) cannot fill the memory and
// its start and its end are both in the error.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	head    bytes.Buffer
	tail    []byte
	dropped int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if room := b.max/2 - b.head.Len(); room > 0 {
		k := min(room, len(p))
		b.head.Write(p[:k])
		p = p[k:]
	}
	b.tail = append(b.tail, p...)
	if over := len(b.tail) - b.max/2; over > 0 {
		b.dropped += over
		b.tail = append(b.tail[:0], b.tail[over:]...)
	}
	return n, nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return b.head.String() + string(b.tail)
	}
	return fmt.Sprintf("%s\n[… %d bytes left out …]\n%s", b.head.String(), b.dropped, b.tail)
}
