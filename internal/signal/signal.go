// Package signal is the measurement a monitor sends to stakeout: the native
// "ML Model Signal" event detail, the EventBridge envelope around it, and the
// adapters that turn other real events (CloudWatch alarm state changes:
// single-metric, composite and multi-time-series alarms and their
// contributors) into the same shape. The version timeline's events (a Model
// Registry package's state change, the native "ML Model Version Deployed")
// are read here too, as VersionChange entries rather than signals.
// Decoding errors name the field and,
// for broken JSON, the line and column, because the person reading them is
// debugging a monitor.
package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
)

// DetailType is the EventBridge detail-type of native events.
const DetailType = "ML Model Signal"

// Kinds are the measurement kinds a signal may carry.
var Kinds = []string{"drift", "prediction", "quality", "data_quality", "freshness", "schema", "fairness", "operational"}

// ValidKind reports whether k is one of Kinds.
func ValidKind(k string) bool { return slices.Contains(Kinds, k) }

// Event is one measurement of one series of one model. Optional fields that
// can legitimately be zero are pointers so "absent" and "zero" differ: a rule
// that uses baseline must not fire on an event that has none.
type Event struct {
	Model       string            `json:"model"`
	Kind        string            `json:"kind"`
	Metric      string            `json:"metric"`
	Value       float64           `json:"value"`
	ObservedAt  time.Time         `json:"observed_at"`
	Version     string            `json:"version,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Baseline    *float64          `json:"baseline,omitempty"`
	Feature     string            `json:"feature,omitempty"`
	Segment     string            `json:"segment,omitempty"`
	SampleSize  *int64            `json:"sample_size,omitempty"`
	WindowStart *time.Time        `json:"window_start,omitempty"`
	WindowEnd   *time.Time        `json:"window_end,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Lineage     map[string]any    `json:"lineage,omitempty"`
	// Mute is set when the source muted the alarm behind the event (a
	// CloudWatch alarm mute rule): no native detail carries it.
	Mute *Mute `json:"mute,omitempty"`
	// Cleared, when set, says why the event is a state rather than a
	// measurement: the source says the series is back to normal and gave
	// no value (a multi-time-series alarm's contributor in OK with no
	// datapoint). Value is then 0 and means nothing: no rule evaluates
	// it, every rule of the series is clear (engine.Observe) and the
	// history does not keep it. No native detail carries it.
	Cleared string `json:"-"`
}

// Mute is a mute the event's source applied: who muted it (a CloudWatch
// alarm mute rule's ARN) and the window it mutes.
type Mute struct {
	By    string    `json:"by"`
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end"`
}

// Active reports whether the mute covers t.
func (m *Mute) Active(t time.Time) bool {
	return m != nil && !t.Before(m.Start) && t.Before(m.End)
}

// SeriesKey identifies the series the event belongs to: one (model, kind,
// metric, feature, segment).
type SeriesKey struct {
	Model, Kind, Metric, Feature, Segment string
}

// Series returns the key of the event's series.
func (e *Event) Series() SeriesKey {
	return SeriesKey{e.Model, e.Kind, e.Metric, e.Feature, e.Segment}
}

// ID renders the key unambiguously, for storage: every part escaped, every
// part present, so that no two keys share an ID (feature "x" with segment
// "y" is not feature "x/segment=y").
func (k SeriesKey) ID() string {
	parts := []string{k.Model, k.Kind, k.Metric, k.Feature, k.Segment}
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// String renders the key as model/kind/metric[/feature][/segment].
func (k SeriesKey) String() string {
	s := k.Model + "/" + k.Kind + "/" + k.Metric
	if k.Feature != "" {
		s += "/feature=" + k.Feature
	}
	if k.Segment != "" {
		s += "/segment=" + k.Segment
	}
	return s
}

// wire mirrors Event with every field optional so that presence can be
// checked after decoding (a zero value is a valid measurement).
type wire struct {
	Model       *string           `json:"model"`
	Kind        *string           `json:"kind"`
	Metric      *string           `json:"metric"`
	Value       *float64          `json:"value"`
	ObservedAt  *string           `json:"observed_at"`
	Version     string            `json:"version"`
	Environment string            `json:"environment"`
	Baseline    *float64          `json:"baseline"`
	Feature     string            `json:"feature"`
	Segment     string            `json:"segment"`
	SampleSize  *int64            `json:"sample_size"`
	WindowStart *string           `json:"window_start"`
	WindowEnd   *string           `json:"window_end"`
	Labels      map[string]string `json:"labels"`
	Lineage     map[string]any    `json:"lineage"`
}

// FieldNames are the detail's fields by their JSON names, in the order the
// brief lists them (the expression package indexes them in this order).
var FieldNames = [...]string{"model", "kind", "metric", "value", "observed_at", "version", "environment", "baseline",
	"feature", "segment", "sample_size", "window_start", "window_end", "labels", "lineage"}

// DecodeDetail decodes a native event detail. When requireModel is false
// (test cases in a rules file, where the file names the model) the model may
// be absent. Unknown fields are ignored, so monitors can send more than
// stakeout reads; they are named in the error when a required field is
// missing, since a typo is the usual cause.
func DecodeDetail(data []byte, requireModel bool) (Event, error) {
	if err := sizeError(data); err != nil {
		return Event{}, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' {
		var v any
		if err := json.Unmarshal(t, &v); err != nil {
			return Event{}, jsonError(data, err)
		}
		return Event{}, fmt.Errorf("want a JSON object, got %s", jsonKind(v))
	}
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return Event{}, jsonError(data, err)
	}
	return w.event(func() []byte { return data }, requireModel)
}

