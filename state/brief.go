package state

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// The brief is one line of space-separated fields: the version of
// config.yaml it was derived from, then the Brief. It is read by every run,
// and a JSON decoder's first use in a process cost more than the rest of a
// run's telemetry (0.1-0.15 ms, measured); these fields need none.
const briefTag = "idun-brief/1"

// fileID tells versions of a file apart without reading them: a writer
// renames a new file over the old one (a new inode; on Windows, where there
// is none here, a new modification time).
type fileID struct {
	Size, ModTime int64
	Inode         uint64
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Inode: inode(fi)}
}

func encodeBrief(id fileID, b Brief) []byte {
	f := []string{briefTag, strconv.FormatInt(id.Size, 10), strconv.FormatInt(id.ModTime, 10),
		strconv.FormatInt(int64(id.Inode), 10), "-" + b.UserID, "-", nanos(&b.CreatedAt), nanos(b.LastHeartbeatAt),
		strconv.Itoa(b.Counters), strconv.Itoa(b.Pending), nanos(b.NextAttemptAt)}
	if b.TelemetryEnabled != nil {
		f[5] = strconv.FormatBool(*b.TelemetryEnabled)
	}
	return []byte(strings.Join(f, " ") + "\n")
}

// decodeBrief reads what encodeBrief wrote; ok is false for anything else.
func decodeBrief(raw []byte) (id fileID, b Brief, ok bool) {
	f := strings.Fields(string(raw))
	if len(f) != 11 || f[0] != briefTag {
		return id, b, false
	}
	var p fields
	id = fileID{p.int(f[1]), p.int(f[2]), uint64(p.int(f[3]))}
	b = Brief{UserID: strings.TrimPrefix(f[4], "-"), TelemetryEnabled: p.bool(f[5]), LastHeartbeatAt: p.time(f[7]),
		Counters: int(p.int(f[8])), Pending: int(p.int(f[9])), NextAttemptAt: p.time(f[10])}
	if t := p.time(f[6]); t != nil {
		b.CreatedAt = *t
	}
	return id, b, p.err == nil
}

// fields parses the brief's fields, keeping the first error; "-" is none.
type fields struct{ err error }

func (p *fields) int(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.err = err
	}
	return n
}

func (p *fields) bool(s string) *bool {
	if s == "-" {
		return nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		p.err = err
	}
	return &on
}

func (p *fields) time(s string) *time.Time {
	if s == "-" {
		return nil
	}
	t := time.Unix(0, p.int(s)).UTC()
	return &t
}

// nanos writes a time as Unix nanoseconds, "-" for none (or the zero time,
// which nanoseconds cannot hold).
func nanos(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

// cachedBrief returns the brief while config.yaml is the version it was
// derived from. The one a Store last read or wrote is kept: a run's exit
// then costs one stat, not a second read.
func (s *Store) cachedBrief() (Brief, bool) {
	fi, err := os.Stat(s.path)
	if err != nil || !fi.Mode().IsRegular() {
		return Brief{}, false
	}
	now := idOf(fi)
	s.mu.Lock()
	known := s.known
	s.mu.Unlock()
	if known != nil && known.id == now {
		return known.brief, true
	}
	raw, _, err := readFile(s.beside(BriefName), 4096)
	if err != nil {
		return Brief{}, false
	}
	id, b, ok := decodeBrief(raw)
	if ok && id == now {
		s.keep(id, b)
	}
	return b, ok && id == now
}

// knownBrief is a brief and the version of config.yaml it describes.
type knownBrief struct {
	id    fileID
	brief Brief
}

// keep remembers the brief of version id of config.yaml.
func (s *Store) keep(id fileID, b Brief) {
	s.mu.Lock()
	s.known = &knownBrief{id, b}
	s.mu.Unlock()
}

// writeBrief needs no lock: a brief names the version it was derived from,
// and one stale or torn by two writers at once is not used.
func (s *Store) writeBrief(b Brief, id fileID) {
	if writeFile(s.beside(BriefName), encodeBrief(id, b), false) == nil {
		s.keep(id, b)
	}
}
