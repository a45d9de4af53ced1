package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/expression"
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand: it declares its flags and runs with the
// arguments left after them, returning the exit code.
type command interface {
	name() string
	synopsis() string
	help() help
	flags(fs *flag.FlagSet)
	run(args []string, io stdio) int
}

func commands() []command {
	return []command{&validateCmd{}, &testCmd{}, &routeCmd{}, &replayCmd{}, &auditCmd{}, &ownersCmd{}, &noiseCmd{}, &reportCmd{}, &serveCmd{}, &publishCmd{}, &drillCmd{}, &versionsCmd{}, &versionCmd{}}
}

const usageHead = `stakeout routes ML model alerts to their owners.

Usage: stakeout <command> [flags] [args]

Examples:
  # seven weeks of a churn model's signals through the router, on the example configuration
  stakeout replay testdata/scenarios/churn-competitor-launch.jsonl
  # check the configuration in rules/ and owners/
  stakeout validate

Commands:
`

const usageTail = `
Run 'stakeout <command> -h' for a command's purpose, examples and flags.

Exit codes, the same in every command: 0 all good; 1 findings (an invalid
configuration, failing tests, rejected inputs, alerts --fail-on asks for,
a broken audit chain); 2 usage or I/O errors.
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name(), c.synopsis())
	}
	fmt.Fprint(w, usageTail)
}

// run parses the command line and delegates to the subcommand. Exit codes:
// 0 success, 1 findings (problems, failing tests, rejected inputs), 2
// usage or I/O errors.
func run(args []string, io stdio) int {
	if len(args) == 0 {
		usage(io.err)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.out)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name() != args[0] {
			continue
		}
		fs := flag.NewFlagSet("stakeout "+c.name(), flag.ContinueOnError)
		fs.SetOutput(io.err)
		fs.Usage = func() {} // said below, after the flag package's error
		c.flags(fs)
		positional, err := parseInterspersed(fs, args[1:])
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(io.out, c, fs)
				return 0
			}
			fmt.Fprintf(io.err, "usage: %s\nRun 'stakeout %s -h' for help.\n", usageLine(c, c.help().usage[0]), c.name())
			return 2
		}
		return c.run(positional, io)
	}
	names := make([]string, 0, len(commands()))
	for _, c := range commands() {
		names = append(names, c.name())
	}
	fmt.Fprintf(io.err, "stakeout: unknown command %q%s\n\n", args[0], expression.Suggest(args[0], names))
	usage(io.err)
	return 2
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments (`audit ID --verify` as well as `audit --verify ID`); the flag
// package alone stops at the first positional one. After "--", everything
// is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// dirFlag is the --dir flag every command takes.
func dirFlag(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "dir", ".", "directory holding rules/ and owners/")
}

// load reads the configuration, printing an error when the directory
// itself cannot be read.
func load(dir string, io stdio) (*config.Config, bool) {
	cfg, err := config.Load(dir)
	if err != nil {
		fmt.Fprintf(io.err, "stakeout: load %s: %v\n", dir, err)
		return nil, false
	}
	return cfg, true
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// failOn is the --fail-on flag of route and replay: alerts at or above a
// severity are findings (exit 1), so a pull request whose rules would
// page on a sample of events can fail its check.
type failOn struct {
	severity string
	hits     []string
}

func (f *failOn) flag(fs *flag.FlagSet) {
	fs.Func("fail-on", "exit 1 if an alert of this severity or higher opens ("+strings.Join(config.Severities, ", ")+")", func(s string) error {
		if !slices.Contains(config.Severities, s) {
			return fmt.Errorf("%q is not a severity (%s)%s", s, strings.Join(config.Severities, ", "), expression.Suggest(s, config.Severities))
		}
		f.severity = s
		return nil
	})
}

// add notes an alert that opened with severity sev.
func (f *failOn) add(alert, sev string) {
	if f.severity != "" && slices.Index(config.Severities, sev) >= slices.Index(config.Severities, f.severity) {
		f.hits = append(f.hits, alert)
	}
}

// report says what --fail-on found, and whether it is a finding.
func (f *failOn) report(w io.Writer, cmd string) bool {
	if len(f.hits) == 0 {
		return false
	}
	fmt.Fprintf(w, "stakeout %s: %s at or above %s opened (--fail-on): %s\n", cmd, plural(len(f.hits), "alert"), f.severity, strings.Join(f.hits, ", "))
	return true
}

// configErrors says, on w, that the configuration has errors and which
// models the router would not serve: a finding for route and replay,
// which go on with the models that load.
func configErrors(w io.Writer, cmd string, cfg *config.Config) bool {
	errs := len(cfg.Errors())
	if errs == 0 {
		return false
	}
	fmt.Fprintf(w, "stakeout %s: the configuration has %s (stakeout validate shows them)", cmd, plural(errs, "error"))
	if len(cfg.Broken) > 0 {
		fmt.Fprintf(w, "; not loaded: %s", strings.Join(slices.Sorted(maps.Keys(cfg.Broken)), ", "))
	}
	fmt.Fprintln(w)
	return true
}
