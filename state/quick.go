package state

import (
	"bytes"
	"strconv"
	"time"
)

// parseQuick reads a file in the form marshal writes it, the form of every
// file this package has written, without yaml.v3. A CLI run reads its state
// file once, in a fresh process, where yaml.v3's first decode costs 0.3 to
// 0.6 ms; this reader costs a few microseconds. It knows a narrow subset
// only: the known keys in marshal's order, block style, plain scalars it
// can read without doubt. For anything else it returns false and parse
// hands the file to yaml.v3. FuzzParseQuick checks that whatever it accepts
// decodes exactly as yaml.v3 decodes it.
func parseQuick(b []byte) (*State, bool) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, false
	}
	q := quick{rest: b}
	st := &State{}
	order := 0 // index in topKeys of the next key allowed
	for !q.done() {
		line := q.next()
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, false
		}
		k := 0
		for k < len(topKeys) && topKeys[k] != string(key) {
			k++
		}
		if k < order || k == len(topKeys) {
			return nil, false
		}
		order = k + 1
		if !q.top(st, k, val) {
			return nil, false
		}
	}
	return st, true
}

// topKeys are the State's keys in the order marshal writes them.
var topKeys = [...]string{"user_id", "telemetry_enabled", "created_at", "counters", "last_heartbeat_at", "pending", "sent"}

// quick reads a file line by line.
type quick struct{ rest []byte }

func (q *quick) done() bool { return len(q.rest) == 0 }

// next returns the next line, without its newline.
func (q *quick) next() []byte {
	i := bytes.IndexByte(q.rest, '\n')
	line := q.rest[:i]
	q.rest = q.rest[i+1:]
	return line
}

// peekIndented reports whether the next line starts with indent.
func (q *quick) peekIndented(indent string) bool {
	return bytes.HasPrefix(q.rest, []byte(indent))
}

// top reads the value of topKeys[k], val being the rest of its line.
func (q *quick) top(st *State, k int, val []byte) bool {
	switch topKeys[k] {
	case "user_id":
		s, ok := plainString(val)
		st.UserID = s
		return ok
	case "telemetry_enabled":
		on, ok := boolValue(val)
		st.TelemetryEnabled = &on
		return ok
	case "created_at":
		t, ok := timeValue(val)
		st.CreatedAt = t
		return ok
	case "counters":
		return q.counters(st, val)
	case "last_heartbeat_at":
		if string(val) == " null" {
			return true
		}
		t, ok := timeValue(val)
		st.LastHeartbeatAt = &t
		return ok
	case "pending":
		return q.events(&st.Pending, val)
	default: // sent
		return q.events(&st.Sent, val)
	}
}

func (q *quick) counters(st *State, val []byte) bool {
	if len(val) != 0 {
		return false
	}
	st.Counters = make(map[string]int64)
	for q.peekIndented(" ") {
		k, n, ok := counterLine(q.next())
		if _, dup := st.Counters[k]; !ok || dup {
			return false
		}
		st.Counters[k] = n
	}
	return len(st.Counters) > 0
}

// Indents of an event list as marshal writes it.
const (
	itemIndent  = "    - "
	fieldIndent = "      "
	propIndent  = "        "
)

// eventKeys are an Event's keys in the order marshal writes them.
var eventKeys = [...]string{"uuid", "event", "distinct_id", "timestamp", "properties", "lease_until"}

func (q *quick) events(out *[]Event, val []byte) bool {
	if string(val) == " []" {
		*out = []Event{}
		return true
	}
	if len(val) != 0 || !q.peekIndented(itemIndent) {
		return false
	}
	var evs []Event
	for q.peekIndented(itemIndent) {
		var ev Event
		order := 0
		for first := true; first || q.peekIndented(fieldIndent); first = false {
			line := q.next()[len(fieldIndent):] // itemIndent is as long
			key, val, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return false
			}
			k := 0
			for k < len(eventKeys) && eventKeys[k] != string(key) {
				k++
			}
			if k < order || k == len(eventKeys) {
				return false
			}
			order = k + 1
			if !q.eventField(&ev, k, val) {
				return false
			}
		}
		evs = append(evs, ev)
	}
	*out = evs
	return true
}

