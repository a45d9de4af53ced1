package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// help is what `stakeout <command> -h` prints besides the flags: how to
// call it, two examples, and what exit code 1 means for it (0 and 2 mean
// the same everywhere: see exitCodes).
type help struct {
	// usage is the command line after "stakeout <name> ", one per form.
	usage []string
	// about says more than the synopsis, when there is more to say.
	about string
	// examples are two command lines, each after a comment saying what
	// it shows.
	examples []example
	// findings is what exit code 1 means for the command.
	findings string
}

type example struct{ what, cmd string }

// usageLine is one form of a command's command line.
func usageLine(c command, u string) string {
	return strings.TrimSpace("stakeout " + c.name() + " " + u)
}

// exitCodes is the one contract every command keeps.
const exitCodes = `Exit codes:
  0  all good
  1  findings: %s
  2  usage or I/O errors: a bad flag or argument, a file or directory that
     cannot be read, a store that cannot be reached
`

// printHelp writes a command's help: purpose, usage, examples, flags and
// exit codes.
func printHelp(w io.Writer, c command, fs *flag.FlagSet) {
	h := c.help()
	fmt.Fprintf(w, "stakeout %s: %s\n\n", c.name(), c.synopsis())
	for i, u := range h.usage {
		lead := "Usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%s%s\n", lead, usageLine(c, u))
	}
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(h.about))
	}
	fmt.Fprint(w, "\nExamples:\n")
	for _, ex := range h.examples {
		fmt.Fprintf(w, "  # %s\n  %s\n", ex.what, ex.cmd)
	}
	flags := 0
	fs.VisitAll(func(*flag.Flag) { flags++ })
	if flags > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, exitCodes, h.findings)
}

func (*validateCmd) help() help {
	return help{
		usage: []string{"[--dir D]"},
		examples: []example{
			{"check the configuration in rules/ and owners/ of this directory", "stakeout validate"},
			{"a configuration with an escalation cycle: every problem as FILE:LINE:COL", "stakeout validate --dir testdata/invalid/escalation-cycle"},
		},
		findings: "a problem that is an error, not a warning",
	}
}

func (*testCmd) help() help {
	return help{
		usage: []string{"[--dir D]"},
		examples: []example{
			{"run the tests: cases of every rules file", "stakeout test"},
			{"a failing case, shown as a (-want +got) diff", "stakeout test --dir testdata/failing-test"},
		},
		findings: "a failing case, or a model that could not load",
	}
}

func (*routeCmd) help() help {
	return help{
		usage: []string{"[--dir D] [--json] [--fail-on SEVERITY] FILE…|-"},
		about: "Each event (a native detail, an EventBridge envelope or a CloudWatch alarm event;\n" +
			"a file holds one event or JSON lines) goes through the router's pipeline on a\n" +
			"throwaway store, in the order given: every rule's verdict and why, and who is told,\n" +
			"how and when.",
		examples: []example{
			{"a feature drifting night after night: for: streaks, then the page", "stakeout route testdata/events/sequence/credit-approval-income-drift.jsonl"},
			{"CloudWatch alarm events, one JSON object per event", "stakeout route --json testdata/events/cloudwatch/*.json"},
		},
		findings: "an input the router would quarantine, an alert --fail-on asks for, or a configuration with errors",
	}
}

func (*replayCmd) help() help {
	return help{
		usage: []string{"[--dir D] [--state FILE] [--json] [--silence] [--until T] [--fail-on SEVERITY] [--slack-channel C] FILE.jsonl|-"},
		about: "Runs the router, and the escalator on the same clock, over a stream of events on the\n" +
			"embedded store, with time taken from the events: the alerts' timeline, each\n" +
			"notification as it would look, and a summary per model and owner.",
		examples: []example{
			{"the quick start: seven weeks of a churn model's signals", "stakeout replay testdata/scenarios/churn-competitor-launch.jsonl"},
			{"escalation along the chain, then a job that goes silent; state kept for audit and report", "stakeout replay --silence --until 26h --state /tmp/credit.json testdata/scenarios/credit-silent-drift-job.jsonl"},
		},
		findings: "an input line was rejected (or there was none), an alert --fail-on asks for, or a configuration with errors",
	}
}

func (*auditCmd) help() help {
	return help{
		usage: []string{"ALERT_ID|PREFIX [--verify [--kms-key ARN]… [--require-keyed]] [--json] (--state FILE | --table NAME [--endpoint URL])",
			"--model M [--since T] [--until T] [--verify …] [--json] (--state FILE | --table NAME [--endpoint URL])",
			"--drills [--since T] [--until T] [--json] (--state FILE | --table NAME [--endpoint URL])"},
		about: "An alert id may be given in part (credit-approval/key-feature-drift): every alert\n" +
			"it begins is shown; with none, the close matches are suggested.",
		examples: []example{
			{"an alert's trail in a replay's saved state, its chain checked", "stakeout audit --state /tmp/credit.json --verify credit-approval/accuracy-loss"},
			{"a model's records in the router's table over a day", "stakeout audit --table stakeout-state --model credit-approval --since 2026-04-03T00:00:00Z --until 2026-04-04T00:00:00Z"},
		},
		findings: "a broken chain, a MAC that fails or is under a key not given, an unkeyed trail with --require-keyed, no record found, or (--drills) a drill unanswered",
	}
}

func (*ownersCmd) help() help {
	return help{
		usage: []string{"[--dir D]", "--codeowners --github-org ORG [--dir D] > .github/CODEOWNERS"},
		about: ownersAbout,
		examples: []example{
			{"who answers for what, and their escalation", "stakeout owners"},
			{"a CODEOWNERS file: a model's owners approve changes to its rules", "stakeout owners --codeowners --github-org example-org > .github/CODEOWNERS"},
		},
		findings: "a model's role names no owner, or a name cannot be written in CODEOWNERS",
	}
}

func (*noiseCmd) help() help {
	return help{
		usage: []string{"[--dir D] [--since 30d|TIME] [--model M] [--json] (--state FILE | --table NAME [--endpoint URL])"},
		about: "With --state, --since counts back from the latest record in the saved state (a replay's\n" +
			"time); with --table, from now.",
		examples: []example{
			{"how noisy each rule was in a replay", "stakeout noise --state /tmp/credit.json"},
			{"the last week of one model in the router's table, as JSON", "stakeout noise --table stakeout-state --model credit-approval --since 7d --json"},
		},
		findings: "never: the table is the answer, whatever it shows",
	}
}

func (*reportCmd) help() help {
	return help{
		usage: []string{"--state FILE [--model M] [--since 7d|TIME] [-o report.html|-]"},
		about: "One HTML file, with no network: for each model, each rule's readings against its\n" +
			"threshold with its alerts' open, acknowledge, escalate and resolve marks; a lane per\n" +
			"owner (who was asked, how fast they answered); the noise table. --since counts back\n" +
			"from the state's latest time.",
		examples: []example{
			{"the quick start's story as a page", "stakeout replay --state /tmp/churn.json testdata/scenarios/churn-competitor-launch.jsonl && stakeout report --state /tmp/churn.json -o report.html"},
			{"one model's last week, to standard output", "stakeout report --state /tmp/credit.json --model credit-approval --since 7d -o -"},
		},
		findings: "--model names no model in the state, or the state holds nothing to draw",
	}
}
