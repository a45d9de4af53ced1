package main

import (
	"flag"
	"fmt"
	"maps"
	"slices"

	"github.com/stakeout-ml/stakeout/internal/config"
)

type validateCmd struct{ dir string }

func (*validateCmd) name() string { return "validate" }
func (*validateCmd) synopsis() string {
	return "check every rules and owners file; print FILE:LINE:COL: message per problem"
}
func (c *validateCmd) flags(fs *flag.FlagSet) { dirFlag(fs, &c.dir) }

func (c *validateCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout validate: unexpected argument %q (use --dir)\n", args[0])
		return 2
	}
	cfg, ok := load(c.dir, io)
	if !ok {
		return 2
	}
	errs, warns := config.WriteProblems(io.out, cfg.Problems)
	models := len(cfg.Models) + len(cfg.Broken)
	fmt.Fprintf(io.out, "%s, %s: %s, %s\n", plural(models, "model"), plural(len(cfg.Owners), "owner"),
		plural(errs, "error"), plural(warns, "warning"))
	// Say what the router would not serve: the cost of merging as is.
	for _, id := range slices.Sorted(maps.Keys(cfg.Broken)) {
		fmt.Fprintf(io.out, "not loaded: %s (%s)\n", id, cfg.Broken[id].Broken)
	}
	if errs > 0 {
		return 1
	}
	return 0
}
