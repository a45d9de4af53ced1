// Command dynamolocal starts one DynamoDB Local, runs a command with
// $STAKEOUT_TEST_DYNAMODB set to its URL, and stops it when the command
// ends, exiting with the command's status. `make unit` runs the tests
// through it so every test binary shares one instance (dynamotest.Main
// uses it) instead of starting a JVM per package:
//
//	go run ./internal/dynamotest/dynamolocal -- go test ./...
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/stakeout-ml/stakeout/internal/dynamotest"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: dynamolocal [--] command [args...]: runs command with $"+dynamotest.EnvEndpoint+" set to a DynamoDB Local started for it")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	began := time.Now()
	ep, stop, err := dynamotest.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "dynamolocal: %v\n", err)
		return 1
	}
	defer stop()
	fmt.Fprintf(os.Stderr, "dynamolocal: DynamoDB Local answering on %s after %.1fs, shared by the tests through $%s\n",
		ep, time.Since(began).Seconds(), dynamotest.EnvEndpoint)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), dynamotest.EnvEndpoint+"="+ep)
	// An interrupt goes to the command, which decides when it is done;
	// DynamoDB Local stops after it.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err = cmd.Start(); err == nil {
		go func() {
			for s := range sigs {
				cmd.Process.Signal(s)
			}
		}()
		err = cmd.Wait()
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "dynamolocal: %s: %v\n", args[0], err)
		return 1
	}
}
