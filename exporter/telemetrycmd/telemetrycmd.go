package telemetrycmd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// Exit codes of Run.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Command is a CLI's telemetry command.
type Command struct {
	// Name is the command as its usage and messages name it, e.g. "acme
	// telemetry" (cobra's cmd.CommandPath()); its first word names the
	// program in error messages. The default is "<app> telemetry", with
	// the application's name from Options ("idun telemetry").
	Name string
	// Options are the exporter options the program gives exporter.New;
	// WithApp and WithConfigPath decide which state file the command
	// shows and changes.
	Options []exporter.Option
}

// Run runs Command{Options: opts}: the telemetry command with args, the
// arguments after "telemetry". See Command.Run.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, opts ...exporter.Option) int {
	return Command{Options: opts}.Run(ctx, args, stdout, stderr)
}

// Run runs the command with args, the arguments after the command's name
// ("status --json"), and returns the exit code: ExitOK, ExitFailure when the
// state file could not be changed, ExitUsage for a usage error. Results and
// help (-h, --help) go to stdout, errors and usage errors to stderr.
func (c Command) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	n := c.names()
	top := newFlagSet(n.cmd)
	if err := top.Parse(args); err != nil {
		return n.flagError(err, "", stdout, stderr)
	}
	if top.NArg() == 0 {
		return n.usageError(stderr, "", errors.New("no telemetry command given"))
	}
	sub, rest := top.Arg(0), top.Args()[1:]
	if !slices.Contains(subcommands, sub) {
		return n.usageError(stderr, "", fmt.Errorf("unknown telemetry command %q", sub))
	}
	fs := newFlagSet(n.cmd + " " + sub)
	asJSON := fs.Bool("json", false, "print the state of telemetry as one JSON object")
	if err := fs.Parse(rest); err != nil {
		return n.flagError(err, sub, stdout, stderr)
	}
	if fs.NArg() > 0 {
		return n.usageError(stderr, sub, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	var (
		r   exporter.StatusReport
		err error
	)
	switch sub {
	case "status":
		r, err = exporter.Status(c.Options...)
		if r.ConfigPath != "" {
			// A mistake in the options is the Decision's reason: the
			// report is still worth showing.
			err = nil
		}
	case "enable", "disable":
		r, err = exporter.SetEnabled(ctx, sub == "enable", c.Options...)
	case "reset":
		r, err = exporter.Reset(ctx, c.Options...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s %s: %v\n", n.prog, n.rest, sub, err)
		if errors.Is(err, state.ErrUnusable) {
			fmt.Fprintf(stderr, "%s was left as it is, since it may hold your settings: fix or remove it, then try again.\n", r.ConfigPath)
		}
		return ExitFailure
	}
	if *asJSON {
		b, err := json.MarshalIndent(&r, "", "  ")
		if err != nil { // an edited file's event may hold a NaN
			fmt.Fprintf(stderr, "%s: %s %s: %v\n", n.prog, n.rest, sub, err)
			return ExitFailure
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return ExitOK
	}
	switch sub {
	case "status":
		printStatus(stdout, &r)
	case "enable", "disable":
		on := sub == "enable"
		fmt.Fprintf(stdout, "Telemetry %sd: telemetry_enabled: %t saved in %s\n", sub, on, r.ConfigPath)
		// The environment outranks the file; say so rather than let the
		// user believe the change took effect.
		if r.Enabled != on {
			fmt.Fprintf(stdout, "Note: telemetry stays %s for now: %s.\n", onOff(r.Enabled), r.Reason)
		}
	case "reset":
		if r.ConfigState == exporter.ConfigMissing {
			fmt.Fprintf(stdout, "Nothing to reset: %s does not exist\n", r.ConfigPath)
		} else {
			fmt.Fprintf(stdout, "Telemetry reset: new user_id %s; counters, last heartbeat, outbox and sent events cleared in %s\n", deref(r.UserID), r.ConfigPath)
		}
	}
	return ExitOK
}

// Usage writes the help of sub ("status", "enable", "disable", "reset"), or
// of the whole command for "", as -h prints it. It returns an error for any
// other sub.
func (c Command) Usage(w io.Writer, sub string) error {
	if sub != "" && !slices.Contains(subcommands, sub) {
		return fmt.Errorf("unknown telemetry command %q", sub)
	}
	c.names().usage(w, sub)
	return nil
}

var subcommands = []string{"status", "enable", "disable", "reset"}

// names are what the command prints its name and the application's with.
type names struct {
	cmd  string // "idun telemetry"
	prog string // "idun"
	rest string // "telemetry"
	app  exporter.App
}

func (c Command) names() names {
	app, err := exporter.AppOf(c.Options...)
	if err != nil {
		app = exporter.App{Name: exporter.DefaultApp, EnvEnabled: exporter.EnvEnabled}
	}
	cmd := strings.Join(strings.Fields(c.Name), " ")
	if cmd == "" {
		cmd = app.Name + " telemetry"
	}
	prog, rest, _ := strings.Cut(cmd, " ")
	if rest == "" {
		rest = prog
	}
	return names{cmd: cmd, prog: prog, rest: rest, app: app}
}

// newFlagSet returns a FlagSet that prints nothing itself: help goes to
// stdout and errors to stderr, which flag's single output cannot do.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// flagError turns a parse error into an exit code: -h prints the usage of
// sub on stdout and succeeds; anything else is a usage error.
func (n names) flagError(err error, sub string, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		n.usage(stdout, sub)
		return ExitOK
	}
	return n.usageError(stderr, sub, err)
}

// usageError prints err and the usage of sub on stderr.
func (n names) usageError(stderr io.Writer, sub string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n\n", n.prog, err)
	n.usage(stderr, sub)
	return ExitUsage
}

func (n names) usage(w io.Writer, sub string) {
	switch sub {
	case "":
		fmt.Fprintf(w, `Usage: %s <command> [--json]

Commands:
  status   show whether usage telemetry is on, why, and what it holds
  enable   set telemetry_enabled: true in the state file
  disable  set telemetry_enabled: false in the state file
  reset    new anonymous user_id; drop counters, outbox and sent events

Each prints the state of telemetry as one JSON object with --json.
The environment overrides the state file: %s=false,
DO_NOT_TRACK=1 or OTEL_SDK_DISABLED=true turn telemetry off.
`, n.cmd, n.app.EnvEnabled)
	case "status":
		fmt.Fprintf(w, `Usage: %s status [--json]

Show whether usage telemetry is on and why, the state file, the anonymous
user_id, the counts not yet reported, the events waiting to be sent and the
last event of each kind that was sent, exactly as sent. It sends nothing and
changes nothing.

Flags:
  --json  print one JSON object
`, n.cmd)
	case "enable", "disable":
		fmt.Fprintf(w, `Usage: %s %s [--json]

Set telemetry_enabled: %t in the state file. %s=false,
DO_NOT_TRACK=1 or OTEL_SDK_DISABLED=true still turn telemetry off.

Flags:
  --json  print the state of telemetry after the change as one JSON object
`, n.cmd, sub, sub == "enable", n.app.EnvEnabled)
	case "reset":
		fmt.Fprintf(w, `Usage: %s reset [--json]

Give this installation a new anonymous user_id and drop the counts not yet
reported, the events waiting to be sent and the record of sent events.

Flags:
  --json  print the state of telemetry after the reset as one JSON object
`, n.cmd)
	}
}

func printStatus(w io.Writer, r *exporter.StatusReport) {
	fmt.Fprintf(w, "Telemetry:       %s (%s)\n", onOff(r.Enabled), r.Reason)
	fmt.Fprintf(w, "Decided by:      %s\n", r.Source)
	switch r.ConfigState {
	case exporter.ConfigNotRead:
		fmt.Fprintf(w, "State file:      %s (not read: the environment turns telemetry off)\n", r.ConfigPath)
		return
	case exporter.ConfigMissing:
		fmt.Fprintf(w, "State file:      %s (does not exist yet)\n", r.ConfigPath)
		return
	case exporter.ConfigUnusable:
		fmt.Fprintf(w, "State file:      %s (unusable)\n", r.ConfigPath)
		return
	}
	fmt.Fprintf(w, "State file:      %s\n", r.ConfigPath)
	userID := "none yet"
	if r.UserID != nil {
		userID = *r.UserID
	}
	fmt.Fprintf(w, "User ID:         %s\n", userID)

	counters := "none"
	if len(r.Counters) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(r.Counters)) {
			parts = append(parts, fmt.Sprintf("%s=%d", name, r.Counters[name]))
		}
		counters = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "Counters:        %s\n", counters)

	heartbeat := "never"
	if r.LastHeartbeatAt != nil {
		heartbeat = r.LastHeartbeatAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Last heartbeat:  %s\n", heartbeat)

	outbox := "empty"
	if len(r.Pending) > 0 {
		var parts []string
		for _, ev := range r.Pending {
			parts = append(parts, fmt.Sprintf("%s (%s)", ev.Event, ev.Timestamp.UTC().Format(time.RFC3339)))
		}
		outbox = fmt.Sprintf("%d event(s) waiting: %s", len(r.Pending), strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "Outbox:          %s\n", outbox)
	if d := r.Delivery; d.NextAttemptAt != nil || d.Rejected > 0 {
		next := "now"
		if d.NextAttemptAt != nil {
			next = d.NextAttemptAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "Next send:       %s (%d failed attempt(s), last: %s; %d event(s) refused by PostHog)\n", next, d.Failures, cmp.Or(d.LastFailure, "none"), d.Rejected)
	}

	if len(r.Sent) == 0 {
		fmt.Fprintf(w, "Last sent:       none\n")
		return
	}
	fmt.Fprintf(w, "Last sent, exactly as sent:\n")
	for _, ev := range r.Sent {
		b, err := json.MarshalIndent(ev, "  ", "  ")
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "  %s\n", b)
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
