package main

import (
	"flag"
	"fmt"

	"github.com/stakeout-ml/stakeout/internal/version"
)

// versionCmd prints which build this is, so that a bug report or a
// replay's output can be tied to a commit (internal/version says when Go
// stamps the revision and when it cannot).
type versionCmd struct{}

func (*versionCmd) name() string { return "version" }
func (*versionCmd) synopsis() string {
	return "print the module version and the commit this binary was built from"
}

func (*versionCmd) help() help {
	return help{
		usage: []string{""},
		about: "The VCS revision Go stamped into this binary (\"(modified)\" when the tree had uncommitted\n" +
			"changes), the commit's time and the Go toolchain. A binary from go run, -buildvcs=false\n" +
			"or a tree that is not a git clone has no revision, and says so.",
		examples: []example{
			{"which build this is, for a bug report", "stakeout version"},
			{"the same, as other tools spell it", "stakeout --version"},
		},
		findings: "never",
	}
}

func (*versionCmd) flags(*flag.FlagSet) {}

func (*versionCmd) run(args []string, io stdio) int {
	if len(args) > 0 {
		fmt.Fprintf(io.err, "stakeout version: unexpected argument %q\n", args[0])
		return 2
	}
	fmt.Fprintln(io.out, version.Read())
	return 0
}
