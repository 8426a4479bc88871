package state

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// The brief is one line: a tag, "-" and the user_id, then integers: the
// version of config.yaml it was derived from and the Brief's fields, times
// in Unix microseconds (0 for none), the setting as -1 (unset), 0 or 1.
// Every run reads it: a JSON decoder's first use in a process cost more
// than the rest of a run's telemetry (0.1-0.15 ms); strconv costs a few µs.
const briefTag = "idun-brief/2"

// fileID tells versions of a file apart without reading them: a writer
// renames a new file over the old one (a new inode; on Windows, where there
// is none here, a new modification time).
type fileID struct{ Size, ModTime, Inode int64 }

func idOf(fi fs.FileInfo) fileID {
	return fileID{fi.Size(), fi.ModTime().UnixNano(), int64(inode(fi))}
}

func encodeBrief(id fileID, b Brief) []byte {
	on := int64(-1)
	if b.TelemetryEnabled != nil {
		on = 0
		if *b.TelemetryEnabled {
			on = 1
		}
	}
	line := []byte(briefTag + " -" + b.UserID)
	for _, n := range []int64{id.Size, id.ModTime, id.Inode, on, micros(&b.CreatedAt),
		micros(b.LastHeartbeatAt), int64(b.Counters), int64(b.Pending), micros(b.NextAttemptAt)} {
		line = strconv.AppendInt(append(line, ' '), n, 10)
	}
	return append(line, '\n')
}

// decodeBrief reads what encodeBrief wrote; ok is false for anything else.
func decodeBrief(raw []byte) (id fileID, b Brief, ok bool) {
	f := strings.Fields(string(raw))
	if len(f) != 11 || f[0] != briefTag || !strings.HasPrefix(f[1], "-") {
		return id, b, false
	}
	var n [9]int64
	for i := range n {
		var err error
		if n[i], err = strconv.ParseInt(f[i+2], 10, 64); err != nil || i == 3 && (n[i] < -1 || n[i] > 1) {
			return id, b, false
		}
	}
	b = Brief{UserID: f[1][1:], LastHeartbeatAt: at(n[5]), Counters: int(n[6]), Pending: int(n[7]), NextAttemptAt: at(n[8])}
	if t := at(n[4]); t != nil {
		b.CreatedAt = *t
	}
	if n[3] >= 0 {
		on := n[3] == 1
		b.TelemetryEnabled = &on
	}
	return fileID{n[0], n[1], n[2]}, b, true
}

// micros and at write and read a time; microseconds hold any year a YAML
// timestamp can, nanoseconds only up to 2262.
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

// cachedBrief returns the brief while config.yaml is the version it was
// derived from.
func (s *Store) cachedBrief() (Brief, bool) {
	raw, _, err := readFile(s.beside(BriefName), 4096)
	fi, err2 := os.Stat(s.path)
	if err != nil || err2 != nil || !fi.Mode().IsRegular() {
		return Brief{}, false
	}
	id, b, ok := decodeBrief(raw)
	return b, ok && id == idOf(fi)
}

// writeBrief needs no lock: a brief names the version it was derived from,
// and one stale or torn by two writers at once is not used.
func (s *Store) writeBrief(b Brief, id fileID) {
	_ = writeFile(s.beside(BriefName), encodeBrief(id, b), false)
}
