// Command stakeout checks and exercises a stakeout configuration: validate
// the rules and owners files, run their tests, dry-run events through the
// routing, and print the ownership matrix. See README.md for the formats.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}
