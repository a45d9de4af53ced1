// Command stakeout checks and exercises a stakeout configuration: validate
// the rules and owners files, run their tests, dry-run events through the
// routing, and print the ownership matrix. See README.md for the formats.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// A CLI run is short and mostly loading the configuration, a burst of
	// short-lived garbage (YAML nodes, expression trees) where a third of
	// the time went to collecting it. Trade memory for it, unless the user
	// set GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}
