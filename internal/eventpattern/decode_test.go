package eventpattern

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stdDecode is the reference: encoding/json with UseNumber, one value.
func stdDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return v, nil
}

// decodeSeeds are tricky inputs for the decoder tests and the fuzz corpus.
var decodeSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `-0.0e-0`, `1E+2`, `true`, `null`, ` {"a" : [ 1 , 2 ] } `,
	`{"a":"\u00e9\"\\\/\b\f\n\r\t"}`, `{"\u0061":"x"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\xfe\"}", "{\"\xff\":\"x\"}", "{\"a\":\"caf\xc3\xa9\"}",
	`{"a":1,"a":2}`, `{"a":{"b":{"c":[[[{"d":null}]]]}}}`,
	// invalid
	``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{a:1}`, `{"a":01}`, `{"a":1.}`,
	`{"a":.5}`, `{"a":-}`, `{"a":+1}`, `{"a":1e}`, `{"a":1e+}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":"x`, `{} {}`, `{}x`, `"a`, `[`, `]`, `nan`, `{"a":[}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200),
}

func TestDecodeLikeEncodingJSON(t *testing.T) {
	inputs := decodeSeeds
	files, _ := filepath.Glob("../../testdata/events/*/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		checkDecode(t, []byte(in))
	}
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := stdDecode(data)
	got, err := decodeJSON(data, allShape)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decodeJSON(%.80q) error = %v, encoding/json error = %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON(%.80q) = %#v, encoding/json = %#v", data, got, want)
	}
}

// fuzzPatterns cover leaves, nested objects, arrays and $or, for checking
// that decoding only what a pattern reads does not change its result.
var fuzzPatterns = []string{
	`{"a": ["x", 1, true, null]}`,
	`{"a": {"b": [{"exists": false}]}}`,
	`{"a": {"b": [{"exists": true}], "c": [{"anything-but": "y"}]}}`,
	`{"$or": [{"a": [{"prefix": "x"}]}, {"a": {"b": [{"numeric": [">", 0]}]}}]}`,
	`{"a": [{"exists": false}], "b": {"$or": [{"c": ["z"]}, {"d": [{"suffix": "q"}]}]}}`,
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{ec2Event, autoScalingEvent, macieEvent, rulerEvent,
		`{"a": [{"b": 1}, {"c": "y"}], "b": {"c": "z"}}`, `{"a": {"b": [], "c": {"x": 1}}}`} {
		f.Add([]byte(s))
	}
	patterns := make([]*Pattern, len(fuzzPatterns))
	for i, s := range fuzzPatterns {
		p, err := Compile([]byte(s))
		if err != nil {
			f.Fatal(err)
		}
		patterns[i] = p
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		full, err := stdDecode(data)
		m, isObject := full.(map[string]any)
		if err != nil || !isObject {
			return
		}
		for i, p := range patterns {
			want := p.root.match(m)
			got, err := p.Match(data)
			if err != nil || got != want {
				t.Fatalf("pattern %s: Match(%q) = %v, %v, want %v (matching the full decode)", fuzzPatterns[i], data, got, err, want)
			}
		}
	})
}

func TestMatchEscapedEvent(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"escaped key matches", `{"detail-type": ["ML Model Signal"]}`, `{"detail\u002dtype": "ML Model Signal"}`, true},
		{"escaped value matches", `{"s": ["caf\u00e9 \"x\""]}`, `{"s": "café \"x\""}`, true},
		{"non-ASCII value matches", `{"s": [{"prefix": "café"}]}`, `{"s": "café au lait"}`, true},
		{"same key as leaf and nested in $or", `{"$or": [{"a": ["x"]}, {"a": {"b": ["y"]}}]}`, `{"a": {"b": "y"}}`, true},
		{"same key as leaf and nested in $or, leaf side", `{"$or": [{"a": ["x"]}, {"a": {"b": ["y"]}}]}`, `{"a": ["w", "x"]}`, true},
		{"skipped fields are still validated", `{"a": ["x"]}`, `{"a": "x", "b": {"c": [1, 2, {"d": "\u00e9"}]}}`, true},
	})
}
