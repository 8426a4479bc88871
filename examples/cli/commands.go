package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// action is a command whose arguments were checked, ready to run.
type action func(ctx context.Context, stdout, stderr io.Writer) int

// parser checks a command's arguments and returns the work to do, so that a
// usage error is reported before anything runs.
type parser func(args []string) (action, error)

// commands are the top-level commands telemetry counts; "telemetry", which
// package telemetrycmd provides, is handled apart.
var commands = map[string]parser{
	"version": parseVersion,
	"run":     parseRun,
	"help":    parseHelp,
}

// usages holds the help of each topic; "" is the whole CLI's.
var usages = map[string]string{
	"": `Usage: idun <command> [arguments]

Commands:
  version                    print the version
  run [message...]           run a toy agent on a message
  telemetry status [--json]  show whether usage telemetry is on, why, and what it holds
  telemetry enable           turn usage telemetry on
  telemetry disable          turn usage telemetry off
  telemetry reset            start over with a new anonymous id and nothing stored
  help [command]             show help

Usage telemetry is anonymous and counts only which commands and features run.
IDUN_TELEMETRY_ENABLED=false or DO_NOT_TRACK=1 turns it off for a run;
"idun telemetry disable" turns it off for good.
`,
	"version": "Usage: idun version\n\nPrint the version.\n",
	"run":     "Usage: idun run [message...]\n\nRun a toy agent on the message and print its answer.\n",
	"help":    "Usage: idun help [command]\n\nShow the help of the CLI or of one command.\n",
}

func printUsage(w io.Writer, topic string) {
	fmt.Fprint(w, usages[topic])
}

// parseArgs parses args into fs and allows at most maxArgs positional
// arguments (-1: any number).
func parseArgs(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if maxArgs >= 0 && fs.NArg() > maxArgs {
		return fmt.Errorf("unexpected argument %q", fs.Arg(maxArgs))
	}
	return nil
}

func parseVersion(args []string) (action, error) {
	if err := parseArgs(newFlagSet("version"), args, 0); err != nil {
		return nil, err
	}
	return func(_ context.Context, stdout, _ io.Writer) int {
		fmt.Fprintf(stdout, "idun %s\n", version)
		return exitOK
	}, nil
}

func parseRun(args []string) (action, error) {
	fs := newFlagSet("run")
	if err := parseArgs(fs, args, -1); err != nil {
		return nil, err
	}
	message := strings.Join(fs.Args(), " ")
	return func(ctx context.Context, stdout, stderr io.Writer) int {
		answer, err := toyAgent(ctx, message)
		if err != nil {
			fmt.Fprintf(stderr, "idun: run: %v\n", err)
			if ctx.Err() != nil {
				return exitInterrupted
			}
			return exitFailure
		}
		fmt.Fprintln(stdout, answer)
		return exitOK
	}, nil
}

// toyAgent stands in for running an agent. It answers with the message's
// length: a CLI may print what the user typed, telemetry never sees it.
func toyAgent(ctx context.Context, message string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("agent: read %d characters", utf8.RuneCountInString(message)), nil
}

func parseHelp(args []string) (action, error) {
	fs := newFlagSet("help")
	if err := parseArgs(fs, args, 2); err != nil {
		return nil, err
	}
	topic := strings.Join(fs.Args(), " ")
	if fs.Arg(0) == "telemetry" {
		// The telemetry command's help is its own.
		cmd := telemetryCommand(io.Discard)
		if cmd.Usage(io.Discard, fs.Arg(1)) != nil {
			return nil, fmt.Errorf("no help for %q", topic)
		}
		return func(_ context.Context, stdout, _ io.Writer) int {
			_ = cmd.Usage(stdout, fs.Arg(1))
			return exitOK
		}, nil
	}
	if _, ok := usages[topic]; !ok {
		return nil, fmt.Errorf("no help for %q", topic)
	}
	return func(_ context.Context, stdout, _ io.Writer) int {
		printUsage(stdout, topic)
		return exitOK
	}, nil
}
