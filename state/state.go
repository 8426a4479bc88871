package state

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// State is the content of the state file. Keys this version does not know
// are kept in Extra and written back unchanged, so that a newer or older
// program sharing the file loses nothing.
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
	// Delivery is the outbox's send schedule, shared by every process.
	Delivery Delivery `yaml:"delivery,omitempty"`
	// Folded names the journal files the last fold added to Counters.
	Folded []string `yaml:"folded_journals,omitempty"`
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
}

// Delivery is the outbox's send schedule; the zero value means "send now".
type Delivery struct {
	// NextAttemptAt is the earliest time any process may try to send.
	NextAttemptAt *time.Time `yaml:"next_attempt_at,omitempty" json:"next_attempt_at,omitempty"`
	// Failures counts the attempts since the last success.
	Failures int `yaml:"failures,omitempty" json:"failures,omitempty"`
	// LastFailure is the last failure's kind ("timeout", "http 500"...).
	LastFailure string `yaml:"last_failure,omitempty" json:"last_failure,omitempty"`
	// Rejected counts the events PostHog refused as malformed, dropped.
	Rejected int `yaml:"rejected,omitempty" json:"rejected,omitempty"`
}

// Brief is what a run needs of the state to learn whether anything is due
// (see Store.Peek): Counters and Pending are counts of entries.
type Brief struct {
	UserID            string
	TelemetryEnabled  *bool
	CreatedAt         time.Time
	LastHeartbeatAt   *time.Time
	Counters, Pending int
	NextAttemptAt     *time.Time
	// Journal: the journal holds counts (read at each Peek, never cached).
	Journal bool
}

// Brief returns what Peek would return for s.
func (s *State) Brief() Brief {
	return Brief{s.UserID, s.TelemetryEnabled, s.CreatedAt, s.LastHeartbeatAt, len(s.Counters), len(s.Pending), s.Delivery.NextAttemptAt, false}
}

// Existed reports whether the state was read from a file.
func (s *State) Existed() bool { return s.existed }

// EnsureUserID gives the state a fresh random user_id and created_at = now
// when it has none, and reports whether it did: the caller's cue that this
// is a new installation. It cannot fail: crypto/rand does not, since Go 1.24.
func (s *State) EnsureUserID(now time.Time) (created bool) {
	if s.UserID != "" {
		return false
	}
	s.UserID, s.CreatedAt = uuid.NewString(), now.UTC()
	return true
}

// Enabled returns the user's telemetry_enabled setting and whether it is set.
func (s *State) Enabled() (on, set bool) { t := s.TelemetryEnabled; return t != nil && *t, t != nil }

// SetEnabled records the user's telemetry_enabled setting.
func (s *State) SetEnabled(on bool) { s.TelemetryEnabled = &on }

// validate rejects what parses but must not be trusted: a user_id that is
// not a UUID could carry anything (an email) and would be sent.
func (s *State) validate() error {
	if _, err := uuid.Parse(s.UserID); err != nil && s.UserID != "" {
		return errors.New("user_id is not a UUID")
	}
	for name, n := range s.Counters {
		if n < 0 {
			return fmt.Errorf("counter %q is negative", name)
		}
	}
	return nil
}