func (q *quick) eventField(ev *Event, k int, val []byte) (ok bool) {
	switch eventKeys[k] {
	case "uuid":
		ev.UUID, ok = plainString(val)
	case "event":
		ev.Event, ok = plainString(val)
	case "distinct_id":
		ev.DistinctID, ok = plainString(val)
	case "timestamp":
		ev.Timestamp, ok = timeValue(val)
	case "properties":
		ev.Properties, ok = q.properties(val)
	default: // lease_until
		var t time.Time
		t, ok = timeValue(val)
		ev.LeaseUntil = &t
	}
	return ok
}

func (q *quick) properties(val []byte) (map[string]any, bool) {
	if string(val) == " {}" {
		return map[string]any{}, true
	}
	if len(val) != 0 {
		return nil, false
	}
	props := make(map[string]any)
	for q.peekIndented(propIndent) {
		line := q.next()[len(propIndent):]
		key, val, ok := bytes.Cut(line, []byte(": "))
		if !ok || !plainPropertyKey(key) || reserved(key) {
			return nil, false
		}
		v, ok := scalar(val)
		if _, dup := props[string(key)]; !ok || dup {
			return nil, false
		}
		props[string(key)] = v
	}
	return props, len(props) > 0
}

// plainPropertyKey accepts the keys the sanitizer lets through: a letter or
// '$', then letters, digits, '.', '_' and '-'.
func plainPropertyKey(k []byte) bool {
	if len(k) == 0 || !(isLetter(k[0]) || k[0] == '$') {
		return false
	}
	for _, c := range k[1:] {
		if !isLetter(c) && !isDigit(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// scalar reads a property value: true, false, null, a decimal int, or a
// plain string.
func scalar(v []byte) (any, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	}
	if n, ok := decimal(v); ok {
		return n, true
	}
	return plainString(append([]byte{' '}, v...))
}

// decimal reads an int written without sign other than '-', leading zero
// or separator.
func decimal(v []byte) (int, bool) {
	d := v
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 || (d[0] == '0' && (len(d) > 1 || len(v) > len(d))) {
		return 0, false
	}
	for _, c := range d {
		if !isDigit(c) {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}

// plainString reads " value", a string yaml.v3 cannot read as anything
// else: a letter, then letters, digits, spaces and ._/+-, not ending in a
// space and not a word YAML gives another meaning; a version such as 1.5.2
// (digits and at least two dots); or a UUID in its canonical form.
func plainString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != ' ' {
		return "", false
	}
	s := val[1:]
	if isVersion(s) || isUUID(s) {
		return string(s), true
	}
	if !isLetter(s[0]) || s[len(s)-1] == ' ' || reserved(s) {
		return "", false
	}
	for i, c := range s {
		switch {
		case isLetter(c), isDigit(c), c == '.', c == '_', c == '/', c == '+', c == '-':
		case c == ' ' && s[i-1] != ' ':
		default:
			return "", false
		}
	}
	return string(s), true
}

// isUUID reports the 8-4-4-4-12 form in lowercase hexadecimal.
func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isVersion(s []byte) bool {
	dots := 0
	for i, c := range s {
		switch {
		case isDigit(c):
		case c == '.' && i > 0 && s[i-1] != '.':
			dots++
		default:
			return false
		}
	}
	return dots >= 2 && s[len(s)-1] != '.'
}

// reserved reports the words YAML 1.1 or 1.2 reads as booleans or null.
func reserved(s []byte) bool {
	switch string(bytes.ToLower(s)) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return true
	}
	return false
}

func boolValue(val []byte) (bool, bool) {
	switch string(val) {
	case " true":
		return true, true
	case " false":
		return false, true
	}
	return false, false
}

// timeValue reads a UTC time as marshal writes it (RFC 3339, 'Z').
func timeValue(val []byte) (time.Time, bool) {
	if len(val) < 2 || val[0] != ' ' || val[len(val)-1] != 'Z' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(val[1:]))
	return t, err == nil && t.Year() >= 1 && t.Year() <= 9999
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
