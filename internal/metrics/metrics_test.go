package metrics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

const namespace = "Stakeout"

var t0 = time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC)

func clock() time.Time { return t0 }

// newRecorder records for the router function into a buffer, at t0.
func newRecorder() (*metrics.Recorder, *bytes.Buffer) {
	var buf bytes.Buffer
	return metrics.New(&buf, namespace, clock).With(map[string]string{"Function": "router"}), &buf
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func emfSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		abs, err := filepath.Abs("testdata/emf.schema.json")
		if err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = jsonschema.NewCompiler().Compile(abs)
	})
	if schemaErr != nil {
		t.Fatalf("compile EMF schema: %v", schemaErr)
	}
	return schema
}

// emfLine is one written line, decoded after checkLine found it conforms.
type emfLine struct {
	Dims    map[string]string
	Metrics []emfMetric // in the directive's order
}

type emfMetric struct {
	Name, Unit string
	Values     []float64 // one for a plain number
}

// parse checks every line of out against the specification and decodes it.
func parse(t *testing.T, out string) []emfLine {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	var lines []emfLine
	for raw := range strings.SplitAfterSeq(out, "\n") {
		if raw != "" {
			lines = append(lines, checkLine(t, raw))
		}
	}
	return lines
}

// checkLine fails t unless raw is one EMF document as the specification
// requires it: valid against the schema, every dimension key and metric
// name a member of the root with a string or numeric value, the injected
// time and the namespace in the metadata. It also checks what the
// Recorder promises beyond the specification: keys in byte order and
// encoding/json's formatting, so lines can be compared as text; a line no
// longer than Lambda's 256 KB log event.
func checkLine(t *testing.T, raw string) emfLine {
	t.Helper()
	if len(raw) > 256<<10 {
		t.Errorf("line is %d bytes, want at most 256 KiB", len(raw))
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, raw)
	}
	if err := emfSchema(t).Validate(inst); err != nil {
		t.Fatalf("line does not match the EMF schema: %v\n%.2000s", err, raw)
	}

	var root map[string]any
	if err := json.Unmarshal([]byte(raw), &root); err != nil {
		t.Fatal(err)
	}
	var canon bytes.Buffer
	enc := json.NewEncoder(&canon)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		t.Fatal(err)
	}
	if canon.String() != raw {
		t.Errorf("line is not in canonical form (sorted keys, encoding/json numbers):\n got %.500s\nwant %.500s", raw, canon.String())
	}

	aws := root["_aws"].(map[string]any)
	if got, want := aws["Timestamp"].(float64), float64(t0.UnixMilli()); got != want {
		t.Errorf("_aws.Timestamp = %v, want %v (the injected time in ms)", got, want)
	}
	directives := aws["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("%d metric directives, want 1", len(directives))
	}
	d := directives[0].(map[string]any)
	if got := d["Namespace"]; got != namespace {
		t.Errorf("Namespace = %v, want %s", got, namespace)
	}
	var line emfLine
	sets := d["Dimensions"].([]any)
	if len(sets) != 1 {
		t.Fatalf("%d dimension sets, want 1", len(sets))
	}
	line.Dims = map[string]string{}
	for _, k := range sets[0].([]any) {
		name := k.(string)
		v, ok := root[name].(string)
		if !ok {
			t.Errorf("dimension %q: root member is %#v, want a string", name, root[name])
		}
		line.Dims[name] = v
	}
	seen := map[string]bool{}
	for _, def := range d["Metrics"].([]any) {
		def := def.(map[string]any)
		m := emfMetric{Name: def["Name"].(string), Unit: def["Unit"].(string)}
		if seen[m.Name] {
			t.Errorf("metric %q defined twice in one directive", m.Name)
		}
		seen[m.Name] = true
		switch v := root[m.Name].(type) {
		case float64:
			m.Values = []float64{v}
		case []any:
			for _, x := range v {
				m.Values = append(m.Values, x.(float64))
			}
		default:
			t.Errorf("metric %q: root member is %#v, want a number or an array of numbers", m.Name, root[m.Name])
		}
		line.Metrics = append(line.Metrics, m)
	}
	return line
}

