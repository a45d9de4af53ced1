package runtimeapitest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// builds caches compiled binaries, by absolute package directory (and
// overlay) or import path, for the life of the test process. The bytes are kept rather than a path because every
// caller gets its own copy in its own t.TempDir: a path into the first
// caller's temporary directory would vanish when that test ends, and a
// process-wide directory would outlive the tests with nothing to remove it.
var builds = struct {
	mu sync.Mutex
	m  map[string]*build
}{m: make(map[string]*build)}

type build struct {
	done chan struct{} // closed when bin and err are set
	bin  []byte
	err  error
}

// Build compiles the main package in dir (relative to the test's working
// directory, that is its package directory, or absolute) the way we deploy
// it — -tags lambda.norpc, CGO_ENABLED=0, -trimpath — but for the local OS and
// architecture, writes it as "bootstrap" into t.TempDir() and returns its
// path. dir may be under testdata/, which `go build ./...` skips.
//
// A test process compiles each dir once, whichever test asks first; later
// and concurrent callers get a copy of that build.
func Build(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("runtimeapitest: build %s: %v", dir, err)
	}
	return cached(t, abs, binaryName(), func(out string) ([]byte, error) { return compile(abs, out, "") })
}

// BuildOverlay is Build with files of the module replaced, as go build
// -overlay replaces them: replace maps a file's absolute path to the
// absolute path of the file to compile in its place, or to "" to leave
// it out. It reaches files embedded with go:embed too: a binary built as
// if the repository held other files (another configuration, say).
func BuildOverlay(t testing.TB, dir string, replace map[string]string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("runtimeapitest: build %s: %v", dir, err)
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace}) // keys sorted: one key per overlay
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(file, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	return cached(t, abs+"\x00"+string(overlay), binaryName(), func(out string) ([]byte, error) { return compile(abs, out, file) })
}

// cached returns the path of a copy, named name in t.TempDir(), of the
// binary key names, compiling it with compile the first time any test of
// the process asks; later and concurrent callers get a copy of that build.
func cached(t testing.TB, key, name string, compile func(out string) ([]byte, error)) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)

	builds.mu.Lock()
	b, found := builds.m[key]
	if !found {
		b = &build{done: make(chan struct{})}
		builds.m[key] = b
	}
	builds.mu.Unlock()

	if !found {
		b.bin, b.err = compile(out)
		close(b.done)
		if b.err != nil {
			t.Fatalf("runtimeapitest: %v", b.err)
		}
		return out
	}
	<-b.done
	if b.err != nil {
		t.Fatalf("runtimeapitest: %v", b.err)
	}
	if err := os.WriteFile(out, b.bin, 0o755); err != nil {
		t.Fatalf("runtimeapitest: copy the build of %s: %v", key, err)
	}
	return out
}

// compile builds the package in dir into out, with the -overlay file
// overlay when not "", and returns the binary's bytes.
func compile(dir, out, overlay string) ([]byte, error) {
	// -buildvcs=false: stamping VCS information runs git in the working tree,
	// which is slow and may take git's index lock while engineers use it.
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-o", out}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	// GOOS and GOARCH are set explicitly because a shell that cross-compiles
	// for Lambda (GOOS=linux GOARCH=arm64) would otherwise produce a binary
	// this machine cannot run.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", dir, err, output)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read the build of %s: %w", dir, err)
	}
	return bin, nil
}

// binaryName is what Lambda's provided runtimes execute.
func binaryName() string {
	if runtime.GOOS == "windows" {
		return "bootstrap.exe"
	}
	return "bootstrap"
}
