package config

import (
	"strings"
	"testing"
)

// Every command that reports a configuration's problems (validate, the
// router's build step) prints them one a line as FILE:LINE:COL and counts
// errors apart from warnings, through WriteProblems.
func TestWriteProblemsPrintsEachAndCountsErrorsAndWarnings(t *testing.T) {
	ps := []Problem{
		{File: "rules/a.yaml", Line: 3, Col: 9, Msg: `unknown name "valu"`},
		{File: "rules/a.yaml", Line: 7, Col: 1, Warning: true, Msg: "rule never fires"},
		{File: "owners/t.yaml", Line: 1, Col: 1, Msg: "no channel"},
	}
	var out strings.Builder
	errs, warns := WriteProblems(&out, ps)
	want := "rules/a.yaml:3:9: unknown name \"valu\"\n" +
		"rules/a.yaml:7:1: warning: rule never fires\n" +
		"owners/t.yaml:1:1: no channel\n"
	if out.String() != want {
		t.Errorf("WriteProblems wrote\n%s\nwant\n%s", out.String(), want)
	}
	if errs != 2 || warns != 1 {
		t.Errorf("WriteProblems = %d errors, %d warnings; want 2, 1", errs, warns)
	}
}
