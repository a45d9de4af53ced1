package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stakeout-ml/stakeout/internal/config/configtest"
)

// compacted writes the compact form of the configuration in fsys into
// a new directory and returns the whole configuration and the directory.
func compacted(t *testing.T, fsys fstest.MapFS) (*Config, string) {
	t.Helper()
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), CompactDir)
	if err := WriteCompact(cfg, fsys, ".", dir); err != nil {
		t.Fatalf("WriteCompact: %v", err)
	}
	return cfg, dir
}

// exampleFS is the repository's own configuration.
func exampleFS(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, pattern := range []string{"../../rules/*.yaml", "../../owners/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v", pattern, err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fsys[strings.TrimPrefix(filepath.ToSlash(f), "../../")] = &fstest.MapFile{Data: src}
		}
	}
	return fsys
}

// The compact form of the example configuration holds every model with
// what routing needs, and no rule until a model is first used; then that
// model, and only it, has the rules, windows, scope and history the whole
// load gives it. Digest, warnings, owners and stakes are the whole load's.
func TestCompactModelsCompileAtFirstUseAsTheWholeLoadDoes(t *testing.T) {
	whole, dir := compacted(t, exampleFS(t))
	c, err := LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest != whole.Digest || !reflect.DeepEqual(c.Problems, whole.Problems) || !reflect.DeepEqual(c.Stakes, whole.Stakes) {
		t.Errorf("digest %s, problems %v, stakes %v; want the whole load's %s, %v, %v", c.Digest, c.Problems, c.Stakes, whole.Digest, whole.Problems, whole.Stakes)
	}
	if !slices.Equal(sortedKeys(c.Owners), sortedKeys(whole.Owners)) || !slices.Equal(sortedKeys(c.Models), sortedKeys(whole.Models)) || len(c.Broken) != 0 {
		t.Fatalf("owners %v, models %v, broken %v; want %v, %v, none", sortedKeys(c.Owners), sortedKeys(c.Models), c.Broken, sortedKeys(whole.Owners), sortedKeys(whole.Models))
	}
	for id, m := range c.Models {
		w := whole.Models[id]
		head := func(m *Model) []any {
			return []any{m.File, m.ID, m.Description, m.Stakes, m.Owners, m.Business, m.Expect, m.Match, m.Inhibit}
		}
		if !reflect.DeepEqual(head(m), head(w)) {
			t.Errorf("model %s: %v, want %v", id, head(m), head(w))
		}
		if m.Rules != nil || m.Scope != nil {
			t.Errorf("model %s has %d rules before its first use, want none compiled", id, len(m.Rules))
		}
	}
	m := c.Models["credit-approval"]
	if err := m.Ready(); err != nil {
		t.Fatal(err)
	}
	w := whole.Models["credit-approval"]
	if !sameCompiled(m, w) || len(m.Rules) == 0 || m.Scope == nil || len(m.Tests) != 0 {
		t.Errorf("credit-approval after Ready: %d rules, %d windows, history %d, %d tests; want the whole load's %d, %d, %d and no tests",
			len(m.Rules), len(m.Maintenance), m.HistoryDepth, len(m.Tests), len(w.Rules), len(w.Maintenance), w.HistoryDepth)
	}
	for i, r := range m.Rules {
		if got, want := []any{r.When.Source, r.Severity, r.Role, r.For, r.Flapping, r.ResolveAfter}, []any{w.Rules[i].When.Source, w.Rules[i].Severity, w.Rules[i].Role, w.Rules[i].For, w.Rules[i].Flapping, w.Rules[i].ResolveAfter}; !reflect.DeepEqual(got, want) {
			t.Errorf("rule %s: %v, want %v", r.Name, got, want)
		}
	}
	if c.Models["fraud-detection"].Rules != nil {
		t.Error("fraud-detection was compiled with credit-approval, want it left until its own first use")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// A model's file in the compact form has no tests, and every other line
// where it was: a problem found in it names the repository's line.
func TestCompactModelFileKeepsLinesWithoutTests(t *testing.T) {
	fsys := exampleFS(t)
	_, dir := compacted(t, fsys)
	orig := fsys["rules/credit-approval.yaml"].Data
	got, err := os.ReadFile(filepath.Join(dir, "rules", "credit-approval.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ol, gl := strings.Split(string(orig), "\n"), strings.Split(string(got), "\n")
	if len(gl) != len(ol) {
		t.Fatalf("%d lines, want %d", len(gl), len(ol))
	}
	at := slices.Index(ol, "tests:")
	if at < 0 || slices.Contains(gl, "tests:") || len(got) >= len(orig) {
		t.Fatalf("tests: at line %d of the original; the compact file still has it or is as long (%d bytes of %d)", at+1, len(got), len(orig))
	}
	for i := range at {
		if gl[i] != ol[i] {
			t.Errorf("line %d = %q, want %q", i+1, gl[i], ol[i])
		}
	}
}

// A model whose rules use an anchor defined in its tests (which then come
// first) does not survive the blanking: its compact file is its whole
// file, and it compiles.
func TestCompactKeepsAFileWholeWhenItsTestsCannotGo(t *testing.T) {
	fsys := exampleFS(t)
	src := "model: anchored\nstakes: low\nowners: {data: credit-ds, model: credit-ds, platform: ml-platform, product: lending-product}\n" +
		"expect: [{kind: drift, every: 1d}]\n" +
		"tests:\n  - name: fires\n    events: [{kind: drift, metric: psi, value: 0.3, observed_at: &at 2026-03-01T00:00:00Z}]\n    expect: [{rule: psi}]\n" +
		"rules:\n  - name: psi\n    when: value > 0.2\n    severity: warning\n    owner: data\n    description: *at\n"
	fsys["rules/anchored.yaml"] = &fstest.MapFile{Data: []byte(src)}
	whole, dir := compacted(t, fsys)
	if errs := whole.Errors(); len(errs) > 0 || whole.Models["anchored"] == nil {
		t.Fatalf("the fixture does not load: %v", errs)
	}
	got, err := os.ReadFile(filepath.Join(dir, "rules", "anchored.yaml"))
	if err != nil || !bytes.Equal(got, []byte(src)) {
		t.Errorf("compact anchored.yaml = %q, %v; want the whole file", got, err)
	}
	c, err := LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Models["anchored"].Ready(); err != nil || len(c.Models["anchored"].Rules) != 1 {
		t.Errorf("Ready = %v with %d rules, want 1 rule", err, len(c.Models["anchored"].Rules))
	}
}

// What validate rejects has no compact form.
func TestCompactIsNotWrittenForAConfigurationWithErrors(t *testing.T) {
	fsys := exampleFS(t)
	fsys["rules/credit-approval.yaml"] = &fstest.MapFile{Data: bytes.Replace(fsys["rules/credit-approval.yaml"].Data, []byte("when: "), []byte("when: nosuchname > 1 && "), 1)}
	cfg, err := LoadFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), CompactDir)
	if err := WriteCompact(cfg, fsys, ".", dir); err == nil {
		t.Fatal("WriteCompact of a configuration with an error = nil, want an error")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s exists (%v), want nothing written", dir, err)
	}
}

// A model whose file was changed after the build fails at its first use,
// every time, with an error naming it and the problem's FILE:LINE:COL;
// the other models still compile.
func TestCompactModelChangedAfterTheBuildFailsLoudly(t *testing.T) {
	_, dir := compacted(t, exampleFS(t))
	file := filepath.Join(dir, "rules", "fraud-detection.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, bytes.Replace(src, []byte("when: "), []byte("when: nosuchname > 1 && "), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Models["fraud-detection"]
	for range 2 {
		err := m.Ready()
		if err == nil || !strings.Contains(err.Error(), `model "fraud-detection"`) || !strings.Contains(err.Error(), filepath.Join("rules", "fraud-detection.yaml")+":") {
			t.Errorf("Ready = %v, want an error naming the model and rules/fraud-detection.yaml:LINE:COL", err)
		}
	}
	if m.Rules != nil {
		t.Errorf("fraud-detection has %d rules after a failed Ready, want none", len(m.Rules))
	}
	if err := c.Models["credit-approval"].Ready(); err != nil {
		t.Errorf("credit-approval: %v", err)
	}
}

// Concurrent first uses of models compile each once (run with -race).
func TestCompactReadyIsSafeForConcurrentFirstUses(t *testing.T) {
	_, dir := compacted(t, exampleFS(t))
	c, err := LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	rules := make(chan []*Rule, 4*len(c.Models))
	var wg sync.WaitGroup
	for range 4 {
		for _, m := range c.Models {
			wg.Go(func() {
				if err := m.Ready(); err != nil {
					t.Error(err)
				}
				rules <- m.Rules
			})
		}
	}
	wg.Wait()
	close(rules)
	for _, m := range c.Models {
		if len(m.Rules) == 0 {
			t.Errorf("model %s: no rules after Ready", m.ID)
		}
	}
	first := map[*Rule]bool{}
	for rs := range rules {
		first[rs[0]] = true
	}
	if len(first) != len(c.Models) {
		t.Errorf("%d distinct compilations of %d models, want one each", len(first), len(c.Models))
	}
}

// panicFS panics on every Open: a stand-in for any bug that makes a
// model's first compilation panic.
type panicFS struct{}

func (panicFS) Open(string) (fs.File, error) { panic("bug while reading a model") }

// A first use whose compilation panics leaves the model failing at every
// later use, with an error naming it, not served with no rules at all.
func TestCompactModelWhoseCompilationPanickedKeepsFailing(t *testing.T) {
	_, dir := compacted(t, exampleFS(t))
	c, err := LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Models["fraud-detection"]
	m.lazy.l.fsys = panicFS{}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("first Ready did not panic")
			}
		}()
		m.Ready()
	}()
	for range 2 {
		if err := m.Ready(); err == nil || !strings.Contains(err.Error(), `model "fraud-detection"`) || !strings.Contains(err.Error(), "panicked") {
			t.Errorf("Ready after a panic = %v, want an error naming the model and saying its compilation panicked", err)
		}
	}
	if m.Rules != nil {
		t.Errorf("fraud-detection has %d rules after a panicked Ready, want none", len(m.Rules))
	}
}

