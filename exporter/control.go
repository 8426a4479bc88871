package exporter

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// The functions of this file are the telemetry commands a CLI offers its
// users (package telemetrycmd is one ready to mount): Status shows the
// state of telemetry, SetEnabled and Reset change it. They take the options
// the program gives New, and never send, count or queue a First run.

// ConfigState says what Status found of the state file.
type ConfigState string

// The states of the state file.
const (
	ConfigPresent  ConfigState = "present"
	ConfigMissing  ConfigState = "missing"
	ConfigUnusable ConfigState = "unusable"
	// ConfigNotRead: the environment turns telemetry off, and then nothing
	// reads the disk.
	ConfigNotRead ConfigState = "not-read"
)

// StatusReport is the state of telemetry: the decision New would make now
// and what the state file holds. Its JSON form is that of a status command's
// --json output; the keys are stable.
type StatusReport struct {
	// Decision is whether telemetry is on, and why: as New would decide now.
	Decision

	ConfigPath  string      `json:"config_path"`
	ConfigState ConfigState `json:"config_state"`
	// TelemetryEnabled is the state file's own switch, nil when unset.
	TelemetryEnabled *bool `json:"telemetry_enabled"`

	// UserID and CreatedAt are the installation's identity, nil before the
	// first run that counts.
	UserID    *string    `json:"user_id"`
	CreatedAt *time.Time `json:"created_at"`
	// Counters are the counts not yet sent, by heartbeat key; never nil.
	Counters        map[string]int64 `json:"counters"`
	LastHeartbeatAt *time.Time       `json:"last_heartbeat_at"`
	// Pending are the events waiting to be sent; Sent, the last event of
	// each name PostHog acknowledged, exactly as sent. Never nil.
	Pending []state.Event `json:"pending"`
	Sent    []state.Event `json:"sent"`
	// Delivery is the send schedule: when the next attempt may be made,
	// the failures since the last success and the last one's kind
	// ("timeout", "refused", "http 500"...), and how many events PostHog
	// refused as malformed.
	Delivery state.Delivery `json:"delivery"`
}

// Status returns the state of telemetry. It only reads: no file or folder
// is created, and when an environment variable turns telemetry off nothing
// is read at all (ConfigNotRead). A state file that cannot be used is
// reported as ConfigUnusable, not as an error. The error is New's for the
// same options (a mistake in them, see New); the report is still filled in,
// with the Decision saying why telemetry is off.
func Status(opts ...Option) (StatusReport, error) {
	cfg := newConfig(opts)
	return report(cfg), cfg.err
}

// SetEnabled records the user's choice, telemetry_enabled: on, in the state
// file, creating the file when there is none, and returns the state after
// the change. It gives the installation no user_id: disabling must not, and
// enabling leaves that to the next run, which then queues the First run. The
// environment outranks the file: the report's Decision says whether the
// choice takes effect. A mistake in the options (see New) does not keep a
// user from choosing, unless it leaves the state file unknown (an invalid
// WithApp without WithConfigPath); the error says why nothing was written.
func SetEnabled(ctx context.Context, on bool, opts ...Option) (StatusReport, error) {
	cfg := newConfig(opts)
	if err := pathError(cfg); err != nil {
		return report(cfg), err
	}
	if err := writeEnabled(ctx, state.New(cfg.path), on); err != nil {
		return report(cfg), err
	}
	return report(cfg), nil
}

// Reset starts the installation over: a new user_id and created_at, and the
// counts not yet sent (the journal's too), the last Heartbeat's time, the
// outbox, the send schedule and the record of sent events dropped. The user's telemetry_enabled is kept. It queues no
// First run. Without a state file there is nothing to reset: the report says
// ConfigMissing and nothing is created. Errors are those of SetEnabled.
func Reset(ctx context.Context, opts ...Option) (StatusReport, error) {
	cfg := newConfig(opts)
	if err := pathError(cfg); err != nil {
		return report(cfg), err
	}
	err := resetInstallation(ctx, state.New(cfg.path), cfg.now())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return report(cfg), err
	}
	return report(cfg), nil
}

// pathError refuses a change when the options leave the state file unknown.
func pathError(cfg config) error {
	if cfg.path == "" { // an invalid WithApp, and no WithConfigPath
		return cfg.err
	}
	if d, bad := badPath(cfg); bad {
		return errors.New(d.Reason)
	}
	return nil
}

// report builds the StatusReport of cfg, reading the state file once.
func report(cfg config) StatusReport {
	r := StatusReport{
		ConfigPath:  cfg.path,
		ConfigState: ConfigNotRead,
		Counters:    map[string]int64{},
		Pending:     []state.Event{},
		Sent:        []state.Event{},
	}
	if d, ok := early(cfg); ok && byEnvironment(cfg, d) || cfg.path == "" {
		r.Decision = d
		return r
	}
	if d, bad := badPath(cfg); bad {
		r.Decision = d
		return r
	}
	store := state.New(cfg.path)
	st, err := loadState(store)
	var setting *bool
	if st != nil {
		setting = st.TelemetryEnabled
	}
	r.Decision = decide(cfg, setting, err)
	switch {
	case err == nil:
		r.fill(store, st)
	case errors.Is(err, fs.ErrNotExist):
		r.ConfigState = ConfigMissing
	default:
		// The Decision's reason says why the file cannot be used.
		r.ConfigState = ConfigUnusable
	}
	return r
}

func (r *StatusReport) fill(store *state.Store, st *state.State) {
	r.ConfigState = ConfigPresent
	r.TelemetryEnabled = st.TelemetryEnabled
	if st.UserID != "" {
		id, created := st.UserID, st.CreatedAt
		r.UserID, r.CreatedAt = &id, &created
	}
	if c := unsentCounts(store, st); c != nil {
		r.Counters = c
	}
	r.LastHeartbeatAt = st.LastHeartbeatAt
	if st.Pending != nil {
		r.Pending = st.Pending
	}
	if st.Sent != nil {
		r.Sent = st.Sent
	}
	r.Delivery = st.Delivery
}

// The state file is read and changed by the four functions below, and
// nowhere else in this file.

// loadState reads the state file; it creates nothing.
func loadState(store *state.Store) (*state.State, error) {
	return store.Load()
}

// unsentCounts returns every count of the installation not in an event
// yet, by heartbeat key, wherever it is kept (the file's counters, the
// journal beside it).
func unsentCounts(store *state.Store, st *state.State) map[string]int64 {
	if c, err := store.Counts(); err == nil {
		return c
	}
	return st.Counters
}

// writeEnabled records telemetry_enabled: on.
func writeEnabled(ctx context.Context, store *state.Store, on bool) error {
	return store.Update(ctx, func(st *state.State) error {
		st.SetEnabled(on)
		return nil
	})
}

// resetInstallation gives the installation a new identity and drops every
// count and event of the old one. Without a state file it changes nothing
// and returns an fs.ErrNotExist error: creating one here would make an
// identity without the First run the exporter queues for a new one.
func resetInstallation(ctx context.Context, store *state.Store, now time.Time) error {
	if _, err := loadState(store); err != nil {
		return err
	}
	// A fold, so that the journal's counts are dropped with the rest.
	return store.Fold(ctx, func(st *state.State) error {
		if !st.Existed() {
			return fs.ErrNotExist
		}
		st.UserID = ""
		st.EnsureUserID(now)
		st.Counters, st.LastHeartbeatAt, st.Pending, st.Sent = nil, nil, nil, nil
		st.Delivery = state.Delivery{}
		return nil
	})
}
