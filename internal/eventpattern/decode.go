package eventpattern

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// shape tells the decoder which parts of an event a pattern reads, so that it
// validates the whole event but builds values only for those parts. Decoded
// values are what encoding/json produces with UseNumber: objects as
// map[string]any, arrays as []any, numbers as json.Number, strings, bools and
// nil. A value with a shape is decoded; arrays pass their shape on to their
// elements; an object whose shape has no fields (a pattern leaf reads it, and
// objects are not leaves) becomes emptyObject.
type shape struct {
	// name is the field's key, reused for the decoded map.
	name string
	// all keeps every field below (for patterns, and to compare with
	// encoding/json in tests).
	all bool
	// fields are the keys that nested patterns read.
	fields map[string]*shape
}

// allShape decodes everything, like encoding/json.
var allShape = &shape{all: true}

// emptyObject stands for an object that no pattern looks into. It is shared
// and never modified.
var emptyObject = map[string]any{}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// addShape records the fields that o reads in fields.
func addShape(o *object, fields map[string]*shape) {
	for _, f := range o.fields {
		s := fields[f.name]
		if s == nil {
			s = &shape{name: f.name}
			fields[f.name] = s
		}
		if f.leaf != nil {
			continue
		}
		if s.fields == nil {
			s.fields = map[string]*shape{}
		}
		addShape(f.obj, s.fields)
	}
	for _, alt := range o.or {
		addShape(alt, fields)
	}
}

// decodeJSON decodes a JSON document (an event or a pattern), keeping what s
// asks for. Its errors are those of encoding/json.
func decodeJSON(data []byte, s *shape) (any, error) {
	d := decoder{data: data}
	v, err := d.value(s)
	if err == nil {
		d.skipSpace()
		if d.pos < len(d.data) {
			err = errors.New("data after the top-level value")
		}
	}
	if err != nil {
		// Slow path: let encoding/json describe the problem.
		if jerr := json.Unmarshal(data, new(any)); jerr != nil {
			return nil, jerr
		}
		return nil, err
	}
	return v, nil
}

var errSyntax = errors.New("invalid JSON")

type decoder struct {
	data  []byte
	pos   int
	depth int
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value reads any JSON value. s == nil skips it (returning nil).
func (d *decoder) value(s *shape) (any, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, errSyntax
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(s)
	case c == '[':
		return d.array(s)
	case c == '"':
		raw, plain, err := d.stringToken()
		if err != nil || s == nil {
			return nil, err
		}
		return unquote(raw, plain)
	case c == '-' || c >= '0' && c <= '9':
		start := d.pos
		if err := d.number(); err != nil || s == nil {
			return nil, err
		}
		return json.Number(d.data[start:d.pos]), nil
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, errSyntax
}

func (d *decoder) object(s *shape) (any, error) {
	d.depth++
	if d.depth > maxDepth {
		return nil, errSyntax
	}
	d.pos++ // '{'
	var m map[string]any
	if s != nil && (s.all || s.fields != nil) {
		m = map[string]any{}
	}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return d.objectResult(s, m), nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, errSyntax
		}
		raw, plain, err := d.stringToken()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, errSyntax
		}
		d.pos++
		var child *shape
		switch {
		case m == nil:
		case s.all:
			child = s
		case plain:
			child = s.fields[string(raw[1:len(raw)-1])]
		default:
			key, err := unquote(raw, false)
			if err != nil {
				return nil, err
			}
			child = s.fields[key.(string)]
		}
		v, err := d.value(child)
		if err != nil {
			return nil, err
		}
		switch {
		case child == nil:
		case !s.all:
			m[child.name] = v
		default:
			key, err := unquote(raw, plain)
			if err != nil {
				return nil, err
			}
			m[key.(string)] = v
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, errSyntax
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.depth--
			return d.objectResult(s, m), nil
		default:
			return nil, errSyntax
		}
	}
}

func (d *decoder) objectResult(s *shape, m map[string]any) any {
	switch {
	case s == nil:
		return nil
	case m == nil:
		return emptyObject
	}
	return m
}

func (d *decoder) array(s *shape) (any, error) {
	d.depth++
	if d.depth > maxDepth {
		return nil, errSyntax
	}
	d.pos++ // '['
	var a []any
	if s != nil {
		a = []any{}
	}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return d.arrayResult(a), nil
	}
	for {
		v, err := d.value(s)
		if err != nil {
			return nil, err
		}
		if s != nil {
			a = append(a, v)
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, errSyntax
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return d.arrayResult(a), nil
		default:
			return nil, errSyntax
		}
	}
}

func (d *decoder) arrayResult(a []any) any {
	if a == nil {
		return nil
	}
	return a
}

// plainByte marks the bytes that a string can hold as they are: not '"',
// '\\', control characters or non-ASCII.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// stringToken reads a string, returning it with its quotes; plain reports
// that it has no escapes and is valid UTF-8, so its bytes are its value.
func (d *decoder) stringToken() (raw []byte, plain bool, err error) {
	start := d.pos
	d.pos++ // '"'
	plain = true
	ascii := true
	for d.pos < len(d.data) {
		for d.pos < len(d.data) && plainByte[d.data[d.pos]] {
			d.pos++
		}
		if d.pos >= len(d.data) {
			break
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			raw = d.data[start:d.pos]
			if !ascii && plain {
				plain = utf8.Valid(raw)
			}
			return raw, plain, nil
		case c == '\\':
			plain = false
			if d.pos+1 >= len(d.data) {
				return nil, false, errSyntax
			}
			switch d.data[d.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos += 2
			case 'u':
				if d.pos+6 > len(d.data) {
					return nil, false, errSyntax
				}
				for _, h := range d.data[d.pos+2 : d.pos+6] {
					if !isHex(h) {
						return nil, false, errSyntax
					}
				}
				d.pos += 6
			default:
				return nil, false, errSyntax
			}
		case c < 0x20:
			return nil, false, errSyntax
		default: // non-ASCII
			ascii = false
			d.pos++
		}
	}
	return nil, false, errSyntax
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unquote returns the value of a string token as a string in an any.
func unquote(raw []byte, plain bool) (any, error) {
	if plain {
		return string(raw[1 : len(raw)-1]), nil
	}
	// Escapes and invalid UTF-8 are rare: leave them to encoding/json.
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return s, nil
}

// number reads a number in JSON's grammar.
func (d *decoder) number() error {
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.pos < len(d.data) && d.data[d.pos] >= '1' && d.data[d.pos] <= '9':
		d.digits()
	default:
		return errSyntax
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.digits() == 0 {
			return errSyntax
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

func (d *decoder) digits() int {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

func (d *decoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return errSyntax
	}
	d.pos += len(word)
	return nil
}
