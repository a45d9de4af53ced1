// Package config loads and checks stakeout's configuration: one
// rules/<model>.yaml per model, rules/stakes.yaml, and one owners/<id>.yaml
// per owner. Files are decoded node by node so that every problem — YAML
// syntax, an unknown key, a type error inside an expression, an owner that
// does not exist — is reported as FILE:LINE:COL, all at once. Expressions
// are compiled here, once, so a loaded Config is ready to evaluate.
//
// One model's broken file does not stop the others: Load returns every model
// that loaded cleanly in Models and the rest in Broken, so the router
// can keep serving them while `stakeout validate` fails the pull request.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// The vocabularies of the files.
var (
	Tiers      = []string{"low", "medium", "high", "critical"}
	Severities = []string{"info", "warning", "high", "critical"}
	Roles      = []string{"data", "model", "platform", "product"}
	Channels   = []string{"slack", "pagerduty", "digest"}
)

// Config is a loaded configuration.
type Config struct {
	// Models that loaded without errors, by id.
	Models map[string]*Model
	// Broken holds the models whose file has errors, as far as they
	// decoded, with the reason in Model.Broken. They are not served.
	Broken map[string]*Model
	// Owners that loaded, by id (including those with problems, so that
	// references to them are not reported twice).
	Owners map[string]*Owner
	// Stakes is the stakes table, from rules/stakes.yaml or built in.
	Stakes Stakes
	// StakesBuiltIn is true when rules/stakes.yaml does not exist.
	StakesBuiltIn bool
	// Problems are all errors and warnings, sorted by file and position.
	Problems []Problem
	// Digest is the SHA-256 of every file read (path and content), so an
	// audit record can name the exact configuration that decided it.
	Digest string
}

// Model is one rules/<model>.yaml.
type Model struct {
	File        string
	ID          string
	Description string
	Stakes      string
	// Owners maps each role to an owner id.
	Owners   map[string]string
	Business map[string]float64
	Expect   []Expectation
	Match    Match
	// Inhibit says which alert kinds suppress which while they fire.
	Inhibit Inhibit
	// Rules, Maintenance, Scope and HistoryDepth are there once Ready
	// returns nil (always, unless the model is from a compact form).
	Rules []*Rule
	Tests []*TestCase
	// Maintenance are the model's windows of silence (see Maintenance).
	Maintenance []*Maintenance
	// Scope is what expressions of this model see besides the event.
	Scope *expression.Scope
	// HistoryDepth is how many observations per series the rules need.
	HistoryDepth int
	// flapping is the model's `flapping:`, the default of its rules.
	flapping flappingSetting
	// Broken says why the model is not served ("" for a loaded model).
	Broken string
	// lazy, for a model of a compact form (LoadCompact), compiles Rules,
	// Maintenance, Scope and HistoryDepth at its first Ready; nil when
	// they are loaded with the model.
	lazy *lazyRules

	pos       Pos
	stakesPos Pos
	rolePos   map[string]Pos
	hasExpect bool
	// ruleNames includes rules that failed to load, so tests naming them
	// do not add a second, misleading problem.
	ruleNames []string
}

// Expectation is a signal that must keep arriving: silence is an alert.
// It opens when no signal has arrived for Every plus Grace, with Severity,
// for the model's Role owner (platform by default: silent monitoring is a
// platform problem before it is anyone else's).
type Expectation struct {
	Kind     string
	Metric   string
	Every    time.Duration
	Grace    time.Duration
	Severity string
	Role     string
	Pos      Pos
}

// Defaults of an expectation.
const (
	DefaultSilenceSeverity = "high"
	DefaultSilenceRole     = "platform"
)

// DefaultGrace is the slack given to a signal beyond its period: a twelfth
// of it (2 h for a nightly job), at least five minutes.
func DefaultGrace(every time.Duration) time.Duration {
	return max(every/12, 5*time.Minute)
}

// Inhibit is a model's inhibition: while an alert of a Sources kind fires,
// new alerts of a Targets kind are recorded as suppressed, not notified.
type Inhibit struct {
	Sources []string
	Targets []string
}

// DefaultInhibit: a broken feed (stale, malformed or low-quality data) makes
// drift, prediction and quality signals meaningless; its owner is told once.
func DefaultInhibit() Inhibit {
	return Inhibit{Sources: []string{"freshness", "schema", "data_quality"}, Targets: []string{"drift", "prediction", "quality"}}
}

