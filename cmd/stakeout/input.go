package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// maxInputBytes bounds one input of route and replay, a file or standard
// input: about 100,000 signals, far more than any sample worth a dry run
// or a replay (which keeps every alert and audit record in memory). Each
// event of it is further held to signal.MaxEventBytes, as in the router.
const maxInputBytes = 32 << 20

// inputError is an input the CLI will not read; code is the exit code it
// earns: 1 for an input refused by a limit, 2 for one that is not a
// regular file or cannot be read.
type inputError struct {
	code int
	err  error
}

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// exitCode is 2 for an input that could not be read, 1 for any other error.
func exitCode(err error) int {
	var ie *inputError
	if errors.As(err, &ie) {
		return ie.code
	}
	return 1
}

// tooLarge refuses an input of size bytes (-1: unknown, more than the
// limit).
func tooLarge(name string, size int64) error {
	what := fmt.Sprintf("is %d bytes, more than", size)
	if size < 0 {
		what = "holds more than"
	}
	return &inputError{code: 1, err: fmt.Errorf("%s %s the %d (%d MiB) one input may have: split it (each event may have %d KiB)",
		name, what, maxInputBytes, maxInputBytes>>20, signal.MaxEventBytes>>10)}
}

// openInput opens name ("-" is standard input, shown as "stdin") to be
// read to its end, at most maxInputBytes of it. A named input must be a
// regular file, checked before it is opened: a device never ends
// (/dev/zero), a FIFO may block forever with no writer; either can come
// through standard input instead, still capped.
func openInput(name string, stdin io.Reader) (io.ReadCloser, string, error) {
	if name == "-" {
		return io.NopCloser(capped(stdin, "stdin")), "stdin", nil
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, name, &inputError{code: 2, err: err}
	}
	if err := regular(name, fi); err != nil {
		return nil, name, err
	}
	if fi.Size() > maxInputBytes {
		return nil, name, tooLarge(name, fi.Size())
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, name, &inputError{code: 2, err: err}
	}
	// The file may have changed since it was looked at: check what was
	// opened, and read through the cap anyway.
	if fi, err = f.Stat(); err == nil {
		err = regular(name, fi)
	}
	if err != nil {
		f.Close()
		return nil, name, &inputError{code: 2, err: err}
	}
	return struct {
		io.Reader
		io.Closer
	}{capped(f, name), f}, name, nil
}

// regular refuses anything but a regular file, naming what it is.
func regular(name string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return &inputError{code: 2, err: fmt.Errorf("%s is %s, not a file: name a regular file, or pipe the input to standard input with -", name, what)}
}

// capped reads r through an io.LimitReader one byte past maxInputBytes,
// and fails, naming the input, when that byte comes.
func capped(r io.Reader, name string) io.Reader {
	return &capReader{r: io.LimitReader(r, maxInputBytes+1), name: name}
}

type capReader struct {
	r    io.Reader
	name string
	n    int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if over := c.n - maxInputBytes; over > 0 {
		return n - int(over), tooLarge(c.name, -1)
	}
	return n, err
}

// readInput reads a whole input (see openInput).
func readInput(name string, stdin io.Reader) ([]byte, string, error) {
	r, name, err := openInput(name, stdin)
	if err != nil {
		return nil, name, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	var ie *inputError
	if err != nil && !errors.As(err, &ie) {
		err = &inputError{code: 2, err: fmt.Errorf("read %s: %w", name, err)}
	}
	return data, name, err
}
