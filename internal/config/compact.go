package config

// The compact form: what the router's build step (functions/router/compact,
// run by make build-RouterFunction) writes next to the router's bootstrap,
// so that a cold start pays per model, not per configuration. Loading
// every model means parsing every rules file (their tests: too) and
// compiling every expression — about 50 µs a rule — while one invocation
// touches one model. The compact form keeps
// an index of the models with what routing and delivery need of every
// model (id, file, stakes, owners, business constants, expectations,
// match globs, inhibition), the owners' and stakes files as they are, and
// each model's file with its tests: lines blanked (line numbers kept, so
// a problem still names the repository's FILE:LINE:COL). A model's rules
// and maintenance windows are decoded and compiled on its first Ready,
// once for the life of the process.
//
// The form is written only from a configuration without errors, and
// written, then read back and every model compiled from it, before the
// build goes on: what `validate` rejects never deploys, and a model that
// would fail at first use fails the build instead.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/expression"
)

// CompactDir is the compact form's directory name next to the router's
// bootstrap (the Makefile's build-RouterFunction writes it there).
const CompactDir = "stakeout-config"

// compactIndexFile is the index inside the compact form's directory.
const compactIndexFile = "index.json"

// CompactVersion is the compact form's format: it changes whenever the
// index's shape does, so that a router never reads an index of another
// shape as its own (it loads its embedded configuration instead).
const CompactVersion = 1

// compactIndex is index.json.
type compactIndex struct {
	Version int
	// Display is the configuration directory as validate was given it:
	// file names in models, owners and problems start with it, as they do
	// when the configuration is loaded whole.
	Display       string
	Digest        string
	StakesBuiltIn bool
	// Problems are the configuration's warnings (it has no errors).
	Problems []Problem
	Models   []compactHead
}

// compactHead is what the router needs of every model before it needs its
// rules: Source is the model's file inside the compact form.
type compactHead struct {
	ID, File, Description, Stakes string
	Owners                        map[string]string
	Business                      map[string]float64
	Expect                        []Expectation
	Match                         Match
	Inhibit                       Inhibit
	Source                        string
}

// lazyRules compiles a compact model's rules on first use.
type lazyRules struct {
	// done is set once err is final: nil, the model compiled; else a
	// problem of its file, or a panic, kept for the life of the process.
	done   atomic.Bool
	mu     sync.Mutex
	l      *loader
	source string
	err    error
}

