package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOwnersCodeowners compares `stakeout owners --codeowners` with
// testdata/golden/<name>.txt (stdout, then stderr), refreshed with -update
// like TestEachCommandsOutputAndExitCode. It runs from this package's directory, so the example
// configuration is --dir ../..: patterns must come out anchored at the
// repository, not at the working directory.
func TestOwnersCodeowners(t *testing.T) {
	tests := []struct {
		name string
		// dir returns the --dir to run with.
		dir      func(t *testing.T) string
		args     []string
		wantExit int
	}{
		{name: "owners-codeowners", dir: repoDir, args: []string{"owners", "--codeowners", "--github-org", "example-ml"}},
		{name: "owners-codeowners-no-org", dir: repoDir, args: []string{"owners", "--codeowners"}, wantExit: 2},
		{name: "owners-codeowners-org-alone", dir: repoDir, args: []string{"owners", "--github-org", "example-ml"}, wantExit: 2},
		{name: "owners-codeowners-bad-org", dir: repoDir, args: []string{"owners", "--codeowners", "--github-org", "@example-ml/credit-ds"}, wantExit: 2},
		// Roles without owners: the file is still printed, the gaps are
		// named, and the exit code fails CI.
		{name: "owners-codeowners-gap", dir: func(t *testing.T) string {
			return gitCopy(t, "../../testdata/invalid/model-missing-role", ".")
		}, args: []string{"owners", "--codeowners", "--github-org", "example-ml"}, wantExit: 1},
		// Configuration in a folder of a larger repository: the patterns
		// name the folder.
		{name: "owners-codeowners-subdir", dir: func(t *testing.T) string {
			return gitCopy(t, "../../testdata/valid/minimal", "ml/config")
		}, args: []string{"owners", "--codeowners", "--github-org", "example-ml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := slices.Concat(tc.args, []string{"--dir", tc.dir(t)})
			got, code := runCLI(args)
			if code != tc.wantExit {
				t.Errorf("stakeout %s exited %d, want %d; output:\n%s", strings.Join(args, " "), code, tc.wantExit, got)
			}
			// Maps are iterated in random order: a second run must print
			// the same bytes, or CI's diff would fail at random.
			if again, _ := runCLI(args); again != got {
				t.Errorf("stakeout %s printed different output on a second run (-first +second):\n%s", strings.Join(args, " "), cmp.Diff(got, again))
			}
			compareGolden(t, filepath.Join("../../testdata/golden", tc.name+".txt"), got)
		})
	}
}

// TestOwnersCodeownersHelp checks that -h documents how owner ids become
// GitHub teams, since no owner file names a GitHub account.
func TestOwnersCodeownersHelp(t *testing.T) {
	got, code := runCLI([]string{"owners", "-h"})
	if code != 0 {
		t.Errorf("stakeout owners -h exited %d, want 0", code)
	}
	for _, want := range []string{"--github-org ORG", "@ORG/credit-ds", "rules/stakes.yaml    the platform owners"} {
		if !strings.Contains(got, want) {
			t.Errorf("stakeout owners -h does not say %q:\n%s", want, got)
		}
	}
}

func repoDir(*testing.T) string { return "../.." }

// gitCopy copies the configuration in src to sub inside a new repository
// (a directory with a .git), so that the patterns do not depend on where
// the test runs, and returns the copy's directory.
func gitCopy(t *testing.T, src, sub string) string {
	t.Helper()
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repo, sub)
	for _, folder := range []string{"rules", "owners"} {
		if err := os.CopyFS(filepath.Join(dir, folder), os.DirFS(filepath.Join(src, folder))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCLI runs stakeout and returns stdout followed by stderr, the way the
// golden files hold them.
func runCLI(args []string) (string, int) {
	var out, errOut bytes.Buffer
	code := run(args, stdio{in: strings.NewReader(""), out: &out, err: &errOut})
	got := out.String()
	if errOut.Len() > 0 {
		got += "--- stderr ---\n" + errOut.String()
	}
	return got, code
}