// Match maps external events onto the model: per kind of name (a key of
// the file's match block), the globs that accept it.
type Match map[signal.MatchKind][]string

// Rule is one rule of a model.
type Rule struct {
	Name        string
	Description string
	When        *expression.Program
	For         Window
	Severity    string
	Role        string
	Summary     Template
	Runbook     string
	Impact      *expression.Program
	// ResolveAfter is how many consecutive clean readings resolve an
	// alert of the rule (default 1).
	ResolveAfter int
	// EscalateWhen raises the rule's open group when it grows (nil: never).
	EscalateWhen *Growth
	// ResolveWhen, when set, is the condition a reading must meet to count
	// as clean while an alert of the rule is open (hysteresis); nil: any
	// reading on which When is false is clean.
	ResolveWhen *expression.Program
	// Flapping is when an alert of the rule counts as flapping (the rule's
	// own, its model's, or DefaultFlapping).
	Flapping Flapping

	flapping    flappingSetting
	pos         Pos
	severityPos Pos
	rolePos     Pos
	errorRule   *Rule
}

// ErrorRulePrefix starts the name of the rule an alert about a rule itself
// goes under: "error:income-drift". The colon keeps it apart from every
// rule a model file can name.
const ErrorRulePrefix = "error:"

// ErrorRule is the rule under which an alert about r itself opens, when r
// cannot be evaluated on an event (it went over the evaluation budget):
// the same role, severity and runbook, so that r's owner hears of it as of
// r's own alerts.
func (r *Rule) ErrorRule() *Rule {
	if r.errorRule != nil {
		return r.errorRule
	}
	return newErrorRule(r)
}

// IsErrorRule reports whether r is the ErrorRule of another rule.
func (r *Rule) IsErrorRule() bool { return strings.HasPrefix(r.Name, ErrorRulePrefix) }

func newErrorRule(r *Rule) *Rule {
	e := &Rule{Name: ErrorRulePrefix + r.Name, Severity: r.Severity, Role: r.Role, Runbook: r.Runbook, ResolveAfter: 1,
		Description: "rule " + r.Name + " could not be evaluated"}
	e.Summary, _ = parseTemplate("rule "+r.Name+" could not be evaluated on {{kind}} {{metric}}: it went over its evaluation budget; "+
		"fix the rule (stakeout route says where)", func(string) error { return nil })
	return e
}

// Window is a rule's `for:`: how long a breach must last before the rule
// fires — a count of consecutive breaching observations or a duration. The
// zero Window fires on the first breach.
type Window struct {
	Count    int
	Duration time.Duration
}

// Owner is one owners/<id>.yaml.
type Owner struct {
	File     string
	ID       string
	Name     string
	Timezone *time.Location
	// DigestAt is when, after midnight in Timezone, the owner's daily
	// digest is posted (DefaultDigestAt unless digest_at says).
	DigestAt   time.Duration
	Slack      Slack
	PagerDuty  PagerDuty
	Escalation []string
	// WorkingHours, when set, is when the owner is at work (see
	// Policy.OutsideHours).
	WorkingHours *WorkingHours

	pos           Pos
	escalationPos []Pos
	broken        bool
}

// DefaultDigestAt: digests go out at 09:00 in the owner's time zone.
const DefaultDigestAt = 9 * time.Hour

// NextDigest is the owner's first digest time after t.
func (o *Owner) NextDigest(t time.Time) time.Time {
	loc := o.Timezone
	if loc == nil {
		loc = time.UTC
	}
	at := o.DigestAt
	if at == 0 {
		at = DefaultDigestAt
	}
	local := t.In(loc)
	h, m := int(at/time.Hour), int(at%time.Hour/time.Minute)
	for day := 0; ; day++ {
		// Built from the date each time, so that a DST change keeps the
		// wall-clock hour.
		next := time.Date(local.Year(), local.Month(), local.Day()+day, h, m, 0, 0, loc)
		if next.After(t) {
			return next
		}
	}
}

// Slack is where an owner is told.
type Slack struct {
	Channel string
	Mention []string
	Members []string
}

// PagerDuty is how an owner is paged. RoutingKey is a secret reference
// ("secret:NAME"), resolved at send time; the key itself is never in a file.
type PagerDuty struct {
	RoutingKey string
}

