package state

import (
	"bytes"
	"reflect"
	"strconv"
)

// countersHead starts the counters block in the files marshal writes.
const countersHead = "counters:\n"

// spliceCounters returns old with its counters lines rewritten to hold now,
// where old holds was and a state that differs from the new one in its
// counters only. Every other byte of old is kept, so the result decodes to
// the new state without encoding anything else (the encoder, run once in a
// short-lived process, costs a CLI run more than the rest of its update).
//
// It only touches a block it can read in full: one "counters:" line at the
// top level, followed by exactly the lines "    name: count" of was, in
// marshal's order. Anything else (a comment, another layout, a name outside
// the plain form) returns false, and the caller encodes the whole file.
func spliceCounters(old []byte, was, now map[string]int64) ([]byte, bool) {
	keys, ok := plainCounterKeys(now)
	if !ok || len(was) == 0 {
		return nil, false
	}
	start, end, ok := countersBlock(old, was)
	if !ok {
		return nil, false
	}
	b := make([]byte, 0, len(old)-(end-start)+countersSize(keys))
	b = append(b, old[:start]...)
	b = appendCounters(b, keys, now)
	return append(b, old[end:]...), true
}

// countersBlock finds the lines of old that hold the counters was: the
// bytes from the line after the only top-level "counters:" line up to the
// next line that is not indented.
func countersBlock(old []byte, was map[string]int64) (start, end int, ok bool) {
	// A flow-style document could hold the same lines with another meaning.
	if t := bytes.TrimLeft(old, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return 0, 0, false
	}
	head := -1
	for i := 0; i < len(old); {
		j := bytes.Index(old[i:], []byte(countersHead))
		if j < 0 {
			break
		}
		if at := i + j; at == 0 || old[at-1] == '\n' {
			if head >= 0 {
				return 0, 0, false
			}
			head = at
		}
		i += j + 1
	}
	if head < 0 {
		return 0, 0, false
	}
	start = head + len(countersHead)
	n, prev := 0, ""
	for end = start; end < len(old) && old[end] == ' '; {
		nl := bytes.IndexByte(old[end:], '\n')
		if nl < 0 {
			return 0, 0, false
		}
		k, v, ok := counterLine(old[end : end+nl])
		// In marshal's order, each name once: a repeated or reordered
		// name falls back to the encoder.
		if !ok || (n > 0 && !keyLess(prev, k)) {
			return 0, 0, false
		}
		if w, found := was[k]; !found || w != v {
			return 0, 0, false
		}
		n, prev = n+1, k
		end += nl + 1
	}
	return start, end, n == len(was)
}

// counterLine reads a line "    name: count" as marshal writes it.
func counterLine(line []byte) (name string, n int64, ok bool) {
	const indent = "    "
	if !bytes.HasPrefix(line, []byte(indent)) {
		return "", 0, false
	}
	k, v, found := bytes.Cut(line[len(indent):], []byte(": "))
	if !found || !plainKey(string(k)) || len(v) == 0 || len(v) > 19 || (v[0] == '0' && len(v) > 1) {
		return "", 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return string(k), n, err == nil
}

// countersSize is a bound on what appendCounters adds for keys.
func countersSize(keys []string) int {
	size := 0
	for _, k := range keys {
		size += 4 + len(k) + 2 + 20 + 1
	}
	return size
}

// appendCounters appends the lines of the counters block, keys in order.
func appendCounters(b []byte, keys []string, counters map[string]int64) []byte {
	for _, k := range keys {
		b = append(b, "    "...)
		b = append(b, k...)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, counters[k], 10)
		b = append(b, '\n')
	}
	return b
}

// sameButCounters reports whether a and b differ at most in their
// counters. It errs towards false: a difference it cannot rule out (an
// equal time in another location, an empty map for a missing one) only
// costs a full encode.
func sameButCounters(a, b *State) bool {
	return a.UserID == b.UserID &&
		equalPtr(a.TelemetryEnabled, b.TelemetryEnabled) &&
		a.CreatedAt == b.CreatedAt && // == rather than Equal: another location writes other bytes
		equalPtr(a.LastHeartbeatAt, b.LastHeartbeatAt) &&
		equalEvents(a.Pending, b.Pending) &&
		equalEvents(a.Sent, b.Sent) &&
		reflect.DeepEqual(a.Extra, b.Extra)
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalEvents(a, b []Event) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.UUID != y.UUID || x.Event != y.Event || x.DistinctID != y.DistinctID ||
			x.Timestamp != y.Timestamp || !equalPtr(x.LeaseUntil, y.LeaseUntil) ||
			!reflect.DeepEqual(x.Properties, y.Properties) {
			return false
		}
	}
	return true
}

// optedOut reports whether the state holds the user's "off".
func (s *State) optedOut() bool {
	on, set := s.Enabled()
	return set && !on
}
