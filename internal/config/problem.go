package config

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Problem is one thing wrong (or, as a warning, suspicious) in a file.
type Problem struct {
	File    string
	Line    int
	Col     int
	Warning bool
	Msg     string
}

// String renders the problem as FILE:LINE:COL: message, the form editors
// and CI annotations understand.
func (p Problem) String() string {
	sev := ""
	if p.Warning {
		sev = "warning: "
	}
	return fmt.Sprintf("%s:%d:%d: %s%s", p.File, p.Line, p.Col, sev, p.Msg)
}

// WriteProblems writes ps one a line as FILE:LINE:COL: message and counts
// its errors and warnings: what stakeout validate and the router's build
// step (functions/router/compact) print, so that the build validates as
// validate does by construction.
func WriteProblems(w io.Writer, ps []Problem) (errs, warns int) {
	for _, p := range ps {
		fmt.Fprintln(w, p)
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

// Pos is a position in a file, 1-based.
type Pos struct {
	Line, Col int
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// Errors returns the problems that are not warnings.
func (c *Config) Errors() []Problem {
	var out []Problem
	for _, p := range c.Problems {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}
