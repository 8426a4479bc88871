package exporter

import (
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// Event names.
const (
	EventFirstRun  = "First run"
	EventHeartbeat = "Heartbeat"
)

// newEvent fixes an event's identity, time and properties when it is built:
// a retry must resend exactly the same event for PostHog to drop duplicates.
func newEvent(name, userID string, now time.Time, props map[string]any, policy sanitize.Policy) (state.Event, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return state.Event{}, err
	}
	return state.Event{
		UUID:       id.String(),
		Event:      name,
		DistinctID: userID,
		Timestamp:  now.UTC(),
		Properties: policy.Properties(props),
	}, nil
}

// heartbeatBase is the time the next Heartbeat counts from. A base in the
// future (a clock that was wrong, or moved back) is pulled back to now, so it
// delays the next Heartbeat by a day at most instead of silencing it.
func heartbeatBase(b state.Brief, now time.Time) time.Time {
	base := b.CreatedAt
	if b.LastHeartbeatAt != nil {
		base = *b.LastHeartbeatAt
	}
	if base.After(now) {
		return now
	}
	return base
}

// heartbeatDue reports whether counts go out in a Heartbeat now. They do a
// day after the last Heartbeat (or the installation's creation). With soon,
// which an Export carrying the process's own counts gets until the process
// has queued a Heartbeat, they also do when the installation has never sent
// one (its first run may be its last: a container without a volume keeps no
// file) and when ci is true (a CI job's HOME dies with the job). No counts,
// no Heartbeat.
func heartbeatDue(b state.Brief, now time.Time, soon, ci bool) bool {
	if b.Counters == 0 && !b.Journal { // no counts, in config.yaml or the journal
		return false
	}
	if soon && (b.LastHeartbeatAt == nil || ci) {
		return true
	}
	return now.Sub(heartbeatBase(b, now)) >= HeartbeatInterval
}

// fixClock repairs a last_heartbeat_at or created_at in the future, which
// heartbeatBase would otherwise pull back to a moving "now" forever. A
// created_at in the future is repaired itself, not by inventing a
// last_heartbeat_at: the installation has still never sent a Heartbeat (see
// heartbeatDue). It is also what a process sees whose clock was read before
// it waited for the lock while another created the file.
func fixClock(st *state.State, now time.Time) {
	if st.LastHeartbeatAt != nil && st.LastHeartbeatAt.After(now) {
		t := now.UTC()
		st.LastHeartbeatAt = &t
	}
	if st.CreatedAt.After(now) {
		st.CreatedAt = now.UTC()
	}
}

// queueHeartbeat moves the counters into one Heartbeat in the outbox. Only the
// counters that made it through the sanitizer leave st.Counters: one that
// did not fit (the payload cap) waits for the next Heartbeat, one that can
// never be sent (a bad name) is dropped.
func queueHeartbeat(st *state.State, now time.Time, props map[string]any, policy sanitize.Policy) error {
	for name, n := range st.Counters {
		if key, ok := sanitize.CounterName(name); !ok || key != name || n <= 0 {
			delete(st.Counters, name)
			continue
		}
		props[name] = n
	}
	ev, err := newEvent(EventHeartbeat, st.UserID, now, props, policy)
	if err != nil {
		return err
	}
	for name := range maps.Clone(st.Counters) {
		if _, sent := ev.Properties[name]; sent {
			delete(st.Counters, name)
		}
	}
	t := now.UTC()
	st.LastHeartbeatAt = &t
	enqueue(st, ev)
	return nil
}

// enqueue adds ev to the outbox, dropping the oldest events past MaxPending.
func enqueue(st *state.State, ev state.Event) {
	st.Pending = append(st.Pending, ev)
	trimPending(st)
}

func trimPending(st *state.State) {
	if n := len(st.Pending) - MaxPending; n > 0 {
		st.Pending = append([]state.Event(nil), st.Pending[n:]...)
	}
}

// acknowledge removes acknowledged events from the outbox and keeps the
// last one of each name, exactly as sent, in st.Sent.
func acknowledge(st *state.State, acked []state.Event) {
	done := make(map[string]bool, len(acked))
	for _, ev := range acked {
		done[ev.UUID] = true
		replaced := false
		for i := range st.Sent {
			if st.Sent[i].Event == ev.Event {
				st.Sent[i], replaced = ev, true
			}
		}
		if !replaced {
			st.Sent = append(st.Sent, ev)
		}
	}
	kept := st.Pending[:0]
	for _, ev := range st.Pending {
		if !done[ev.UUID] {
			kept = append(kept, ev)
		}
	}
	st.Pending = kept
}