// points sums up out as "Name Unit Dim=value,..." → values, in the order
// written, so that tests can state what CloudWatch ends up with.
func points(t *testing.T, out string) map[string][]float64 {
	t.Helper()
	got := map[string][]float64{}
	for _, l := range parse(t, out) {
		var dims []string
		for _, k := range slices.Sorted(maps.Keys(l.Dims)) {
			dims = append(dims, k+"="+l.Dims[k])
		}
		for _, m := range l.Metrics {
			key := m.Name + " " + m.Unit + " " + strings.Join(dims, ",")
			got[key] = append(got[key], m.Values...)
		}
	}
	return got
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name   string
		record func(r *metrics.Recorder)
		want   map[string][]float64
	}{
		{
			name: "counts with the same name and dimensions are summed",
			record: func(r *metrics.Recorder) {
				r.Count("EventsRouted", 1)
				r.Count("EventsRouted", 2)
				r.Count("EventsRouted", 0.5)
			},
			want: map[string][]float64{"EventsRouted Count Function=router": {3.5}},
		},
		{
			name: "a zero count is still written",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 0)
			},
			want: map[string][]float64{"AlertsOpened Count Function=router": {0}},
		},
		{
			name: "tiny, huge and negative values are written as JSON numbers",
			record: func(r *metrics.Recorder) {
				r.Count("Tiny", 1e-7)
				r.Count("Huge", 1e21)
				r.Count("Negative", -2.5e-9)
				r.Milliseconds("Nanosecond", time.Nanosecond)
				r.Milliseconds("Skew", -3*time.Millisecond)
			},
			want: map[string][]float64{
				"Tiny Count Function=router":              {1e-7},
				"Huge Count Function=router":              {1e21},
				"Negative Count Function=router":          {-2.5e-9},
				"Nanosecond Milliseconds Function=router": {1e-6},
				"Skew Milliseconds Function=router":       {-3},
			},
		},
		{
			name: "counts under different dimensions stay apart",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "Model", "credit-approval")
				r.Count("AlertsOpened", 1, "Model", "fraud")
				r.Count("AlertsOpened", 1)
			},
			want: map[string][]float64{
				"AlertsOpened Count Function=router":                       {1},
				"AlertsOpened Count Function=router,Model=credit-approval": {1},
				"AlertsOpened Count Function=router,Model=fraud":           {1},
			},
		},
		{
			name: "extra dimensions in any order are one set",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "Model", "credit-approval", "Owner", "credit-ds")
				r.Count("AlertsOpened", 1, "Owner", "credit-ds", "Model", "credit-approval")
			},
			want: map[string][]float64{"AlertsOpened Count Function=router,Model=credit-approval,Owner=credit-ds": {2}},
		},
		{
			name: "durations keep every value in order",
			record: func(r *metrics.Recorder) {
				r.Milliseconds("RouteLatency", 12500*time.Microsecond)
				r.Milliseconds("RouteLatency", 3*time.Millisecond)
				r.Milliseconds("RouteLatency", 1500*time.Nanosecond)
				r.Milliseconds("RouteLatency", 2*time.Second)
			},
			want: map[string][]float64{"RouteLatency Milliseconds Function=router": {12.5, 3, 0.0015, 2000}},
		},
		{
			name: "a count and a duration may share a name",
			record: func(r *metrics.Recorder) {
				r.Count("Deliver", 1)
				r.Milliseconds("Deliver", 40*time.Millisecond)
			},
			want: map[string][]float64{
				"Deliver Count Function=router":        {1},
				"Deliver Milliseconds Function=router": {40},
			},
		},
		{
			name: "a dimension given with a metric overrides the recorder's",
			record: func(r *metrics.Recorder) {
				r.Count("EventsRouted", 1, "Function", "replay")
			},
			want: map[string][]float64{"EventsRouted Count Function=replay": {1}},
		},
		{
			name: "dimension values may hold JSON's special characters",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "Rule", `psi > 0.2 && "segment" \ <all>`)
			},
			want: map[string][]float64{`AlertsOpened Count Function=router,Rule=psi > 0.2 && "segment" \ <all>`: {1}},
		},
		{
			name: "an odd number of dimension strings is recorded under InvalidDimensions",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "Model", "credit-approval", "Owner")
			},
			want: map[string][]float64{"AlertsOpened Count Function=router,InvalidDimensions=OddArguments": {1}},
		},
		{
			name: "an empty dimension value is recorded under InvalidDimensions",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "Model", "")
				r.Milliseconds("RouteLatency", time.Millisecond, "Model", "  ")
			},
			want: map[string][]float64{
				"AlertsOpened Count Function=router,InvalidDimensions=BadValue":        {1},
				"RouteLatency Milliseconds Function=router,InvalidDimensions=BadValue": {1},
			},
		},
		{
			name: "a non-ASCII or overlong dimension value is recorded under InvalidDimensions",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "Model", "crédit")
				r.Count("AlertsOpened", 1, "Model", strings.Repeat("m", 1025))
				r.Count("AlertsOpened", 1, "Model", strings.Repeat("m", 1024))
			},
			want: map[string][]float64{
				"AlertsOpened Count Function=router,InvalidDimensions=BadValue":         {2},
				"AlertsOpened Count Function=router,Model=" + strings.Repeat("m", 1024): {1},
			},
		},
		{
			name: "a bad or reserved dimension name is recorded under InvalidDimensions",
			record: func(r *metrics.Recorder) {
				r.Count("AlertsOpened", 1, "", "x")
				r.Count("AlertsOpened", 1, ":Model", "x")
				r.Count("AlertsOpened", 1, "_aws", "x")
				r.Count("AlertsOpened", 1, metrics.InvalidDimensions, "x")
				r.Count("AlertsOpened", 1, strings.Repeat("n", 256), "x")
			},
			want: map[string][]float64{"AlertsOpened Count Function=router,InvalidDimensions=BadName": {5}},
		},
		{
			name: "more than 30 dimensions are recorded under InvalidDimensions",
			record: func(r *metrics.Recorder) {
				r.Count("Wide", 1, pairs(29)...) // 30 with Function
				r.Count("TooWide", 1, pairs(30)...)
			},
			want: map[string][]float64{
				"Wide Count " + joinPairs(29) + ",Function=router":        {1},
				"TooWide Count Function=router,InvalidDimensions=TooMany": {1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, buf := newRecorder()
			tt.record(r)
			if err := r.Flush(); err != nil {
				t.Fatalf("Flush() = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, points(t, buf.String())); diff != "" {
				t.Errorf("written metrics (-want +got):\n%s", diff)
			}
		})
	}
}