// failOnceFS fails the first Open of every file with an I/O error, then
// opens it: a read that fails once (a throttled or briefly unavailable
// disk), as none of a healthy build's files does twice.
type failOnceFS struct {
	fs.FS
	mu     sync.Mutex
	failed map[string]bool
}

var errDisk = errors.New("input/output error")

func (f *failOnceFS) Open(name string) (fs.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed[name] {
		f.failed[name] = true
		return nil, &fs.PathError{Op: "open", Path: name, Err: errDisk}
	}
	return f.FS.Open(name)
}

// A model's file that cannot be read at its first use is no problem of the
// model's: Ready says so (a ReadError, wrapping the I/O error) and keeps
// nothing, so that the next use reads it again and compiles it.
func TestCompactModelUnreadableOnceIsReadAgainAtItsNextUse(t *testing.T) {
	whole, dir := compacted(t, exampleFS(t))
	c, err := LoadCompact(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Models["fraud-detection"]
	m.lazy.l.fsys = &failOnceFS{FS: os.DirFS(dir), failed: map[string]bool{}}
	err = m.Ready()
	if unread := (*ReadError)(nil); !errors.As(err, &unread) || !errors.Is(err, errDisk) || !strings.Contains(err.Error(), `model "fraud-detection"`) {
		t.Errorf("first Ready = %v, want a ReadError naming the model and wrapping the I/O error", err)
	}
	if m.Rules != nil {
		t.Errorf("fraud-detection has %d rules after a failed read", len(m.Rules))
	}
	if err := m.Ready(); err != nil || !sameCompiled(m, whole.Models["fraud-detection"]) {
		t.Errorf("second Ready = %v, %d rules; want the model compiled as the whole load has it", err, len(m.Rules))
	}
}

// sameCompiled, the check that a model's compact file reads back as the
// whole load read it, tells apart models that differ in any one setting
// of a rule or window, not only in their names.
func TestSameCompiledSeesEveryRuleSetting(t *testing.T) {
	const base = "model: m\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\n" +
		"business: {cost: 2}\n" +
		"expect: [{kind: quality, every: 1d}]\n" +
		"maintenance:\n  - name: retrain\n    reason: weekly retrain\n    times: [\"01:00-05:00\"]\n" +
		"  - name: migration\n    rules: [r]\n    from: 2030-01-01T00:00:00Z\n    until: 2030-01-01T06:00:00Z\n    long: false\n" +
		"rules:\n  - name: r\n    description: accuracy fell\n    when: kind == \"quality\" && baseline - value > 0.05\n    severity: warning\n    owner: data\n" +
		"    for: 2\n    impact: (baseline - value) * business.cost\n    resolve_when: baseline - value < 0.02\n    resolve_after: 2\n" +
		"    escalate_when: {members: 5}\n    flapping: false\n" +
		"    summary: \"accuracy {{value}}\"\n    runbook: https://wiki.example.com/r\n"
	load := func(t *testing.T, src string) *Model {
		t.Helper()
		cfg, err := LoadFS(fstest.MapFS{
			"rules/m.yaml":     {Data: []byte(src)},
			"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\n")},
		}, ".")
		if err != nil {
			t.Fatal(err)
		}
		if errs := cfg.Errors(); len(errs) > 0 {
			t.Fatalf("%q: %v", src, errs)
		}
		return cfg.Models["m"]
	}
	m := load(t, base)
	if !sameCompiled(m, load(t, base)) {
		t.Fatal("a model is not the same as itself loaded again")
	}
	for _, tc := range []struct{ name, old, new string }{
		{"condition", "> 0.05", "> 0.06"},
		{"severity", "severity: warning", "severity: high"},
		{"role", "owner: data", "owner: model"},
		{"for", "for: 2", "for: 3"},
		{"impact", "* business.cost", "* business.cost * 2"},
		{"resolve_when", "< 0.02", "< 0.03"},
		{"resolve_after", "resolve_after: 2", "resolve_after: 3"},
		{"escalate_when", "members: 5", "members: 6"},
		{"flapping", "flapping: false", "flapping: {opens: 3}"},
		{"summary", "accuracy {{value}}", "accuracy at {{value}}"},
		{"runbook", "wiki.example.com/r", "wiki.example.com/s"},
		{"window reason", "weekly retrain", "the weekly retrain"},
		{"window times", "01:00-05:00", "01:00-06:00"},
		{"description", "accuracy fell", "accuracy dropped"},
		{"window rules", "    rules: [r]\n", ""},
		{"window long", "long: false", "long: true"},
		{"window from", "from: 2030-01-01T00:00:00Z", "from: 2030-01-01T01:00:00Z"},
		{"window until", "until: 2030-01-01T06:00:00Z", "until: 2030-01-01T07:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("%q is not in the model", tc.old)
			}
			if sameCompiled(m, load(t, strings.Replace(base, tc.old, tc.new, 1))) {
				t.Errorf("sameCompiled with %s %q → %q = true, want false", tc.name, tc.old, tc.new)
			}
		})
	}
	deeper := *m
	deeper.HistoryDepth++
	if sameCompiled(m, &deeper) {
		t.Errorf("sameCompiled with history depth %d → %d = true, want false", m.HistoryDepth, deeper.HistoryDepth)
	}
}

