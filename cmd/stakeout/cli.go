package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
	flags(fs *flag.FlagSet)
	run(args []string, io stdio) int
}

func commands() []command {
	return []command{&validateCmd{}, &testCmd{}, &routeCmd{}, &replayCmd{}, &auditCmd{}, &ownersCmd{}, &noiseCmd{}, &reportCmd{}}
}

const usageHead = `stakeout routes ML model alerts to their owners.

Usage: stakeout <command> [flags] [args]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name(), c.synopsis())
	}
	fmt.Fprint(w, "\nRun 'stakeout <command> -h' for a command's flags.\n")
}

// run parses the command line and delegates to the subcommand. Exit codes:
// 0 success, 1 the check failed (problems, failing tests, events that could
// not be routed), 2 usage or I/O errors.
func run(args []string, io stdio) int {
	if len(args) == 0 {
		usage(io.err)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.out)
		return 0
	}
	for _, c := range commands() {
		if c.name() != args[0] {
			continue
		}
		fs := flag.NewFlagSet("stakeout "+c.name(), flag.ContinueOnError)
		fs.SetOutput(io.err)
		c.flags(fs)
		positional, err := parseInterspersed(fs, args[1:])
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
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
