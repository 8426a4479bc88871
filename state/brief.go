package state

import (
	"bytes"
	"hash/fnv"
	"strconv"
	"time"
)

// config.yaml's first line is a YAML comment holding the Brief and a
// checksum of the file as written: a run learns that nothing is due without
// a YAML parse, and after a hand edit the line is ignored until the next
// write remakes it. Fields: "-" and the user_id, the setting (-1 unset, 0,
// 1), times in Unix µs (0 for none), the counts of counters and pending
// events, and the FNV-1a hash of the line before it and the rest. strconv
// and FNV cost no set-up: a JSON decoder's first use cost 0.1 ms, and
// CRC-32C's table, built at init, 0.1-0.3 ms of every program linking us.
const briefTag = "# idun brief/4, remade at each write:"

// checksum hashes a brief line without its checksum, then body.
func checksum(line, body []byte) uint64 {
	h := fnv.New64a()
	h.Write(line)
	h.Write(body)
	return h.Sum64()
}

// withBrief puts b's brief line before body, the YAML of its state.
func withBrief(b Brief, body []byte) []byte {
	on := int64(-1)
	if b.TelemetryEnabled != nil {
		on = 0
		if *b.TelemetryEnabled {
			on = 1
		}
	}
	line := []byte(briefTag + " -" + b.UserID)
	for _, n := range []int64{on, micros(&b.CreatedAt), micros(b.LastHeartbeatAt), int64(b.Counters), int64(b.Pending), micros(b.NextAttemptAt)} {
		line = strconv.AppendInt(append(line, ' '), n, 10)
	}
	line = strconv.AppendUint(append(line, ' '), checksum(line, body), 10)
	return append(append(line, '\n'), body...)
}

// briefOf reads the brief line of a file withBrief wrote; ok is false for
// anything else, a file edited since included.
func briefOf(raw []byte) (b Brief, ok bool) {
	line, body, _ := bytes.Cut(raw, []byte("\n"))
	i := bytes.LastIndexByte(line, ' ')
	rest, found := bytes.CutPrefix(line, []byte(briefTag+" "))
	f := bytes.Fields(rest)
	if !found || len(f) != 8 || f[0][0] != '-' || string(f[7]) != strconv.FormatUint(checksum(line[:i], body), 10) {
		return b, false
	}
	var n [6]int64
	for i := range n {
		var err error
		if n[i], err = strconv.ParseInt(string(f[i+1]), 10, 64); err != nil || i == 0 && (n[i] < -1 || n[i] > 1) {
			return b, false
		}
	}
	b = Brief{UserID: string(f[0][1:]), LastHeartbeatAt: at(n[2]), Counters: int(n[3]), Pending: int(n[4]), NextAttemptAt: at(n[5])}
	if t := at(n[1]); t != nil {
		b.CreatedAt = *t
	}
	if n[0] >= 0 {
		on := n[0] == 1
		b.TelemetryEnabled = &on
	}
	return b, true
}

func micros(t *time.Time) int64 {
	if t == nil || t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func at(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}
