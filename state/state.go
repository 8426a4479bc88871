package state

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// State is the content of the state file.
//
// Keys this version does not know are kept in Extra and written back
// unchanged, so a newer or older program sharing the file loses nothing.
type State struct {
	// UserID is a random UUID v4: the only identifier ever sent.
	UserID string `yaml:"user_id,omitempty"`
	// TelemetryEnabled is the user's own switch; nil means "not set".
	TelemetryEnabled *bool `yaml:"telemetry_enabled,omitempty"`
	// CreatedAt is when UserID was made.
	CreatedAt time.Time `yaml:"created_at,omitempty"`
	// Counters holds the counts not yet reported, by heartbeat key.
	Counters map[string]int64 `yaml:"counters,omitempty"`
	// LastHeartbeatAt is when the last Heartbeat was built, nil before the first.
	LastHeartbeatAt *time.Time `yaml:"last_heartbeat_at"`
	// Pending is the outbox: events built but not yet acknowledged.
	Pending []Event `yaml:"pending"`
	// Sent holds the last acknowledged event of each name, exactly as sent.
	Sent []Event `yaml:"sent"`
	// Extra holds the keys this version does not know.
	Extra map[string]any `yaml:",inline"`

	existed bool
}

// Event is one telemetry event, fixed when it is built: its UUID and
// Timestamp never change across retries, which lets PostHog drop duplicates.
type Event struct {
	UUID       string         `yaml:"uuid" json:"uuid"`
	Event      string         `yaml:"event" json:"event"`
	DistinctID string         `yaml:"distinct_id" json:"distinct_id"`
	Timestamp  time.Time      `yaml:"timestamp" json:"timestamp"`
	Properties map[string]any `yaml:"properties" json:"properties"`
	// LeaseUntil marks an event a process is sending: others leave it alone
	// until then, so concurrent processes do not send it twice. It is never
	// sent.
	LeaseUntil *time.Time `yaml:"lease_until,omitempty" json:"-"`
}

// Existed reports whether the state was read from a file, as opposed to
// starting empty because there was no file yet.
func (s *State) Existed() bool { return s.existed }

// EnsureUserID gives the state a fresh random user_id and created_at = now
// when it has none, and reports whether it did: the caller's cue that this
// is a new installation.
func (s *State) EnsureUserID(now time.Time) (created bool, err error) {
	if s.UserID != "" {
		return false, nil
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return false, fmt.Errorf("state: new user id: %w", err)
	}
	s.UserID = id.String()
	s.CreatedAt = now.UTC()
	return true, nil
}

// Enabled returns the user's telemetry_enabled setting and whether it is set.
func (s *State) Enabled() (enabled, set bool) {
	if s.TelemetryEnabled == nil {
		return false, false
	}
	return *s.TelemetryEnabled, true
}

// SetEnabled records the user's telemetry_enabled setting.
func (s *State) SetEnabled(on bool) { s.TelemetryEnabled = &on }

// validate rejects content that parses but must not be trusted: an
// identifier that is not a UUID could carry anything (an email, a name) and
// would be sent as distinct_id.
func (s *State) validate() error {
	if s.UserID != "" {
		if _, err := uuid.Parse(s.UserID); err != nil {
			return errors.New("user_id is not a UUID")
		}
	}
	for name, n := range s.Counters {
		if n < 0 {
			return fmt.Errorf("counter %q is negative", name)
		}
	}
	return nil
}
