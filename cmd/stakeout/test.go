package main

import (
	"flag"
	"fmt"
	"slices"

	"github.com/stakeout-ml/stakeout/internal/ruletest"
)

type testCmd struct{ dir string }

func (*testCmd) name() string             { return "test" }
func (*testCmd) synopsis() string         { return "run every tests: case of the rules files" }
func (c *testCmd) flags(fs *flag.FlagSet) { dirFlag(fs, &c.dir) }

func (c *testCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout test: unexpected argument %q (use --dir)\n", args[0])
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	rep := ruletest.Run(cfg)
	for _, f := range rep.Failures {
		fmt.Fprintln(io.out, f)
	}
	untested := make([]string, 0, len(rep.Untested))
	for id := range rep.Untested {
		untested = append(untested, id)
	}
	slices.Sort(untested)
	for _, id := range untested {
		fmt.Fprintf(io.out, "%s: not tested: %s (run stakeout validate)\n", id, rep.Untested[id])
	}
	fmt.Fprintf(io.out, "%d passed, %d failed\n", rep.Passed, rep.Failed())
	if rep.Failed() > 0 {
		return 1
	}
	return 0
}
