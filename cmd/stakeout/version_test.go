package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/version"
)

// A binary built with go build in a git clone names the commit it was
// built from, under both spellings. It is built from a clone of HEAD in a
// temporary directory because Go stamps no revision in a git worktree (it
// looks for a .git directory; a worktree's is a file) and this repository
// is often worked on in worktrees; -buildvcs=auto on the command line
// overrides a -buildvcs=false in GOFLAGS.
func TestBuiltBinaryPrintsTheRevisionOfHEAD(t *testing.T) {
	if testing.Short() {
		t.Skip("clones the repository and builds the CLI")
	}
	head := strings.TrimSpace(runIn(t, "../..", "git", "rev-parse", "HEAD"))
	src := filepath.Join(t.TempDir(), "stakeout")
	runIn(t, "../..", "git", "clone", "--quiet", "--shared", "--no-checkout", ".", src)
	runIn(t, src, "git", "checkout", "--quiet", "--detach", head)
	bin := filepath.Join(t.TempDir(), "stakeout")
	// -trimpath, as the Lambda builds: the compiled packages do not depend
	// on the clone's path, so the build cache serves later runs.
	runIn(t, src, "go", "build", "-trimpath", "-buildvcs=auto", "-o", bin, "./cmd/stakeout")

	got := runIn(t, src, bin, "version")
	if want := "rev " + head[:12] + " committed "; !strings.HasPrefix(got, "stakeout v0.0.0-") || !strings.Contains(got, want) {
		t.Errorf("stakeout version printed %q, want the pseudo-version of HEAD and %q", got, want)
	}
	if strings.Contains(got, "modified") {
		t.Errorf("stakeout version of a clean checkout printed %q, want no \"modified\"", got)
	}
	if alias := runIn(t, src, bin, "--version"); alias != got {
		t.Errorf("stakeout --version printed %q, want what stakeout version prints, %q", alias, got)
	}
}

func TestVersionTakesNoArguments(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, stdio{out: &out, err: &errOut}); code != 0 || out.String() != version.Read().String()+"\n" {
		t.Errorf("stakeout version = %d, %q; want 0, %q", code, out.String(), version.Read().String())
	}
	errOut.Reset()
	if code := run([]string{"--version", "extra"}, stdio{out: &out, err: &errOut}); code != 2 || !strings.Contains(errOut.String(), `"extra"`) {
		t.Errorf("stakeout --version extra = %d, stderr %q; want 2 naming the argument", code, errOut.String())
	}
}

// runIn runs name in dir and returns its standard output, failing the
// test with its standard error.
func runIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