// Policy is one cell of the stakes table: how loud and how fast.
type Policy struct {
	Notify    []string
	AckWithin time.Duration
	// OutsideHours is what the cell does outside its owner's working
	// hours: OutsidePage, OutsideSlack, OutsideHold, or "" (as in hours).
	OutsideHours string
	// ReackAfter: see Stakes.ReackAfter (0: the tier's default; ReackOff).
	ReackAfter time.Duration
}

// Stakes maps tier → severity → policy.
type Stakes map[string]map[string]Policy

// Cell returns the policy for a tier and severity.
func (s Stakes) Cell(tier, severity string) (Policy, bool) {
	p, ok := s[tier][severity]
	return p, ok
}

// Notifies reports whether the policy sends on channel.
func (p Policy) Notifies(channel string) bool { return slices.Contains(p.Notify, channel) }

// Load reads the configuration under dir (which holds rules/ and owners/).
// It returns an error only when dir itself cannot be read; everything wrong
// inside the files is in Config.Problems.
func Load(dir string) (*Config, error) {
	return LoadFS(os.DirFS(dir), dir)
}

// LoadFS reads the configuration from fsys; display is the directory name
// shown in problem paths (e.g. "." shows "rules/x.yaml").
func LoadFS(fsys fs.FS, display string) (*Config, error) {
	return LoadFSAt(fsys, display, time.Now())
}

// LoadFSAt is LoadFS at a given time: the one thing a configuration's
// problems depend on the clock for is a one-off maintenance window that
// has ended (a warning).
func LoadFSAt(fsys fs.FS, display string, now time.Time) (*Config, error) {
	l := newLoader(fsys, display, now)
	if err := l.load(); err != nil {
		return nil, err
	}
	sortProblems(l.cfg.Problems)
	l.cfg.Digest = hex.EncodeToString(l.hash.Sum(nil))
	return l.cfg, nil
}

func newLoader(fsys fs.FS, display string, now time.Time) *loader {
	return &loader{fsys: fsys, display: display, cfg: &Config{
		Models: map[string]*Model{}, Broken: map[string]*Model{}, Owners: map[string]*Owner{},
	}, hash: sha256.New(), now: now}
}

type loader struct {
	fsys    fs.FS
	display string
	cfg     *Config
	hash    hash.Hash
	// now is when the configuration is loaded: a one-off maintenance
	// window that ended before it is reported.
	now time.Time
}

// StakesFile is the stakes table's path inside the configuration directory.
const StakesFile = "rules/stakes.yaml"

func (l *loader) load() error {
	owners, stakes, models, err := l.configFiles()
	if err != nil {
		return err
	}
	if len(owners) == 0 && !stakes && len(models) == 0 {
		return errors.New("no rules/*.yaml or owners/*.yaml files found (is --dir the directory that holds rules/ and owners/?)")
	}
	for _, f := range owners {
		l.loadOwner(f)
	}
	l.checkEscalations()
	if stakes {
		l.loadStakes(StakesFile)
	} else {
		l.cfg.Stakes, l.cfg.StakesBuiltIn = DefaultStakes(), true
	}
	l.loadModels(models)
	return nil
}

// configFiles lists the files load reads, in the order it reads them (the
// digest's): the owners, then the stakes table when there is one, then the
// models. Digest reads the same list.
func (l *loader) configFiles() (owners []string, stakes bool, models []string, err error) {
	if owners, err = l.files("owners"); err != nil {
		return nil, false, nil, err
	}
	rules, err := l.files("rules")
	if err != nil {
		return nil, false, nil, err
	}
	models = slices.DeleteFunc(rules, func(f string) bool { return f == StakesFile })
	return owners, len(models) < len(rules), models, nil
}

