// Command server is a toy agent server wired for usage telemetry the way the
// Idun agent engine is: the telemetry reader joins the service's own
// MeterProvider, and the engine code counts usage with package instrument.
//
// Usage:
//
//	server [--addr 127.0.0.1:8080] [--framework LANGGRAPH]
//
// It prints "listening on HOST:PORT" once it accepts connections and serves
// POST /invoke and GET /healthz. On SIGINT or SIGTERM it stops accepting,
// lets requests in flight finish, writes this run's counts to the telemetry
// state file and exits 0; a second signal kills it at once.
//
// Telemetry never changes what the server prints or how it exits. Turn it off
// with IDUN_TELEMETRY_ENABLED=false or DO_NOT_TRACK=1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/instrument"
)

// version is the server's version; release builds set it with
// -ldflags "-X main.version=1.2.3". Telemetry reports it as libraries.idun.
var version = "0.1.0"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// drainTimeout bounds how long requests in flight may take to finish once a
// shutdown signal came.
const drainTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Once the first signal arrived, restore the default handling so that a
	// second one kills a server that is slow to drain.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run serves until ctx is done and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseFlags(args, stdout, stderr)
	if !ok {
		return code
	}

	// Telemetry starts before the agent so that agent start-up could count
	// features too. Its shutdown is deferred so that every return path writes
	// this run's counts; it takes a second at most.
	shutdownTelemetry := startTelemetry()
	defer shutdownTelemetry()

	agent, err := newAgent(cfg.framework)
	if err != nil {
		fmt.Fprintf(stderr, "server: start agent: %v\n", err)
		return exitFailure
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return exitFailure
	}
	// Count the workflow only now that the agent is up and reachable.
	instrument.AgentRunning(ctx, cfg.framework)

	srv := &http.Server{Handler: routes(agent), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	// The listener already accepts connections (the kernel queues them), so
	// whoever waits for this line may connect right away.
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	select {
	case err := <-serveErr:
		fmt.Fprintf(stderr, "server: %v\n", err)
		return exitFailure
	case <-ctx.Done():
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		fmt.Fprintf(stderr, "server: requests still running after %s: %v\n", drainTimeout, err)
		_ = srv.Close()
		return exitFailure
	}
	return exitOK
}

type config struct {
	addr      string
	framework instrument.AgentFramework
}

// parseFlags reads the command line. When ok is false the caller exits with
// code: 0 after --help (usage on stdout), 2 after a usage error (on stderr).
func parseFlags(args []string, stdout, stderr io.Writer) (cfg config, code int, ok bool) {
	cfg = config{addr: "127.0.0.1:8080", framework: instrument.LANGGRAPH}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	// flag would print errors and help to one writer; help belongs on
	// stdout and errors on stderr, so both are printed here instead.
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.addr, "addr", cfg.addr, "`address` to listen on; port 0 picks a free port")
	fs.Var((*frameworkFlag)(&cfg.framework), "framework", "agent `framework`: "+frameworkList())

	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case err == nil:
		return cfg, exitOK, true
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs)
		return cfg, exitOK, false
	default:
		fmt.Fprintf(stderr, "server: %v\n", err)
		printUsage(stderr, fs)
		return cfg, exitUsage, false
	}
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: server [--addr ADDRESS] [--framework FRAMEWORK]\n\nA toy agent server: POST /invoke, GET /healthz.\n\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
