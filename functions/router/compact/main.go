// Command compact is the router's build step (make build-RouterFunction):
// it validates the configuration as `stakeout validate` does — the same
// loader, every problem printed as FILE:LINE:COL: message, exit 1 on any
// error, in any model, used yet or not — and only then writes its compact
// form (internal/config's compact.go) into a new directory beside the
// bootstrap, which the router loads so that a cold start compiles no rule
// before an event needs it.
//
//	go run ./functions/router/compact -dir . -o ARTIFACTS_DIR/stakeout-config
//
// A command of its own rather than a flag of `stakeout validate`, whose
// interface stays as it is.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stakeout-ml/stakeout/internal/config"
)

func main() {
	dir := flag.String("dir", ".", "directory holding rules/ and owners/")
	out := flag.String("o", "", "the new directory to write the compact form into")
	flag.Parse()
	os.Exit(run(*dir, *out, os.Stdout, os.Stderr))
}

// run validates the configuration in dir and writes its compact form into
// out; the exit code is validate's (2 when dir cannot be read).
func run(dir, out string, stdout, stderr io.Writer) int {
	if out == "" || flag.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: compact -dir DIR -o NEWDIR")
		return 2
	}
	cfg, err := config.Load(dir)
	if err != nil {
		fmt.Fprintf(stderr, "compact: load %s: %v\n", dir, err)
		return 2
	}
	if errs, _ := config.WriteProblems(stdout, cfg.Problems); errs > 0 || len(cfg.Broken) > 0 {
		fmt.Fprintf(stderr, "compact: %s has %d error(s) (stakeout validate --dir %s lists them): the router is not built\n", dir, errs, dir)
		return 1
	}
	if err := config.WriteCompact(cfg, os.DirFS(dir), dir, out); err != nil {
		fmt.Fprintf(stderr, "compact: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "compact: %d models validated, compact form written to %s\n", len(cfg.Models), out)
	return 0
}
