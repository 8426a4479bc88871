package state

import (
	"bytes"
	"maps"
	"time"
)

// snapshot is the file as a Store last read or wrote it, with the State
// those bytes hold. An Update that finds the same bytes under the lock takes
// a copy of the State instead of parsing them again: a short-lived program
// (a CLI run) then parses its state file once, when the exporter starts, not
// a second time when it writes its counts at exit.
//
// The State is private to the Store, a deep copy of what callers hold, and
// keyed by the bytes, never by time or size: if anything else changed the
// file, the bytes differ and the file is parsed.
type snapshot struct {
	raw []byte
	st  *State
}

// remember keeps raw and a private copy of st, which must be what raw
// holds, for the next Update. A State holding values it cannot copy (a type
// other than those the YAML decoder produces) is not kept.
func (s *Store) remember(raw []byte, st *State) {
	c, ok := st.clone()
	if !ok {
		c = nil
	}
	s.keep(raw, c)
}

// keep makes st, which nobody else holds or changes, the snapshot of raw;
// nil forgets the snapshot.
func (s *Store) keep(raw []byte, st *State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known = nil
	if st != nil {
		st.existed = true
		s.known = &snapshot{raw: raw, st: st}
	}
}

// lookup returns the State of the snapshot when raw is its file. Nobody may
// change it: Update changes a clone.
func (s *Store) lookup(raw []byte) *State {
	s.mu.Lock()
	k := s.known
	s.mu.Unlock()
	if k == nil || !bytes.Equal(k.raw, raw) {
		return nil
	}
	return k.st
}

// clone returns a deep copy of s. ok is false when s holds a value of a type
// clone does not know, which it would have had to share.
func (s *State) clone() (c *State, ok bool) {
	cp := *s
	ok = true
	cp.TelemetryEnabled = clonePtr(s.TelemetryEnabled)
	cp.LastHeartbeatAt = clonePtr(s.LastHeartbeatAt)
	cp.Counters = maps.Clone(s.Counters)
	cp.Pending = cloneEvents(s.Pending, &ok)
	cp.Sent = cloneEvents(s.Sent, &ok)
	cp.Extra = cloneMap(s.Extra, &ok)
	return &cp, ok
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneEvents(evs []Event, ok *bool) []Event {
	if evs == nil {
		return nil
	}
	out := make([]Event, len(evs))
	for i, ev := range evs {
		ev.Properties = cloneMap(ev.Properties, ok)
		ev.LeaseUntil = clonePtr(ev.LeaseUntil)
		out[i] = ev
	}
	return out
}

func cloneMap(m map[string]any, ok *bool) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v, ok)
	}
	return out
}

// cloneValue copies the values the YAML decoder makes, and the scalars an
// Event is built with; any other type sets *ok to false.
func cloneValue(v any, ok *bool) any {
	switch v := v.(type) {
	case nil, string, bool, int, int64, uint64, float64, time.Time:
		return v
	case map[string]any:
		return cloneMap(v, ok)
	case map[any]any:
		if v == nil {
			return v
		}
		out := make(map[any]any, len(v))
		for k, e := range v {
			out[cloneValue(k, ok)] = cloneValue(e, ok)
		}
		return out
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e, ok)
		}
		return out
	default:
		*ok = false
		return v
	}
}
