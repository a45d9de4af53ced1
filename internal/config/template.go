package config

import (
	"strings"
)

// Template is a summary with {{name}} placeholders, parsed and checked at
// load so that a typo in a placeholder fails validation, not a notification.
type Template struct {
	Source string
	parts  []templatePart
}

type templatePart struct {
	text string // literal text, or the placeholder name when isName
	name bool
}

// templateError is a problem at a byte offset in the template source.
type templateError struct {
	offset int
	msg    string
}

func parseTemplate(s string, check func(name string) error) (Template, []templateError) {
	t := Template{Source: s}
	var errs []templateError
	rest, off := s, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			return t, errs
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			errs = append(errs, templateError{off + i, "unclosed {{ in summary"})
			return t, errs
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		if err := check(name); err != nil {
			errs = append(errs, templateError{off + i, err.Error()})
		}
		t.parts = append(t.parts, templatePart{text: name, name: true})
		off += i + j + 2
		rest = rest[i+j+2:]
	}
}

// Render fills the placeholders with lookup(name).
func (t Template) Render(lookup func(name string) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name {
			b.WriteString(lookup(p.text))
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// Empty reports whether the template has no text.
func (t Template) Empty() bool { return t.Source == "" }
