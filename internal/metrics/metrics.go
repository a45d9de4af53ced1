// Package metrics gives stakeout's Lambda functions CloudWatch metrics —
// alerts opened, notifications sent, time spent per stage — by writing them
// to stdout in CloudWatch's embedded metric format (EMF): JSON log lines
// that CloudWatch Logs turns into metrics as it ingests them. Nothing is
// called on the request path (no PutMetricData round trip, no extra IAM
// permission), and each number sits in the log stream of the invocation
// that produced it.
//
// A main builds one Recorder before lambda.Start; the handler records into
// it and flushes at the end of each invocation:
//
//	rec := metrics.New(os.Stdout, "Stakeout", time.Now).With(map[string]string{"Function": "router"})
//	...
//	rec.Count("AlertsOpened", 1, "Model", "credit-approval", "Owner", "credit-ds")
//	rec.Milliseconds("RouteLatency", h.Now().Sub(start))
//	if err := rec.Flush(); err != nil {
//		h.Logger.Warn("metrics", "err", err)
//	}
//
// Outside Lambda — stakeout serve — the same values go to Prometheus: a
// Recorder made with WithObserver hands each one, as it is recorded, to an
// Observer (internal/promexport), and writing to io.Discard leaves out the
// EMF lines, which only CloudWatch reads.
//
// The format is specified at
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html;
// the limits it sets are the constants below.
package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits of the embedded metric format and of the CloudWatch APIs it feeds
// (API_Dimension, API_MetricDatum). A document that breaks one is not
// rejected loudly: CloudWatch Logs keeps the log line and silently extracts
// no metric from it, so the Recorder never writes one.
const (
	// "Metrics ... MUST NOT contain more than 100 MetricDefinition objects."
	maxMetrics = 100
	// "Numeric array metric targets MUST NOT have more than 100 members."
	maxValues = 100
	// "A DimensionSet MUST NOT contain more than 30 dimension keys." (Older
	// revisions of the specification said 9; CloudWatch now takes 30.)
	maxDimensions = 30
	// The specification allows 1 MB per document, but Lambda cuts a stdout
	// line into 256 KB log events and a cut document is no longer JSON.
	maxLineBytes = 256 << 10
	// Metric and dimension names: 1–255 characters. Dimension values: 1–1024.
	maxNameLen  = 255
	maxValueLen = 1024
)

// InvalidDimensions is the dimension under which a metric is recorded when
// the dimensions given with it cannot be used. Its value says why:
//
//   - "OddArguments": an odd number of dims strings, so one name has no value;
//   - "BadName": a name that is empty or blank, longer than 255 characters,
//     not printable ASCII, starts with a colon, or is reserved
//     (InvalidDimensions itself, or "_aws");
//   - "BadValue": a value that is empty or blank, longer than 1024
//     characters, or not printable ASCII;
//   - "TooMany": more than 30 dimensions in all (29 for With).
//
// Malformed dimensions are a programming error, but a metrics call is no
// reason to fail an invocation, and dropping the metric would hide the bug
// as well as the number. Recording it under the recorder's own dimensions
// plus this one keeps the count, keeps it out of the well-formed series, and
// makes the mistake visible in the CloudWatch console.
const InvalidDimensions = "InvalidDimensions"

const (
	reasonOdd      = "OddArguments"
	reasonBadName  = "BadName"
	reasonBadValue = "BadValue"
	reasonTooMany  = "TooMany"
)

// awsKey is the root member holding the metadata; no metric or dimension
// may take its name.
const awsKey = "_aws"

// maxDropped bounds the distinct dropped metrics Flush reports, so that a
// loop recording bad names cannot grow memory without bound.
const maxDropped = 16

// Recorder collects metrics for one invocation and writes them as EMF
// lines when flushed. It is safe for concurrent use, and may live across
// invocations: each Flush writes and forgets what came before it.
//
// Every metric is recorded under the recorder's dimensions (see With) plus
// the extra name/value pairs given with it, and is published under exactly
// that dimension set: a count recorded with Model and Owner is not also
// added to the total without them. Record both if both are wanted.
//
// A nil *Recorder is valid and records nothing, so code paths without
// metrics need no checks.
type Recorder struct {
	s    *sink
	dims []Dim // sorted by name, at most maxDimensions
	key  string
}