// Digest, from the files alone, is the digest loading them gives: the
// router compares its compact form's with the embedded configuration's
// this way, without decoding it. With a stakes file and without, with a
// file too large to be read (in neither).
func TestDigestIsTheLoadedConfigurationsDigest(t *testing.T) {
	tooLarge := configtest.Generate(3, 2)
	tooLarge["rules/huge.yaml"] = &fstest.MapFile{Data: bytes.Repeat([]byte("#\n"), MaxFileBytes)}
	for name, fsys := range map[string]fs.FS{
		"example":              exampleFS(t),
		"minimal":              os.DirFS("../../testdata/valid/minimal"),
		"generated, no stakes": configtest.Generate(20, 3),
		"a file too large":     tooLarge,
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadFS(fsys, ".")
			if err != nil {
				t.Fatal(err)
			}
			got, err := Digest(fsys)
			if err != nil || got != cfg.Digest {
				t.Errorf("Digest = %s, %v; want the loaded configuration's %s", got, err, cfg.Digest)
			}
		})
	}
	other := configtest.Generate(20, 3)
	other["rules/model-3.yaml"].Data = append(other["rules/model-3.yaml"].Data, '\n')
	if a, _ := Digest(configtest.Generate(20, 3)); a == mustDigest(t, other) {
		t.Error("two configurations differing by one byte have the same digest")
	}
}

func mustDigest(t *testing.T, fsys fs.FS) string {
	t.Helper()
	d, err := Digest(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
