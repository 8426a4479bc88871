// Command cli is an idun-like command-line tool wired for usage telemetry the
// way the Idun CLI is: every command except the telemetry ones counts itself
// with instrument.CLIRunning, and the telemetry commands show and change the
// user's settings without sending anything.
//
// Usage:
//
//	cli <command> [arguments]
//
// The commands are version, run, telemetry status|enable|disable|reset and
// help; run "cli help" for details. Exit codes: 0 success, 1 failure, 2 usage
// error, 130 interrupted.
//
// Telemetry never changes what the CLI prints or how it exits, but for a
// notice on stderr, once per installation, when stderr is a terminal
// (exporter.WithNotice); the run that shows it sends nothing. Turn it off
// with IDUN_TELEMETRY_ENABLED=false, DO_NOT_TRACK=1 or "cli telemetry disable".
// The telemetry commands are package telemetrycmd's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/telemetrycmd"
	"github.com/Idun-Group/idun-telemetry-go/instrument"
)

// version is the CLI's version; release builds set it with
// -ldflags "-X main.version=1.2.3". Telemetry reports it as libraries.idun.
var version = "0.1.0"

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code. Telemetry, when
// started, is shut down before run returns, on every path.
func run(args []string, stdout, stderr io.Writer) int {
	top := newFlagSet("idun")
	if err := top.Parse(args); err != nil {
		return flagError(err, "", stdout, stderr)
	}
	if top.NArg() == 0 {
		return usageError(stderr, "", errors.New("no command given"))
	}
	name, rest := top.Arg(0), top.Args()[1:]
	if name == "telemetry" {
		// The telemetry commands read and write the state file themselves:
		// they must not start an exporter, which would send, count or queue
		// a First run.
		return telemetryCommand(stderr).Run(context.Background(), rest, stdout, stderr)
	}
	parse, ok := commands[name]
	if !ok {
		return usageError(stderr, "", fmt.Errorf("unknown command %q", name))
	}
	// Arguments are checked before telemetry starts, so a mistyped command
	// line is neither counted nor creates the state file.
	act, err := parse(rest)
	if err != nil {
		return flagError(err, name, stdout, stderr)
	}

	// A signal cancels ctx, so the command stops and the deferred telemetry
	// shutdown still writes this run's counts.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdownTelemetry := startTelemetry(stderr)
	defer shutdownTelemetry()

	instrument.CLIRunning(ctx, name)
	return act(ctx, stdout, stderr)
}

// telemetryOptions configure the exporter and the telemetry commands alike,
// so that both use the same state file. The notice goes to stderr, never
// to stdout, and only when it is a terminal.
func telemetryOptions(stderr io.Writer) []exporter.Option {
	return []exporter.Option{exporter.WithVersion(version), exporter.WithNotice(stderr)}
}

// telemetryCommand is "idun telemetry status|enable|disable|reset".
func telemetryCommand(stderr io.Writer) telemetrycmd.Command {
	return telemetrycmd.Command{Name: "idun telemetry", Options: telemetryOptions(stderr)}
}

// telemetryShutdownTimeout bounds the MeterProvider's shutdown at exit. The
// exporter gives up on a slow telemetry host after its grace (250 ms), so a
// command never waits this long in practice.
const telemetryShutdownTimeout = time.Second

// startTelemetry builds the CLI's MeterProvider with the usage-telemetry
// reader and makes it the global provider that package instrument records
// into. The returned func shuts it down, which writes the counts to the state
// file.
func startTelemetry(stderr io.Writer) (shutdown func()) {
	// New fails only for a mistake in the options (a bad host or key),
	// which must be seen; file or network trouble turns telemetry off for
	// the process, and an opt-out makes it do nothing at all. Either way
	// exp is usable.
	exp, err := exporter.New(telemetryOptions(stderr)...)
	if err != nil {
		fmt.Fprintf(stderr, "idun: telemetry: %v\n", err)
	}
	// With telemetry off the provider gets nothing of ours.
	mp := sdkmetric.NewMeterProvider(exporter.ProviderOptions(exp)...)
	otel.SetMeterProvider(mp)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdownTimeout)
		defer cancel()
		_ = mp.Shutdown(ctx) // the telemetry reader never returns an error
	}
}

// newFlagSet returns a FlagSet that prints nothing itself: help goes to
// stdout and errors to stderr, which flag's single output cannot do.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// flagError turns a parse error into an exit code: --help prints the usage
// of topic ("" for the whole CLI) on stdout and succeeds; anything else is a
// usage error.
func flagError(err error, topic string, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, topic)
		return exitOK
	}
	return usageError(stderr, topic, err)
}

// usageError prints err and the usage of topic on stderr.
func usageError(stderr io.Writer, topic string, err error) int {
	fmt.Fprintf(stderr, "idun: %v\n\n", err)
	printUsage(stderr, topic)
	return exitUsage
}