// sink is the state a Recorder and every Recorder derived from it with
// With share: the metrics recorded since the last flush, and the writer.
type sink struct {
	w         io.Writer
	namespace string
	observer  Observer // nil without WithObserver
	nsErr     error
	now       func() time.Time

	mu      sync.Mutex
	cur     *buffer // what the next Flush writes
	scratch []Dim   // resolve's buffer
	keyBuf  []byte

	// flushMu serialises flushes, so that they can encode into one set
	// of buffers without holding mu while writing, and recording goes on.
	flushMu sync.Mutex
	spare   *buffer // the last one flushed, emptied for reuse
	keys    []string
	items   []series
	picked  []int
	out     []byte
}

// buffer is what was recorded between two flushes. Flush swaps it for the
// spare and empties it for the next swap rather than dropping it: a warm
// Lambda records the same metrics under the same dimensions invocation
// after invocation, and reusing groups, maps and value slices makes
// recording allocation-free once they exist.
type buffer struct {
	groups  map[string]*group // by dimension key
	dropped map[drop]struct{}
	more    int // distinct drops beyond maxDropped
}

// group is the metrics recorded under one dimension set; one or more
// lines each. A duration whose slice is empty was not recorded since the
// last flush.
type group struct {
	dims   []Dim
	counts map[string]float64
	durs   map[string][]float64
}

type drop struct{ name, why string }

// New returns a Recorder that writes to w (in Lambda, os.Stdout) under
// the CloudWatch namespace, stamping each flush with now. A nil now means
// time.Now. A nil w returns a nil, no-op Recorder, whatever the options;
// to record for an Observer alone, write to io.Discard (see WithObserver).
//
// A namespace CloudWatch would refuse (see Flush) is reported by every
// Flush rather than here, so that construction cannot fail a cold start
// over metrics.
func New(w io.Writer, namespace string, now func() time.Time, opts ...Option) *Recorder {
	if w == nil {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	s := &sink{w: w, namespace: namespace, now: now, cur: &buffer{}}
	for _, o := range opts {
		o(s)
	}
	if !validNamespace(namespace) {
		s.nsErr = fmt.Errorf("invalid namespace %q: want 1-255 characters of 0-9A-Za-z.-_/#: and space, not starting with \"AWS/\"", namespace)
	}
	return &Recorder{s: s}
}

// With returns a Recorder whose metrics also carry dims — in stakeout,
// {"Function": name} — and that shares r's buffer: Flush on either writes
// the metrics of both. A name already on r takes the new value. Invalid
// dims (see InvalidDimensions) give a child recording under r's dimensions
// plus InvalidDimensions. With allows 29 dimensions in all, leaving room
// for that marker.
func (r *Recorder) With(dims map[string]string) *Recorder {
	if r == nil {
		return nil
	}
	extra := make([]string, 0, 2*len(dims))
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		extra = append(extra, k, dims[k])
	}
	ds := resolve(nil, r.dims, extra, maxDimensions-1)
	return &Recorder{s: r.s, dims: ds, key: string(appendKey(nil, ds))}
}

// Count adds n to the metric name (unit Count) under r's dimensions plus
// dims, given as name/value pairs. Counts with the same name and
// dimensions are summed until Flush.
func (r *Recorder) Count(name string, n float64, dims ...string) {
	if r == nil {
		return
	}
	r.s.record(r, name, UnitCount, n, dims)
}

// Milliseconds records d as one value of the metric name (unit
// Milliseconds) under r's dimensions plus dims, given as name/value pairs.
// Every value is kept, not summed, so that CloudWatch can compute
// percentiles.
func (r *Recorder) Milliseconds(name string, d time.Duration, dims ...string) {
	if r == nil {
		return
	}
	r.s.record(r, name, UnitMilliseconds, float64(d)/float64(time.Millisecond), dims)
}

// Flush writes what r and the Recorders sharing its buffer recorded since
// the last Flush, one JSON line per dimension set — more when a set holds
// over 100 metrics, a metric over 100 values, or a line would pass 256 KB
// — and empties the buffer. Nothing recorded writes nothing.
//
// Each line is a single Write, so lines from other writers on the same
// stdout do not land inside it. The buffer is emptied even when writing
// fails: retrying would repeat the lines already written.
//
// The error reports a failed Write, an invalid namespace (nothing is
// written), and metrics that were dropped because CloudWatch would refuse
// them: an invalid name (the rules of InvalidDimensions' BadName), a name
// equal to one of its dimensions' (both are members of the same JSON
// object), or a value that is not a finite number. Everything else is
// written regardless, so the error is for logging, not for failing the
// invocation.
func (r *Recorder) Flush() error {
	if r == nil {
		return nil
	}
	if err := r.s.flush(); err != nil {
		return fmt.Errorf("flush metrics: %w", err)
	}
	return nil
}

