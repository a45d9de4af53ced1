package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite want.txt files from the current output")

// render prints problems as `stakeout validate` does, with paths relative
// to the configuration directory.
func render(t *testing.T, dir string) string {
	t.Helper()
	cfg, err := LoadFS(os.DirFS(dir), ".")
	if err != nil {
		t.Fatalf("LoadFS(%s): %v", dir, err)
	}
	var b strings.Builder
	for _, p := range cfg.Problems {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// TestInvalidConfigurations loads each testdata/invalid/<mode> folder — one
// failure mode each — and compares every problem reported with want.txt.
func TestInvalidConfigurations(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/invalid/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures in testdata/invalid: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := render(t, dir)
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("read %s (run go test -update to create it): %v", wantFile, err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("problems differ from %s (-want +got):\n%s", wantFile, diff)
			}
			if got == "" {
				t.Errorf("no problem reported: the fixture does not exercise a failure")
			}
			// A warning-only fixture must stay loadable; any other must not.
			warnOnly := strings.HasPrefix(filepath.Base(dir), "warning-")
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if strings.Contains(line, ": warning: ") != warnOnly {
					t.Errorf("fixture %s: line %q, want only %s", filepath.Base(dir), line, map[bool]string{true: "warnings", false: "errors"}[warnOnly])
				}
			}
		})
	}
}

func TestValidConfigurationsHaveNoProblems(t *testing.T) {
	for _, dir := range []string{"../../testdata/valid/minimal", "../.."} {
		t.Run(dir, func(t *testing.T) {
			cfg, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range cfg.Problems {
				t.Errorf("unexpected problem: %s", p)
			}
			if len(cfg.Broken) > 0 {
				t.Errorf("Broken = %v, want none", cfg.Broken)
			}
		})
	}
}

// A broken model must not take the others down with it.
func TestBrokenModelDoesNotStopOthers(t *testing.T) {
	fsys := minimalFS(t)
	fsys["rules/model-b.yaml"] = &fstest.MapFile{Data: []byte("model: model-b\nstakes: critical\nowners: {data: team}\nrules: []\n")}
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Models["model-a"] == nil {
		t.Errorf("model-a not loaded; Broken = %v", cfg.Broken)
	}
	if cfg.Broken["model-b"] == nil {
		t.Errorf("model-b not in Broken (%v)", cfg.Broken)
	}
	if len(cfg.Errors()) == 0 {
		t.Errorf("no error reported for model-b")
	}
}

// An owner file with errors must not silence the models it serves.
func TestBrokenOwnerDoesNotUnloadModels(t *testing.T) {
	fsys := minimalFS(t)
	fsys["owners/team.yaml"].Data = append(fsys["owners/team.yaml"].Data, []byte("nmae: typo\n")...)
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Errors()) != 1 {
		t.Errorf("Errors() = %v, want the one typo", cfg.Errors())
	}
	if cfg.Models["model-a"] == nil {
		t.Errorf("model-a not loaded; Broken = %v", cfg.Broken)
	}
}

func TestBuiltInStakesWhenFileAbsent(t *testing.T) {
	cfg, err := LoadFS(minimalFS(t), ".")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.StakesBuiltIn {
		t.Errorf("StakesBuiltIn = false, want true")
	}
	if diff := cmp.Diff(DefaultStakes(), cfg.Stakes); diff != "" {
		t.Errorf("Stakes (-want +got):\n%s", diff)
	}
}

func TestDigestChangesWithContent(t *testing.T) {
	a, _ := LoadFS(minimalFS(t), ".")
	fsys := minimalFS(t)
	f := fsys["owners/boss.yaml"]
	f.Data = append(f.Data, []byte("# a comment\n")...)
	b, _ := LoadFS(fsys, ".")
	if a.Digest == b.Digest || len(a.Digest) != 64 {
		t.Errorf("Digest = %q and %q, want two different SHA-256 digests", a.Digest, b.Digest)
	}
}

func TestCompiledRules(t *testing.T) {
	cfg, err := LoadFS(minimalFS(t), ".")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Models["model-a"]
	if got, want := len(m.Rules), 2; got != want {
		t.Fatalf("len(Rules) = %d, want %d", got, want)
	}
	if got := m.Rules[0].For; got != (Window{Count: 2}) {
		t.Errorf("Rules[0].For = %+v, want Count 2", got)
	}
	if m.Rules[1].Impact == nil {
		t.Errorf("Rules[1].Impact is nil, want compiled")
	}
	if got, want := m.Owners["product"], "team"; got != want {
		t.Errorf("Owners[product] = %q, want %q", got, want)
	}
}

func minimalFS(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	root := "../../testdata/valid/minimal"
	for _, name := range []string{"rules/model-a.yaml", "owners/team.yaml", "owners/boss.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	return fsys
}

// FuzzLoad feeds arbitrary bytes as a rules file next to valid owners: the
// loader must never panic, and every problem must point inside the file.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../../testdata/invalid/*/rules/*.yaml")
	seeds = append(seeds, "../../testdata/valid/minimal/rules/model-a.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	owners := map[string][]byte{}
	for _, name := range []string{"team", "boss"} {
		data, err := os.ReadFile("../../testdata/valid/minimal/owners/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		owners["owners/"+name+".yaml"] = data
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"rules/model-a.yaml": {Data: data}}
		for name, d := range owners {
			fsys[name] = &fstest.MapFile{Data: d}
		}
		cfg, err := LoadFS(fsys, ".")
		if err != nil {
			t.Fatalf("LoadFS: %v", err)
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := strings.Count(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data)), "\n") + 2
		for _, p := range cfg.Problems {
			if p.Line < 1 || p.Col < 1 || (p.File == "rules/model-a.yaml" && p.Line > lines) {
				t.Errorf("problem outside the file (%d lines): %s", lines, p)
			}
		}
		if m := cfg.Models["model-a"]; m != nil && len(cfg.Errors()) > 0 {
			for _, p := range cfg.Errors() {
				if p.File == "rules/model-a.yaml" {
					t.Errorf("model loaded despite error %s", p)
				}
			}
		}
	})
}