// ReadError is a compact model's file that could not be read at its first
// use: an I/O error, not the model's. Unlike a problem in the file, it is
// not kept: the next Ready reads the file again, so the caller retries
// (the router: the event, as it does any transient fault).
type ReadError struct {
	Model string
	Err   error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("model %q: its rules could not be read: %v", e.Model, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Ready makes sure the model's rules, maintenance windows, Scope and
// HistoryDepth are there: always, for a model loaded whole; for a model of
// a compact form (LoadCompact), they are decoded and compiled on the first
// call, safely for concurrent callers, and kept. An error names the model
// and every problem at FILE:LINE:COL; the model must then not be routed
// (it cannot happen with a compact form WriteCompact wrote and checked,
// short of its files being changed after the build). A *ReadError is the
// exception: the file could not be read, and the next call tries again.
func (m *Model) Ready() error {
	z := m.lazy
	if z == nil {
		return nil
	}
	if z.done.Load() {
		return z.err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.done.Load() {
		return z.err
	}
	returned := false
	defer func() {
		// compile panicked: later uses fail, rather than serve no rules.
		if !returned {
			z.err = fmt.Errorf("model %q: compiling its rules panicked at first use", m.ID)
			z.done.Store(true)
		}
	}()
	err := z.compile(m)
	returned = true
	if unread := (*ReadError)(nil); errors.As(err, &unread) {
		return err
	}
	z.err = err
	z.done.Store(true)
	return err
}

func (z *lazyRules) compile(m *Model) error {
	full, d, err := z.l.decodeAlone(z.source)
	if err != nil {
		return &ReadError{Model: m.ID, Err: err}
	}
	var errs []string
	for _, p := range d.problems {
		if !p.Warning {
			errs = append(errs, p.String())
		}
	}
	if len(errs) == 0 && full.ID != m.ID {
		errs = append(errs, fmt.Sprintf("%s: holds model %q", d.file, full.ID))
	}
	if len(errs) > 0 {
		return fmt.Errorf("model %q cannot be compiled: %s", m.ID, strings.Join(errs, "; "))
	}
	full.derive()
	m.Rules, m.Maintenance, m.Scope, m.HistoryDepth, m.flapping = full.Rules, full.Maintenance, full.Scope, full.HistoryDepth, full.flapping
	return nil
}

// CompactForm is a compact form's index, read (OpenCompact) before the
// form is loaded (Load): its Version and Digest say whether it is of the
// format this build reads and of the files it was built with.
type CompactForm struct {
	// Version is the form's format (CompactVersion, for one this build
	// wrote; 0 when the index has none).
	Version int
	// Digest is the Digest of the configuration it was written from.
	Digest string
	dir    string
	ix     compactIndex
}

// OpenCompact reads the index of the compact form in dir, of whatever
// version: an index of another shape still gives its Version and Digest.
func OpenCompact(dir string) (*CompactForm, error) {
	name := filepath.Join(dir, compactIndexFile)
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f := &CompactForm{dir: dir}
	if err := json.Unmarshal(raw, &f.ix); err == nil {
		f.Version, f.Digest = f.ix.Version, f.ix.Digest
		return f, nil
	}
	// Not this build's shape: decoded again for the two fields every
	// version has, so that the caller can tell the form is another's.
	var stamp struct {
		Version int
		Digest  string
	}
	if err := json.Unmarshal(raw, &stamp); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.Version, f.Digest = stamp.Version, stamp.Digest
	if f.Version == CompactVersion {
		f.Version = 0 // this version's number on another shape: not this build's form
	}
	return f, nil
}

// LoadCompact reads the compact form in dir (see WriteCompact): owners and
// stakes decoded now, each model's rules at its first Ready. The Config's
// Digest and Problems are those of the configuration it was written from.
func LoadCompact(dir string) (*Config, error) {
	f, err := OpenCompact(dir)
	if err != nil {
		return nil, err
	}
	return f.Load()
}

// Load loads the form (LoadCompact): an error if it is not of the version
// this build reads.
func (f *CompactForm) Load() (*Config, error) {
	dir, ix := f.dir, f.ix
	if f.Version != CompactVersion {
		return nil, fmt.Errorf("%s: version %d, this build reads version %d (rebuild the function)", filepath.Join(dir, compactIndexFile), f.Version, CompactVersion)
	}
	l := newLoader(os.DirFS(dir), ix.Display, time.Now())
	owners, err := l.files("owners")
	if err != nil {
		return nil, err
	}
	for _, f := range owners {
		l.loadOwner(f)
	}
	l.checkEscalations()
	if ix.StakesBuiltIn {
		l.cfg.Stakes, l.cfg.StakesBuiltIn = DefaultStakes(), true
	} else {
		l.loadStakes(StakesFile)
	}
	if errs := l.cfg.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("compact configuration in %s: %s", dir, errs[0])
	}
	l.cfg.Problems, l.cfg.Digest = ix.Problems, ix.Digest
	for _, h := range ix.Models {
		l.cfg.Models[h.ID] = &Model{ID: h.ID, File: h.File, Description: h.Description, Stakes: h.Stakes, Owners: h.Owners,
			Business: h.Business, Expect: h.Expect, Match: h.Match, Inhibit: h.Inhibit, lazy: &lazyRules{l: l, source: h.Source}}
	}
	return l.cfg, nil
}

// WriteCompact writes the compact form of cfg — loaded from fsys, shown as
// display (Load's dir) — into dir, which must not exist yet; cfg must have
// no errors. It then reads the form back and compiles every model from it,
// so that a model that would not compile at first use fails here.
func WriteCompact(cfg *Config, fsys fs.FS, display, dir string) error {
	if errs := cfg.Errors(); len(errs) > 0 || len(cfg.Broken) > 0 {
		return fmt.Errorf("the configuration has %d error(s): no compact form is written", len(errs))
	}
	ix := compactIndex{Version: CompactVersion, Display: display, Digest: cfg.Digest, StakesBuiltIn: cfg.StakesBuiltIn, Problems: cfg.Problems}
	files := map[string][]byte{}
	for _, o := range cfg.Owners {
		name := path.Join("owners", filepath.Base(o.File))
		src, err := readFile(fsys, name)
		if err != nil {
			return fmt.Errorf("%s: %w", o.File, err)
		}
		files[name] = src
	}
	if !cfg.StakesBuiltIn {
		src, err := readFile(fsys, StakesFile)
		if err != nil {
			return fmt.Errorf("%s: %w", StakesFile, err)
		}
		files[StakesFile] = src
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Models)) {
		m := cfg.Models[id]
		name := path.Join("rules", filepath.Base(m.File))
		src, err := readFile(fsys, name)
		if err != nil {
			return fmt.Errorf("%s: %w", m.File, err)
		}
		files[name] = withoutTests(src)
		ix.Models = append(ix.Models, compactHead{ID: m.ID, File: m.File, Description: m.Description, Stakes: m.Stakes, Owners: m.Owners,
			Business: m.Business, Expect: m.Expect, Match: m.Match, Inhibit: m.Inhibit, Source: name})
	}
	if err := writeCompact(dir, ix, files); err != nil {
		return err
	}
	return checkCompact(cfg, fsys, dir, ix)
}

// writeCompact writes the index and files into dir, which must not exist.
func writeCompact(dir string, ix compactIndex, files map[string][]byte) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.Marshal(ix)
	if err != nil {
		return err
	}
	files[compactIndexFile] = raw
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkCompact reads the compact form in dir back and compiles every model
// from it: each must have the rules and windows it has in cfg. A model
// whose file did not survive the blanking of its tests (an anchor defined
// there and used before, say) is written again whole.
func checkCompact(cfg *Config, fsys fs.FS, dir string, ix compactIndex) error {
	for pass := range 2 {
		rewritten := false
		back, err := LoadCompact(dir)
		if err != nil {
			return fmt.Errorf("read the compact form back: %w", err)
		}
		var bad []error
		for _, h := range ix.Models {
			m := back.Models[h.ID]
			err := m.Ready()
			if err == nil && !sameCompiled(m, cfg.Models[h.ID]) {
				err = fmt.Errorf("model %q: its rules or windows differ once its tests are blanked", h.ID)
			}
			if err == nil {
				continue
			}
			if pass == 1 {
				bad = append(bad, err)
				continue
			}
			src, rerr := readFile(fsys, h.Source)
			if rerr != nil {
				return rerr
			}
			if werr := os.WriteFile(filepath.Join(dir, filepath.FromSlash(h.Source)), src, 0o644); werr != nil {
				return werr
			}
			rewritten = true
		}
		if len(bad) > 0 {
			return fmt.Errorf("the compact form does not compile: %w", errors.Join(bad...))
		}
		if !rewritten {
			break
		}
	}
	return nil
}

// sameCompiled reports whether a and b have the same rules, in the same
// order and with the same settings, the same maintenance windows and the
// same history depth: what a model's compact file must read back as.
func sameCompiled(a, b *Model) bool {
	return slices.EqualFunc(a.Rules, b.Rules, sameRule) &&
		slices.EqualFunc(a.Maintenance, b.Maintenance, func(x, y *Maintenance) bool {
			return x.Name == y.Name && x.Reason == y.Reason && slices.Equal(x.Rules, y.Rules) &&
				x.From.Equal(y.From) && x.Until.Equal(y.Until) && x.Long == y.Long && reflect.DeepEqual(x.Interval, y.Interval)
		}) &&
		a.HistoryDepth == b.HistoryDepth
}

// sameRule compares every setting of two rules; expressions by source.
func sameRule(x, y *Rule) bool {
	source := func(p *expression.Program) string {
		if p == nil {
			return ""
		}
		return p.Source
	}
	return x.Name == y.Name && x.Description == y.Description && source(x.When) == source(y.When) &&
		x.For == y.For && x.Severity == y.Severity && x.Role == y.Role && x.Summary.Source == y.Summary.Source &&
		x.Runbook == y.Runbook && source(x.Impact) == source(y.Impact) && x.ResolveAfter == y.ResolveAfter &&
		reflect.DeepEqual(x.EscalateWhen, y.EscalateWhen) && source(x.ResolveWhen) == source(y.ResolveWhen) &&
		x.Flapping == y.Flapping
}

// withoutTests is a model file with its top-level tests: block blanked,
// line for line, so that every other line keeps its number. A file whose
// top level is not a block mapping is kept whole.
func withoutTests(src []byte) []byte {
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil || len(root.Content) != 1 {
		return src
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode || top.Style&yaml.FlowStyle != 0 {
		return src
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := top.Content[i]
		if k.Value != "tests" || k.Column != 1 {
			continue
		}
		end := -1 // the last line of the block: up to the next key or the end
		if i+2 < len(top.Content) {
			if next := top.Content[i+2]; next.Column == 1 {
				end = next.Line - 1
			} else {
				return src
			}
		}
		return blankLines(src, k.Line, end)
	}
	return src
}

// blankLines empties lines from..to (1-based; to -1: to the end), keeping
// their line breaks.
func blankLines(src []byte, from, to int) []byte {
	lines := bytes.SplitAfter(src, []byte("\n"))
	for i := from - 1; i < len(lines) && (to < 0 || i < to); i++ {
		if bytes.HasSuffix(lines[i], []byte("\n")) {
			lines[i] = []byte("\n")
		} else {
			lines[i] = nil
		}
	}
	return bytes.Join(lines, nil)
}
