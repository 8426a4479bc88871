package state

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// The brief is one line of fields: the version of config.yaml it was
// derived from, then the Brief. Every run reads it: a JSON decoder's first
// use in a process cost more than the rest of a run's telemetry (0.1-0.15
// ms), and fmt's scanning a third of that; strconv costs a few µs.
const briefTag = "idun-brief/1"

// fileID tells versions of a file apart without reading them: a writer
// renames a new file over the old one (a new inode; on Windows, where there
// is none here, a new modification time).
type fileID struct{ Size, ModTime, Inode int64 }

func idOf(fi fs.FileInfo) fileID {
	return fileID{fi.Size(), fi.ModTime().UnixNano(), int64(inode(fi))}
}

func encodeBrief(id fileID, b Brief) []byte {
	on := "-"
	if b.TelemetryEnabled != nil {
		on = strconv.FormatBool(*b.TelemetryEnabled)
	}
	f := []string{briefTag, itoa(id.Size), itoa(id.ModTime), itoa(id.Inode), "-" + b.UserID, on, nanos(&b.CreatedAt),
		nanos(b.LastHeartbeatAt), itoa(int64(b.Counters)), itoa(int64(b.Pending)), nanos(b.NextAttemptAt)}
	return []byte(strings.Join(f, " ") + "\n")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// decodeBrief reads what encodeBrief wrote; ok is false for anything else.
func decodeBrief(raw []byte) (id fileID, b Brief, ok bool) {
	f := strings.Fields(string(raw))
	if len(f) != 11 || f[0] != briefTag || !strings.HasPrefix(f[4], "-") {
		return id, b, false
	}
	n := make([]int64, 5)
	for i, at := range []int{1, 2, 3, 8, 9} {
		var err error
		if n[i], err = strconv.ParseInt(f[at], 10, 64); err != nil {
			return id, b, false
		}
	}
	id, b.UserID, b.Counters, b.Pending, ok = fileID{n[0], n[1], n[2]}, f[4][1:], int(n[3]), int(n[4]), true
	if f[5] != "-" {
		v, err := strconv.ParseBool(f[5])
		b.TelemetryEnabled, ok = &v, err == nil
	}
	t, okC := unnanos(f[6])
	if t != nil {
		b.CreatedAt = *t
	}
	var okL, okN bool
	b.LastHeartbeatAt, okL = unnanos(f[7])
	b.NextAttemptAt, okN = unnanos(f[10])
	return id, b, ok && okC && okL && okN
}

// nanos writes a time as Unix nanoseconds, "-" for none (or the zero time,
// which nanoseconds cannot hold).
func nanos(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func unnanos(s string) (*time.Time, bool) {
	if s == "-" {
		return nil, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	t := time.Unix(0, n).UTC()
	return &t, err == nil
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