// loadModels reads the model files in order (the digest depends on it),
// decodes them in parallel — YAML parsing and expression compilation are
// most of a cold start — and files the results in order.
func (l *loader) loadModels(files []string) {
	docs := make([]*doc, len(files))
	for i, f := range files {
		docs[i] = l.read(f)
	}
	models := make([]*Model, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for i := range next {
				models[i] = l.decodeModel(docs[i], files[i])
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range files {
		l.finishModel(docs[i], models[i])
	}
}

// files lists dir/*.yaml (and .yml), sorted, so loading order, problem order
// and the digest are deterministic.
func (l *loader) files(dir string) ([]string, error) {
	entries, err := fs.ReadDir(l.fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// MaxFileBytes bounds a rules or owners file, checked before it is read
// or decoded. The largest example model is 10 KiB; a file of a thousand
// rules about 200 KiB.
const MaxFileBytes = 1 << 20

// read returns a doc for the file and feeds the digest.
func (l *loader) read(name string) *doc {
	d, _ := l.readDoc(name)
	if d.src == nil {
		return d
	}
	digestFile(l.hash, name, d.src)
	return d
}

// digestFile feeds a file the loader read to the configuration's digest.
func digestFile(h hash.Hash, name string, src []byte) {
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(src)
	h.Write([]byte{0})
}

// Digest is the Digest loading the configuration in fsys gives, from its
// files alone, nothing decoded: the files load reads, in its order
// (configFiles), a file it cannot read left out as load leaves it. The
// router checks its compact form against the embedded configuration with
// it, for the price of a hash.
func Digest(fsys fs.FS) (string, error) {
	l := newLoader(fsys, ".", time.Time{})
	files, stakes, models, err := l.configFiles()
	if err != nil {
		return "", err
	}
	if stakes {
		files = append(files, StakesFile)
	}
	var buf []byte
	for _, f := range append(files, models...) {
		if src, err := readFileInto(fsys, f, buf); err == nil {
			digestFile(l.hash, f, src)
			buf = src
		}
	}
	return hex.EncodeToString(l.hash.Sum(nil)), nil
}

// readDoc returns a doc for the file, a problem when it cannot be read,
// and the reason. It changes nothing shared (the digest is read's).
func (l *loader) readDoc(name string) (*doc, error) {
	d := &doc{file: filepath.Join(l.display, filepath.FromSlash(name))}
	src, err := readFile(l.fsys, name)
	if err != nil {
		d.errorAt(Pos{1, 1}, "%v", err)
		return d, err
	}
	d.src = src
	return d, nil
}

// decodeAlone reads and decodes one model file apart from the others (a
// compact form's model at first use): safe for concurrent callers, as
// decodeModel is. An I/O error reading it is returned, not made a
// problem of the file: reading it again may succeed.
func (l *loader) decodeAlone(name string) (*Model, *doc, error) {
	d, err := l.readDoc(name)
	if errors.As(err, new(*ioError)) {
		return nil, d, err
	}
	return l.decodeModel(d, name), d, nil
}

func (l *loader) report(d *doc) {
	l.cfg.Problems = append(l.cfg.Problems, d.problems...)
}

// baseName is the file name without directory and extension.
func baseName(name string) string {
	b := path.Base(name)
	return strings.TrimSuffix(strings.TrimSuffix(b, ".yaml"), ".yml")
}

// readFile reads a regular file of at most MaxFileBytes. Its kind and
// size are checked first (a named pipe would block, a device never end),
// and it is read through a limit anyway, in case it changed since.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	return readFileInto(fsys, name, nil)
}

// readFileInto is readFile reading into buf's array when it is large
// enough (Digest reuses one for every file), else into one of the file's
// size: not io.ReadAll's doublings, most of what reading cost.
func readFileInto(fsys fs.FS, name string, buf []byte) ([]byte, error) {
	tooLarge := func(size string) error {
		return fmt.Errorf("file is %s, more than the %d (%d MiB) a rules or owners file may have", size, MaxFileBytes, MaxFileBytes>>20)
	}
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, &ioError{err}
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s): rules and owners are regular files", fileKind(fi.Mode()))
	}
	if fi.Size() > MaxFileBytes {
		return nil, tooLarge(strconv.FormatInt(fi.Size(), 10) + " bytes")
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, &ioError{err}
	}
	defer f.Close()
	// One byte more than its size, so that a file that grew is read to
	// its (limited) end, not cut at the size it had.
	if want := int(fi.Size()) + 1; cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	src, err := readAll(buf[:0], io.LimitReader(f, MaxFileBytes+1))
	switch {
	case err != nil:
		return nil, &ioError{err}
	case len(src) > MaxFileBytes:
		return nil, tooLarge("over " + strconv.Itoa(MaxFileBytes) + " bytes") // it grew since it was looked at
	}
	return src, nil
}

// ioError is a file that could not be read (stat, open or read failed),
// as opposed to one that was read and refused (its kind, its size): the
// one may read at another try, the other not.
type ioError struct{ err error }

func (e *ioError) Error() string { return "cannot read: " + e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// readAll is io.ReadAll appending to b.
func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}