func (s *sink) record(r *Recorder, name, unit string, v float64, extra []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.cur
	dims, key := r.dims, r.key
	var g *group
	if len(extra) == 0 {
		g = b.groups[key]
	} else {
		dims = resolve(s.scratch[:0], r.dims, extra, maxDimensions)
		s.scratch = dims
		s.keyBuf = appendKey(s.keyBuf[:0], dims)
		g = b.groups[string(s.keyBuf)] // no allocation for the lookup
	}
	if why := checkMetric(name, v, dims); why != "" {
		b.drop(name, why)
		return
	}
	if s.observer != nil {
		s.observer.Observe(name, unit, v, dims)
	}
	if !s.keeps() {
		return
	}
	if g == nil {
		if len(extra) > 0 {
			key = string(s.keyBuf)
		}
		g = &group{dims: slices.Clone(dims)}
		if b.groups == nil {
			b.groups = map[string]*group{}
		}
		b.groups[key] = g
	}
	if unit == UnitCount {
		if g.counts == nil {
			g.counts = map[string]float64{}
		}
		g.counts[name] += v
		return
	}
	if g.durs == nil {
		g.durs = map[string][]float64{}
	}
	g.durs[name] = append(g.durs[name], v)
}

func (b *buffer) drop(name, why string) {
	d := drop{name, why}
	if _, ok := b.dropped[d]; ok {
		return
	}
	if len(b.dropped) == maxDropped {
		b.more++
		return
	}
	if b.dropped == nil {
		b.dropped = map[drop]struct{}{}
	}
	b.dropped[d] = struct{}{}
}

// recorded reports whether g holds anything to write.
func (g *group) recorded() bool {
	if len(g.counts) > 0 {
		return true
	}
	for _, vs := range g.durs {
		if len(vs) > 0 {
			return true
		}
	}
	return false
}

// reset empties b for reuse. Groups and durations that were not recorded
// since the previous flush are deleted, so that what is kept is bounded by
// what two consecutive invocations use.
func (b *buffer) reset() {
	for key, g := range b.groups {
		used := len(g.counts) > 0
		clear(g.counts)
		for name, vs := range g.durs {
			if len(vs) == 0 {
				delete(g.durs, name)
				continue
			}
			used = true
			g.durs[name] = vs[:0]
		}
		if !used {
			delete(b.groups, key)
		}
	}
	clear(b.dropped)
	b.more = 0
}

// resolve appends to buf base with the name/value pairs of extra set on
// it, sorted by name, or — when extra cannot be used or the result would
// exceed limit — base with InvalidDimensions set to the reason.
func resolve(buf, base []Dim, extra []string, limit int) []Dim {
	buf = append(buf, base...)
	why := ""
	if len(extra)%2 != 0 {
		why = reasonOdd
	} else {
		for i := 0; i < len(extra); i += 2 {
			name, value := extra[i], extra[i+1]
			if !validName(name) || name == InvalidDimensions || name == awsKey {
				why = reasonBadName
				break
			}
			if !validValue(value) {
				why = reasonBadValue
				break
			}
			buf = setDim(buf, name, value)
		}
		if why == "" && len(buf) > limit {
			why = reasonTooMany
		}
	}
	if why != "" {
		// base has at most 29 dimensions unless it already carries the
		// marker, so this stays within maxDimensions.
		buf = setDim(append(buf[:0], base...), InvalidDimensions, why)
	}
	slices.SortFunc(buf, func(a, b Dim) int { return strings.Compare(a.Name, b.Name) })
	return buf
}

func setDim(ds []Dim, name, value string) []Dim {
	for i := range ds {
		if ds[i].Name == name {
			ds[i].Value = value
			return ds
		}
	}
	return append(ds, Dim{name, value})
}

// appendKey encodes a sorted dimension set as a map key. Names and values
// are printable ASCII, so the NUL separators cannot be forged.
func appendKey(b []byte, ds []Dim) []byte {
	for _, d := range ds {
		b = append(b, d.Name...)
		b = append(b, 0)
		b = append(b, d.Value...)
		b = append(b, 0)
	}
	return b
}

// checkMetric says why a metric cannot be published, or "".
func checkMetric(name string, v float64, dims []Dim) string {
	if !validName(name) || name == awsKey {
		return "invalid name"
	}
	for _, d := range dims {
		if d.Name == name {
			return "name is also one of its dimensions"
		}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "value is not a finite number"
	}
	return ""
}

