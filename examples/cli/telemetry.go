package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// runTelemetry runs "idun telemetry <command>". These commands use
// exporter.Decide and package state directly: they never send anything,
// count nothing and queue no First run.
func runTelemetry(args []string, stdout, stderr io.Writer) int {
	top := newFlagSet("telemetry")
	if err := top.Parse(args); err != nil {
		return flagError(err, "telemetry", stdout, stderr)
	}
	if top.NArg() == 0 {
		return usageError(stderr, "telemetry", errors.New("no telemetry command given"))
	}
	sub, rest := top.Arg(0), top.Args()[1:]
	topic := "telemetry " + sub
	if _, ok := usages[topic]; !ok {
		return usageError(stderr, "telemetry", fmt.Errorf("unknown telemetry command %q", sub))
	}
	fs := newFlagSet(topic)
	asJSON := false
	if sub == "status" {
		fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	}
	if err := parseArgs(fs, rest, 0); err != nil {
		return flagError(err, topic, stdout, stderr)
	}
	switch sub {
	case "status":
		return telemetryStatus(asJSON, stdout, stderr)
	case "enable", "disable":
		return telemetrySetEnabled(sub == "enable", stdout, stderr)
	default: // "reset"
		return telemetryReset(stdout, stderr)
	}
}

// What status found of the state file.
const (
	configPresent  = "present"
	configMissing  = "missing"
	configUnusable = "unusable"
	// configNotRead: the environment turns telemetry off, and then nothing
	// reads the disk.
	configNotRead = "not-read"
)

// statusReport is what "telemetry status --json" prints.
type statusReport struct {
	Enabled bool            `json:"enabled"`
	Source  exporter.Source `json:"source"`
	Reason  string          `json:"reason"`

	ConfigPath  string `json:"config_path"`
	ConfigState string `json:"config_state"`
	// TelemetryEnabled is the state file's own switch, null when unset.
	TelemetryEnabled *bool `json:"telemetry_enabled"`

	UserID          *string          `json:"user_id"`
	CreatedAt       *time.Time       `json:"created_at"`
	Counters        map[string]int64 `json:"counters"`
	LastHeartbeatAt *time.Time       `json:"last_heartbeat_at"`
	Pending         []state.Event    `json:"pending"`
	Sent            []state.Event    `json:"sent"`
}

// telemetryStatus prints the decision and what the state file holds. It
// never writes; when the environment turns telemetry off it reads nothing.
func telemetryStatus(asJSON bool, stdout, stderr io.Writer) int {
	path := statePath()
	d := exporter.Decide(exporter.WithConfigPath(path))
	r := statusReport{
		Enabled:     d.Enabled,
		Source:      d.Source,
		Reason:      d.Reason,
		ConfigPath:  path,
		ConfigState: configNotRead,
		Counters:    map[string]int64{},
		Pending:     []state.Event{},
		Sent:        []state.Event{},
	}
	if !decidedByEnv(d) {
		store := state.New(path)
		st, err := store.Load()
		if err == nil {
			// Every count not yet sent, the journal's included.
			st.Counters, err = store.Counts()
		}
		switch {
		case err == nil:
			r.fill(st)
		case errors.Is(err, fs.ErrNotExist):
			r.ConfigState = configMissing
		default:
			// d.Reason already says why the file cannot be used.
			r.ConfigState = configUnusable
		}
	}
	if !asJSON {
		printStatus(stdout, &r)
		return exitOK
	}
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "idun: telemetry status: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return exitOK
}

// decidedByEnv reports whether an environment variable turned telemetry off,
// in which case Decide read nothing and neither may status.
func decidedByEnv(d exporter.Decision) bool {
	if d.Enabled {
		return false
	}
	switch d.Source {
	case exporter.SourceEnvEnabled, exporter.SourceDoNotTrack, exporter.SourceOTelDisabled:
		return true
	}
	return false
}

func (r *statusReport) fill(st *state.State) {
	r.ConfigState = configPresent
	r.TelemetryEnabled = st.TelemetryEnabled
	if st.UserID != "" {
		r.UserID = &st.UserID
		r.CreatedAt = &st.CreatedAt
	}
	if st.Counters != nil {
		r.Counters = st.Counters
	}
	r.LastHeartbeatAt = st.LastHeartbeatAt
	if st.Pending != nil {
		r.Pending = st.Pending
	}
	if st.Sent != nil {
		r.Sent = st.Sent
	}
}

func printStatus(w io.Writer, r *statusReport) {
	fmt.Fprintf(w, "Telemetry:       %s (%s)\n", onOff(r.Enabled), r.Reason)
	fmt.Fprintf(w, "Decided by:      %s\n", r.Source)
	switch r.ConfigState {
	case configNotRead:
		fmt.Fprintf(w, "State file:      %s (not read: the environment turns telemetry off)\n", r.ConfigPath)
		return
	case configMissing:
		fmt.Fprintf(w, "State file:      %s (does not exist yet)\n", r.ConfigPath)
		return
	case configUnusable:
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

// telemetrySetEnabled writes the user's telemetry_enabled. Neither direction
// creates a user_id: disabling must not, and enabling leaves that to the
// exporter's next run, which then also queues the First run.
func telemetrySetEnabled(on bool, stdout, stderr io.Writer) int {
	name := "disable"
	if on {
		name = "enable"
	}
	path := statePath()
	err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.SetEnabled(on)
		return nil
	})
	if err != nil {
		return stateError(stderr, name, path, err)
	}
	fmt.Fprintf(stdout, "Telemetry %sd: telemetry_enabled: %t saved in %s\n", name, on, path)
	// The environment outranks the file; say so rather than let the user
	// believe the change took effect.
	if d := exporter.Decide(exporter.WithConfigPath(path)); d.Enabled != on {
		fmt.Fprintf(stdout, "Note: telemetry stays %s for now: %s.\n", onOff(d.Enabled), d.Reason)
	}
	return exitOK
}

// telemetryReset gives the installation a new user_id and drops everything
// recorded under the old one that was not sent yet. It queues no First run:
// the exporter queues one only for an installation without a user_id.
func telemetryReset(stdout, stderr io.Writer) int {
	path := statePath()
	store := state.New(path)
	// Without a file there is nothing to reset, and creating one here would
	// give an id without the First run the exporter queues for a new one.
	_, err := store.Load()
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "Nothing to reset: %s does not exist\n", path)
		return exitOK
	}
	if err != nil {
		return stateError(stderr, "reset", path, err)
	}
	var userID string
	err = store.Fold(context.Background(), func(st *state.State) error {
		if !st.Existed() {
			return fs.ErrNotExist
		}
		st.UserID = ""
		if _, err := st.EnsureUserID(time.Now()); err != nil {
			return err
		}
		userID = st.UserID
		st.Counters, st.LastHeartbeatAt, st.Pending, st.Sent = nil, nil, nil, nil
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "Nothing to reset: %s does not exist\n", path)
		return exitOK
	}
	if err != nil {
		return stateError(stderr, "reset", path, err)
	}
	fmt.Fprintf(stdout, "Telemetry reset: new user_id %s; counters, last heartbeat, outbox and sent events cleared in %s\n", userID, path)
	return exitOK
}

// stateError reports a failed change of the state file.
func stateError(stderr io.Writer, name, path string, err error) int {
	fmt.Fprintf(stderr, "idun: telemetry %s: %v\n", name, err)
	if errors.Is(err, state.ErrUnusable) {
		fmt.Fprintf(stderr, "%s was left as it is, since it may hold your settings: fix or remove it, then try again.\n", path)
	}
	return exitFailure
}