// pairs returns n dimension name/value pairs D00=v, D01=v, ...
func pairs(n int) []string {
	var p []string
	for i := range n {
		p = append(p, fmt.Sprintf("D%02d", i), "v")
	}
	return p
}

func joinPairs(n int) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("D%02d=v", i))
	}
	return strings.Join(s, ",")
}

func TestWith(t *testing.T) {
	t.Run("children share the buffer of their parent", func(t *testing.T) {
		var buf bytes.Buffer
		root := metrics.New(&buf, namespace, clock)
		router := root.With(map[string]string{"Function": "router"})
		stage := router.With(map[string]string{"Stage": "route"})
		root.Count("Invocations", 1)
		router.Count("Invocations", 1)
		stage.Milliseconds("Latency", 5*time.Millisecond)
		if err := stage.Flush(); err != nil {
			t.Fatal(err)
		}
		want := map[string][]float64{
			"Invocations Count ":                               {1},
			"Invocations Count Function=router":                {1},
			"Latency Milliseconds Function=router,Stage=route": {5},
		}
		if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
			t.Errorf("written metrics (-want +got):\n%s", diff)
		}
		buf.Reset()
		if err := root.Flush(); err != nil || buf.Len() != 0 {
			t.Errorf("root.Flush() after stage.Flush() = %v and wrote %q, want nil and nothing", err, buf.String())
		}
	})
	t.Run("a recorder without dimensions writes an empty dimension set", func(t *testing.T) {
		var buf bytes.Buffer
		r := metrics.New(&buf, namespace, clock)
		r.Count("Invocations", 1)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"Dimensions":[[]]`) {
			t.Errorf("line = %s, want Dimensions [[]]", buf.String())
		}
		parse(t, buf.String())
	})
	t.Run("a later value replaces the parent's", func(t *testing.T) {
		r, buf := newRecorder()
		r.With(map[string]string{"Function": "replay"}).Count("EventsRouted", 1)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		want := map[string][]float64{"EventsRouted Count Function=replay": {1}}
		if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
			t.Errorf("written metrics (-want +got):\n%s", diff)
		}
	})
	t.Run("invalid dimensions give a child marked InvalidDimensions", func(t *testing.T) {
		r, buf := newRecorder()
		r.With(map[string]string{"Model": ""}).Count("A", 1)
		r.With(map[string]string{"Model": "m"}).With(map[string]string{":x": "y"}).Count("B", 1)
		wide := map[string]string{}
		for i := range 28 {
			wide[fmt.Sprintf("D%02d", i)] = "v"
		}
		r.With(wide).Count("C", 1) // 29 with Function: allowed
		wide["D28"] = "v"
		tooWide := r.With(wide) // 30: one over With's limit
		tooWide.Count("D", 1)
		tooWide.Count("E", 1, "Model", "") // the marker replaces, never adds
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		want := map[string][]float64{
			"A Count Function=router,InvalidDimensions=BadValue":        {1},
			"B Count Function=router,InvalidDimensions=BadName,Model=m": {1},
			"C Count " + joinPairs(28) + ",Function=router":             {1},
			"D Count Function=router,InvalidDimensions=TooMany":         {1},
			"E Count Function=router,InvalidDimensions=BadValue":        {1},
		}
		if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
			t.Errorf("written metrics (-want +got):\n%s", diff)
		}
	})
}

func TestFlush(t *testing.T) {
	t.Run("nothing recorded writes nothing", func(t *testing.T) {
		r, buf := newRecorder()
		if err := r.Flush(); err != nil || buf.Len() != 0 {
			t.Errorf("Flush() = %v and wrote %q, want nil and nothing", err, buf.String())
		}
	})
	t.Run("a flush empties the buffer", func(t *testing.T) {
		r, buf := newRecorder()
		r.Count("EventsRouted", 1)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if err := r.Flush(); err != nil || buf.Len() != 0 {
			t.Errorf("second Flush() = %v and wrote %q, want nil and nothing", err, buf.String())
		}
		r.Count("EventsRouted", 1)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		want := map[string][]float64{"EventsRouted Count Function=router": {1}}
		if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
			t.Errorf("after a flush, counts start again (-want +got):\n%s", diff)
		}
	})
	t.Run("each flush writes only what was recorded since the last", func(t *testing.T) {
		r, buf := newRecorder()
		cycles := []struct {
			record func()
			want   map[string][]float64
		}{
			{
				record: func() {
					r.Count("A", 1)
					r.Milliseconds("L", time.Millisecond, "Stage", "route")
				},
				want: map[string][]float64{
					"A Count Function=router":                    {1},
					"L Milliseconds Function=router,Stage=route": {1},
				},
			},
			{
				record: func() { r.Count("B", 2) },
				want:   map[string][]float64{"B Count Function=router": {2}},
			},
			{
				record: func() {
					r.Count("A", 3)
					r.Milliseconds("L", 2*time.Millisecond, "Stage", "route")
				},
				want: map[string][]float64{
					"A Count Function=router":                    {3},
					"L Milliseconds Function=router,Stage=route": {2},
				},
			},
			{
				record: func() {},
				want:   map[string][]float64{},
			},
		}
		for i, c := range cycles {
			buf.Reset()
			c.record()
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, points(t, buf.String())); diff != "" {
				t.Errorf("flush %d (-want +got):\n%s", i+1, diff)
			}
		}
	})
	t.Run("the timestamp is the clock's at flush", func(t *testing.T) {
		var buf bytes.Buffer
		now := t0.Add(-time.Minute)
		r := metrics.New(&buf, namespace, func() time.Time { return now })
		r.Count("EventsRouted", 1)
		now = t0.Add(999 * time.Microsecond) // truncated to the millisecond
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		parse(t, buf.String()) // checks Timestamp = t0 in ms
	})
	t.Run("lines are identical whatever the order of recording", func(t *testing.T) {
		record := func(order []int) string {
			r, buf := newRecorder()
			ops := []func(){
				func() { r.Count("B", 1, "Model", "m") },
				func() { r.Count("A", 2) },
				func() { r.Milliseconds("C", time.Millisecond) },
				func() { r.Count("A", 1, "Owner", "o") },
			}
			for _, i := range order {
				ops[i]()
			}
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
			return buf.String()
		}
		if a, b := record([]int{0, 1, 2, 3}), record([]int{3, 2, 1, 0}); a != b {
			t.Errorf("output depends on the order of recording:\n%s\nvs\n%s", a, b)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Run("more than 100 metrics are split across lines", func(t *testing.T) {
		r, buf := newRecorder()
		want := map[string][]float64{}
		for i := range 250 {
			name := fmt.Sprintf("M%03d", i)
			r.Count(name, float64(i))
			want[name+" Count Function=router"] = []float64{float64(i)}
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, l := range parse(t, buf.String()) {
			sizes = append(sizes, len(l.Metrics))
		}
		if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
			t.Errorf("metrics per line (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
			t.Errorf("written metrics (-want +got):\n%s", diff)
		}
	})
	t.Run("more than 100 values are split across lines in order", func(t *testing.T) {
		r, buf := newRecorder()
		var want []float64
		for i := range 250 {
			r.Milliseconds("Latency", time.Duration(i)*time.Millisecond)
			want = append(want, float64(i))
		}
		r.Count("Events", 250)
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, l := range parse(t, buf.String()) {
			for _, m := range l.Metrics {
				sizes = append(sizes, len(m.Values))
			}
		}
		// The count rides on the first line only.
		if diff := cmp.Diff([]int{1, 100, 100, 50}, sizes); diff != "" {
			t.Errorf("values per metric per line (-want +got):\n%s", diff)
		}
		got := points(t, buf.String())
		if diff := cmp.Diff(want, got["Latency Milliseconds Function=router"]); diff != "" {
			t.Errorf("Latency values (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]float64{250}, got["Events Count Function=router"]); diff != "" {
			t.Errorf("Events (-want +got):\n%s", diff)
		}
	})
	t.Run("lines stay under 256 KB", func(t *testing.T) {
		// 100 metrics with long names and 100 values each would be ~400 KB
		// in one line.
		r, buf := newRecorder()
		want := map[string][]float64{}
		for i := range 100 {
			name := fmt.Sprintf("%0250d", i)
			key := name + " Milliseconds Function=router"
			for j := range 100 {
				d := time.Duration(j)*time.Second + 123456789*time.Nanosecond
				r.Milliseconds(name, d)
				want[key] = append(want[key], float64(d)/float64(time.Millisecond))
			}
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		lines := parse(t, buf.String()) // checks the size of each
		if len(lines) < 2 {
			t.Errorf("%d lines of %d bytes, want the metrics split", len(lines), buf.Len())
		}
		if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
			t.Errorf("written metrics (-want +got):\n%s", diff)
		}
	})
}

func TestDropped(t *testing.T) {
	tests := []struct {
		name   string
		record func(r *metrics.Recorder)
		want   string // in Flush's error
	}{
		{
			name:   "an empty metric name is dropped",
			record: func(r *metrics.Recorder) { r.Count("", 1) },
			want:   `drop metric "": invalid name`,
		},
		{
			name:   "a metric name starting with a colon is dropped",
			record: func(r *metrics.Recorder) { r.Milliseconds(":Latency", time.Millisecond) },
			want:   `drop metric ":Latency": invalid name`,
		},
		{
			name:   "a non-ASCII metric name is dropped",
			record: func(r *metrics.Recorder) { r.Count("Alertes\u00e9", 1) },
			want:   `drop metric "Alertesé": invalid name`,
		},
		{
			name:   "a metric named _aws is dropped",
			record: func(r *metrics.Recorder) { r.Count("_aws", 1) },
			want:   `drop metric "_aws": invalid name`,
		},
		{
			name:   "a metric named like one of its dimensions is dropped",
			record: func(r *metrics.Recorder) { r.Count("Model", 1, "Model", "credit-approval") },
			want:   `drop metric "Model": name is also one of its dimensions`,
		},
		{
			name:   "a NaN count is dropped",
			record: func(r *metrics.Recorder) { r.Count("Score", math.NaN()) },
			want:   `drop metric "Score": value is not a finite number`,
		},
		{
			name: "a count that overflows is dropped",
			record: func(r *metrics.Recorder) {
				r.Count("Huge", math.MaxFloat64)
				r.Count("Huge", math.MaxFloat64)
			},
			want: `drop metric "Huge": sum overflows`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, buf := newRecorder()
			tt.record(r)
			r.Count("EventsRouted", 1)
			err := r.Flush()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Flush() = %v, want an error containing %s", err, tt.want)
			}
			want := map[string][]float64{"EventsRouted Count Function=router": {1}}
			if diff := cmp.Diff(want, points(t, buf.String())); diff != "" {
				t.Errorf("the other metrics are written regardless (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("repeated drops are reported once and bounded", func(t *testing.T) {
		r, _ := newRecorder()
		for i := range 1000 {
			r.Count("", 1)
			r.Count(":"+strconv.Itoa(i), 1)
		}
		err := r.Flush()
		if err == nil {
			t.Fatal("Flush() = nil, want an error")
		}
		if n := strings.Count(err.Error(), "\n") + 1; n > 20 {
			t.Errorf("Flush() error has %d lines, want a bounded report:\n%v", n, err)
		}
		if !strings.Contains(err.Error(), "more metrics") {
			t.Errorf("Flush() = %v, want it to say more were dropped", err)
		}
	})
}

func TestFlushErrors(t *testing.T) {
	t.Run("an invalid namespace writes nothing", func(t *testing.T) {
		for _, ns := range []string{"", " ", "AWS/Lambda", "stake*out", strings.Repeat("s", 256)} {
			var buf bytes.Buffer
			r := metrics.New(&buf, ns, clock)
			r.Count("EventsRouted", 1)
			err := r.Flush()
			if err == nil || !strings.Contains(err.Error(), "invalid namespace") {
				t.Errorf("namespace %q: Flush() = %v, want an invalid namespace error", ns, err)
			}
			if buf.Len() != 0 {
				t.Errorf("namespace %q: wrote %q, want nothing", ns, buf.String())
			}
		}
	})
	t.Run("a failed write is returned", func(t *testing.T) {
		errBroken := errors.New("broken pipe")
		r := metrics.New(failingWriter{errBroken}, namespace, clock)
		r.Count("EventsRouted", 1)
		if err := r.Flush(); !errors.Is(err, errBroken) {
			t.Errorf("Flush() = %v, want %v", err, errBroken)
		}
		if err := r.Flush(); err != nil {
			t.Errorf("Flush() after a failed one = %v, want nil: the buffer was emptied", err)
		}
	})
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestNilRecorder(t *testing.T) {
	t.Run("a nil recorder does nothing", func(t *testing.T) {
		var r *metrics.Recorder
		r.Count("EventsRouted", 1, "Model", "m")
		r.Milliseconds("Latency", time.Second)
		if c := r.With(map[string]string{"Function": "router"}); c != nil {
			t.Errorf("nil.With() = %v, want nil", c)
		}
		if err := r.Flush(); err != nil {
			t.Errorf("nil.Flush() = %v, want nil", err)
		}
	})
	t.Run("New without a writer returns a nil recorder", func(t *testing.T) {
		if r := metrics.New(nil, namespace, clock); r != nil {
			t.Errorf("New(nil, ...) = %v, want nil", r)
		}
	})
}

// Run with -race: recorders sharing a buffer record and flush from many
// goroutines, and every count and value is written exactly once.
func TestConcurrentUse(t *testing.T) {
	var buf bytes.Buffer
	root := metrics.New(&buf, namespace, clock)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := root.With(map[string]string{"Worker": strconv.Itoa(w % 2)})
			for i := range each {
				r.Count("Events", 1)
				r.Milliseconds("Latency", time.Millisecond, "Stage", "route")
				if i%100 == 0 {
					if err := r.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := root.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for k, vs := range points(t, buf.String()) {
		for _, v := range vs {
			got[k] += v
		}
	}
	n := float64(workers / 2 * each)
	want := map[string]float64{
		"Events Count Worker=0":                     n,
		"Events Count Worker=1":                     n,
		"Latency Milliseconds Stage=route,Worker=0": n,
		"Latency Milliseconds Stage=route,Worker=1": n,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("totals written (-want +got):\n%s", diff)
	}
}