// validName reports whether s can name a metric or a dimension: 1–255
// printable ASCII characters, not all blank, not starting with a colon
// (API_Dimension, API_MetricDatum).
func validName(s string) bool {
	return len(s) <= maxNameLen && !strings.HasPrefix(s, ":") && printable(s)
}

// validValue reports whether s can be a dimension value: 1–1024 printable
// ASCII characters, not all blank (API_Dimension).
func validValue(s string) bool {
	return len(s) <= maxValueLen && printable(s)
}

// printable reports whether s is non-empty printable ASCII with at least
// one character that is not a space.
func printable(s string) bool {
	blank := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return false
		}
		if c != ' ' {
			blank = false
		}
	}
	return !blank
}

// validNamespace applies CloudWatch's namespace rules (API_PutMetricData):
// 1–255 of 0-9A-Za-z . - _ / # : and space, not blank, and not "AWS/",
// which is reserved for AWS services.
func validNamespace(ns string) bool {
	if len(ns) == 0 || len(ns) > maxNameLen || strings.HasPrefix(ns, "AWS/") || strings.TrimSpace(ns) == "" {
		return false
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		switch {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case strings.IndexByte(".-_/#: ", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// series is one metric of a group on its way out: a sum, or the values
// not yet written.
type series struct {
	name, unit string
	sum        float64
	values     []float64
}

func (m *series) isCount() bool { return m.unit == UnitCount }

// chunk is how many values the next line takes.
func (m *series) chunk() int { return min(len(m.values), maxValues) }

func (s *sink) flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.mu.Lock()
	b := s.cur
	if s.spare != nil {
		s.cur, s.spare = s.spare, nil
	} else {
		s.cur = &buffer{}
	}
	s.mu.Unlock()
	defer func() {
		b.reset()
		s.spare = b
	}()
	return s.write(b)
}

// write encodes b and writes it, line by line.
func (s *sink) write(b *buffer) error {
	var errs []error
	if len(b.dropped) > 0 {
		for _, d := range slices.SortedFunc(maps.Keys(b.dropped), func(a, b drop) int {
			return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.why, b.why))
		}) {
			errs = append(errs, fmt.Errorf("drop metric %q: %s", d.name, d.why))
		}
	}
	if b.more > 0 {
		errs = append(errs, fmt.Errorf("drop %d more metrics", b.more))
	}

	s.keys = s.keys[:0]
	for key, g := range b.groups {
		if g.recorded() {
			s.keys = append(s.keys, key)
		}
	}
	if len(s.keys) == 0 {
		return errors.Join(errs...)
	}
	if s.nsErr != nil {
		return errors.Join(append(errs, s.nsErr)...)
	}
	slices.Sort(s.keys)

	ts := s.now().UnixMilli()
	for _, key := range s.keys {
		g := b.groups[key]
		items := s.items[:0]
		for name, sum := range g.counts {
			if math.IsInf(sum, 0) {
				errs = append(errs, fmt.Errorf("drop metric %q: sum overflows", name))
				continue
			}
			items = append(items, series{name: name, unit: UnitCount, sum: sum})
		}
		for name, vs := range g.durs {
			if len(vs) > 0 {
				items = append(items, series{name: name, unit: UnitMilliseconds, values: vs})
			}
		}
		slices.SortFunc(items, func(a, b series) int {
			return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.unit, b.unit))
		})
		for len(items) > 0 {
			s.picked = pick(s.picked[:0], items, lineBase(s.namespace, g.dims))
			s.out = appendLine(s.out[:0], s.namespace, ts, g.dims, items, s.picked)
			if _, err := s.w.Write(s.out); err != nil {
				clear(items)
				s.items = items[:0]
				return errors.Join(append(errs, fmt.Errorf("write line: %w", err))...)
			}
			items = advance(items, s.picked)
		}
		s.items = items
	}
	return errors.Join(errs...)
}

// pick chooses the metrics of the next line from items (sorted by name):
// at most maxMetrics, no name twice — a count and a duration may share a
// name, but not a line, where the name is one JSON member — and no more
// than fit in maxLineBytes given base, the size of the rest of the line.
func pick(picked []int, items []series, base int) []int {
	size := base
	for i := range items {
		if len(picked) == maxMetrics {
			break
		}
		m := &items[i]
		if len(picked) > 0 && items[picked[len(picked)-1]].name == m.name {
			continue
		}
		cost := metricBytes(m)
		if len(picked) > 0 && size+cost > maxLineBytes {
			break
		}
		size += cost
		picked = append(picked, i)
	}
	return picked
}