// event checks a decoded detail and converts it; data returns the detail's
// JSON, read again only to name unknown fields when a required one is
// missing (the rare, slow path).
func (w *wire) event(data func() []byte, requireModel bool) (Event, error) {
	var missing []string
	req := func(name string, present bool) {
		if !present {
			missing = append(missing, name)
		}
	}
	if requireModel {
		req("model", w.Model != nil && *w.Model != "")
	}
	req("kind", w.Kind != nil && *w.Kind != "")
	req("metric", w.Metric != nil && *w.Metric != "")
	req("value", w.Value != nil)
	req("observed_at", w.ObservedAt != nil && *w.ObservedAt != "")
	if len(missing) > 0 {
		msg := "missing required field " + strings.Join(quoteAll(missing), ", ")
		if unknown := unknownFields(data()); len(unknown) > 0 {
			msg += " (unknown field " + strings.Join(quoteAll(unknown), ", ") + " present: a typo?)"
		}
		return Event{}, errors.New(msg)
	}
	ev := Event{
		Kind: *w.Kind, Metric: *w.Metric, Value: *w.Value,
		Version: w.Version, Environment: w.Environment, Baseline: w.Baseline,
		Feature: w.Feature, Segment: w.Segment, SampleSize: w.SampleSize,
		Labels: w.Labels, Lineage: w.Lineage,
	}
	if w.Model != nil {
		ev.Model = *w.Model
	}
	var err error
	if ev.ObservedAt, err = parseTime("observed_at", *w.ObservedAt); err != nil {
		return Event{}, err
	}
	if w.WindowStart != nil {
		t, err := parseTime("window_start", *w.WindowStart)
		if err != nil {
			return Event{}, err
		}
		ev.WindowStart = &t
	}
	if w.WindowEnd != nil {
		t, err := parseTime("window_end", *w.WindowEnd)
		if err != nil {
			return Event{}, err
		}
		ev.WindowEnd = &t
	}
	return ev, ev.Check()
}

// Check validates the values of a decoded event (also one built by an
// adapter): known kind, finite numbers, times no earlier than Earliest, a
// consistent window.
func (e *Event) Check() error {
	if !ValidKind(e.Kind) {
		return fieldErr("kind", "unknown kind %q (want one of %s)", e.Kind, strings.Join(Kinds, ", "))
	}
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
		return fieldErr("value", "%v is not a finite number", e.Value)
	}
	if e.Baseline != nil && (math.IsNaN(*e.Baseline) || math.IsInf(*e.Baseline, 0)) {
		return fieldErr("baseline", "%v is not a finite number", *e.Baseline)
	}
	if e.SampleSize != nil && *e.SampleSize < 0 {
		return fieldErr("sample_size", "%d is negative", *e.SampleSize)
	}
	if err := e.checkEarliest(); err != nil {
		return err
	}
	if e.WindowStart != nil && e.WindowEnd != nil && e.WindowEnd.Before(*e.WindowStart) {
		return fieldErr("window_end", "%s is before window_start %s",
			e.WindowEnd.Format(time.RFC3339), e.WindowStart.Format(time.RFC3339))
	}
	return nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not an RFC 3339 time (like 2026-03-01T00:00:00Z)", s)
	}
	return t, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func unknownFields(data []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	for k := range m {
		if !slices.Contains(FieldNames[:], k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// jsonError turns encoding/json errors into messages that say where the
// problem is: line and column for syntax errors, the field and the expected
// type for type errors.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		// Offset counts the offending byte itself: point at it, not after.
		line, col := lineCol(data, syn.Offset-1)
		return fmt.Errorf("malformed JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(syn.Error(), "json: "))
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := publicPath(typ.Field)
		if field == "" {
			return fmt.Errorf("want a JSON object, got %s", article(typ.Value))
		}
		want := typeName(typ.Type)
		// encoding/json says "number 1.5" for a number that does not fit.
		if num, ok := strings.CutPrefix(typ.Value, "number "); ok {
			if want == "a whole number" {
				return fieldErr(field, "%s is not a whole number", num)
			}
			return fieldErr(field, "%s is out of range", num)
		}
		return fieldErr(field, "got %s, want %s", article(typ.Value), want)
	}
	if strings.Contains(err.Error(), "unexpected end of JSON input") {
		line, col := lineCol(data, int64(len(data)))
		return fmt.Errorf("malformed JSON at line %d, column %d: unexpected end of input (truncated?)", line, col)
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

func article(jsonType string) string {
	switch jsonType {
	case "object", "array":
		return "an " + jsonType
	case "string", "number", "bool":
		return "a " + jsonType
	}
	return jsonType
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	if col < 1 {
		col = 1
	}
	return line, col
}

// FieldError is a problem with one field of an event.
type FieldError struct {
	Field string
	Msg   string
	// Err, when set, names the kind of problem (ErrTooEarly, ErrFuture).
	Err error
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Msg) }

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// publicPath drops the names of embedded Go structs that encoding/json puts
// in a field path ("detail.wire.value" → "detail.value").
func publicPath(field string) string {
	parts := strings.Split(field, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "wire" && p != "AlarmStateChange" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}