// Upper bounds of encoded sizes, so that pick can keep a line under
// maxLineBytes without encoding twice. A quoted string is at most twice
// its length plus quotes, as only '"' and '\\' are escaped in printable
// ASCII; a float64 is at most 24 characters, plus a comma.
func quotedBytes(s string) int { return 2*len(s) + 2 }

const floatBytes = 25

func metricBytes(m *series) int {
	// The member `"name":value,` and the definition
	// `{"Name":"name","Unit":"Milliseconds"},`.
	n := 2*quotedBytes(m.name) + len(`:,{"Name":,"Unit":"Milliseconds"},`)
	if m.isCount() {
		return n + floatBytes
	}
	return n + 2 + m.chunk()*floatBytes
}

func lineBase(ns string, ds []Dim) int {
	n := len(`{"_aws":{"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[],"Namespace":}],"Timestamp":-9223372036854775808}}`+"\n") + quotedBytes(ns)
	for _, d := range ds {
		// `"name":"value",` and `"name",` in the dimension set.
		n += 2*quotedBytes(d.Name) + quotedBytes(d.Value) + 3
	}
	return n
}

// advance drops from items what the line of picked wrote: counts, and
// durations with no value left.
func advance(items []series, picked []int) []series {
	for _, i := range picked {
		m := &items[i]
		if m.isCount() {
			m.unit = "" // marks it written
			continue
		}
		m.values = m.values[m.chunk():]
	}
	return slices.DeleteFunc(items, func(m series) bool {
		return m.unit == "" || (m.unit == UnitMilliseconds && len(m.values) == 0)
	})
}

// appendLine encodes one EMF document and a newline. Members of every
// object are in byte order of their keys, as encoding/json orders a map's,
// so a line is the same whatever the order of recording.
func appendLine(b []byte, ns string, ts int64, ds []Dim, items []series, picked []int) []byte {
	b = append(b, '{')
	i, j, aws := 0, 0, false
	for n := 0; i < len(ds) || j < len(picked) || !aws; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		const none, isDim, isMetric, isAWS = 0, 1, 2, 3
		kind, key := none, ""
		if i < len(ds) {
			kind, key = isDim, ds[i].Name
		}
		if j < len(picked) && (kind == none || items[picked[j]].name < key) {
			kind, key = isMetric, items[picked[j]].name
		}
		if !aws && (kind == none || awsKey < key) {
			kind = isAWS
		}
		switch kind {
		case isDim:
			b = appendString(b, ds[i].Name)
			b = append(b, ':')
			b = appendString(b, ds[i].Value)
			i++
		case isMetric:
			m := &items[picked[j]]
			b = appendString(b, m.name)
			b = append(b, ':')
			if m.isCount() {
				b = appendFloat(b, m.sum)
			} else {
				b = append(b, '[')
				for k, v := range m.values[:m.chunk()] {
					if k > 0 {
						b = append(b, ',')
					}
					b = appendFloat(b, v)
				}
				b = append(b, ']')
			}
			j++
		case isAWS:
			b = appendMetadata(b, ns, ts, ds, items, picked)
			aws = true
		}
	}
	return append(b, '}', '\n')
}

func appendMetadata(b []byte, ns string, ts int64, ds []Dim, items []series, picked []int) []byte {
	b = append(b, `"_aws":{"CloudWatchMetrics":[{"Dimensions":[[`...)
	for k, d := range ds {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, d.Name)
	}
	b = append(b, `]],"Metrics":[`...)
	for k, i := range picked {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendString(b, items[i].name)
		b = append(b, `,"Unit":`...)
		b = appendString(b, items[i].unit)
		b = append(b, '}')
	}
	b = append(b, `],"Namespace":`...)
	b = appendString(b, ns)
	b = append(b, `}],"Timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, '}')
}

// appendString quotes s as a JSON string. Every string reaching it has
// been checked to be printable ASCII, so only '"' and '\\' need escaping;
// control characters are escaped anyway, as the cost is one comparison.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // of the run not yet appended, copied whole: most strings have nothing to escape
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		if c < 0x20 {
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, '\\', c)
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat formats a finite float64 as encoding/json does — the
// shortest representation, in exponent form only below 1e-6 or from
// 1e21 — so that lines read like any other JSON log stakeout writes.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Turn e-07 into e-7, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
