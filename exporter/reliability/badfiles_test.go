//go:build unix

package reliability

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
)

// outcome is what a bad state file must lead to.
type outcome int

const (
	// unusable: telemetry off for the run, the file and its folder left
	// exactly as they were, nothing sent.
	unusable outcome = iota
	// unwritable: the file parses but cannot be changed; nothing changes on
	// disk and nothing is sent.
	unwritable
	// unlockable: the file parses but its lock cannot be taken (the lock
	// file is a folder): the file and the lock are left as they were and
	// nothing is sent, but the runs' counts wait in the journal, which
	// needs no lock.
	unlockable
	// usable: odd but valid; telemetry goes on, the file stays valid.
	usable
)

type badFile struct {
	name    string
	outcome outcome
	// nobody runs the programs as an unprivileged user (when the suite runs
	// as root), for the kinds that rely on permissions.
	nobody bool
	setup  func(t *testing.T, s *sandbox)
	// check gets the stand-in and the events it accepted that the file
	// held before the runs.
	check func(t *testing.T, s *sandbox, sink *posthogtest.Server, fromFile []posthogtest.Event)
}

// validState is a file as the exporter writes it, with a First run waiting.
func validState(userID string, extra string) string {
	return "user_id: " + userID + "\ntelemetry_enabled: true\ncreated_at: 2026-01-02T03:04:05Z\ncounters:\n  cli.version.count: 3\nlast_heartbeat_at: null\npending:\n  - uuid: " + uuid.NewString() + "\n    event: First run\n    distinct_id: " + userID + "\n    timestamp: 2026-01-02T03:04:05Z\n    properties:\n      os.family: Linux\nsent: []\n" + extra
}

func aliasBomb(under string) string {
	var b strings.Builder
	b.WriteString(under + ":\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString("  " + n + ": &" + n + " [")
		for i := range 9 {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = n
	}
	return b.String()
}

func badFiles() []badFile {
	id := uuid.NewString()
	raw := func(content string) func(t *testing.T, s *sandbox) {
		return func(t *testing.T, s *sandbox) { s.writeRaw([]byte(content)) }
	}
	valid := validState(id, "")
	return []badFile{
		{name: "empty", setup: raw("")},
		{name: "binary", setup: func(t *testing.T, s *sandbox) {
			b := make([]byte, 4096)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			s.writeRaw(b)
		}},
		{name: "truncated", setup: raw(valid[:len("user_id: ")+20])},
		{name: "truncated-mid-event", setup: raw(valid[:strings.Index(valid, "distinct_id:")+4])},
		{name: "wrong-type-counters", setup: raw("user_id: " + id + "\ncounters: lots\n")},
		{name: "wrong-type-created_at", setup: raw("user_id: " + id + "\ncreated_at: yesterday\n")},
		{name: "wrong-type-telemetry_enabled", setup: raw("user_id: " + id + "\ntelemetry_enabled: maybe\n")},
		{name: "wrong-type-pending", setup: raw("user_id: " + id + "\npending: {a: 1}\n")},
		{name: "not-a-mapping", setup: raw("- user_id\n- " + id + "\n")},
		{name: "alias-bomb", setup: raw("user_id: " + id + "\n" + aliasBomb("extra"))},
		{name: "alias-bomb-in-counters", setup: raw("user_id: " + id + "\n" + strings.Replace(aliasBomb("x"), "x:", "counters:", 1))},
		{name: "100MB", setup: func(t *testing.T, s *sandbox) {
			var b strings.Builder
			b.WriteString(valid)
			line := "# " + strings.Repeat("padding ", 12) + "\n"
			for b.Len() < 100<<20 {
				b.WriteString(line)
			}
			s.writeRaw([]byte(b.String()))
		}},
		{name: "folder", setup: func(t *testing.T, s *sandbox) {
			must(t, os.MkdirAll(filepath.Join(s.statePath(), "inside"), 0o700))
		}},
		{name: "symlink-loop", setup: func(t *testing.T, s *sandbox) {
			must(t, os.MkdirAll(filepath.Dir(s.statePath()), 0o700))
			must(t, os.Symlink("config.yaml", s.statePath()))
		}},
		{name: "symlink-to-device", setup: func(t *testing.T, s *sandbox) {
			must(t, os.MkdirAll(filepath.Dir(s.statePath()), 0o700))
			must(t, os.Symlink("/dev/zero", s.statePath()))
		}},
		{name: "named-pipe", setup: func(t *testing.T, s *sandbox) {
			must(t, os.MkdirAll(filepath.Dir(s.statePath()), 0o700))
			must(t, syscall.Mkfifo(s.statePath(), 0o600))
		}},
		{name: "mode-000", nobody: true, setup: func(t *testing.T, s *sandbox) {
			s.writeRaw([]byte(validState(id, "")))
			must(t, os.Chmod(s.statePath(), 0))
		}},
		{name: "read-only-folder", outcome: unwritable, nobody: true, setup: func(t *testing.T, s *sandbox) {
			s.writeRaw([]byte(validState(id, "")))
			must(t, os.Chmod(filepath.Dir(s.statePath()), 0o500))
		}},
		{name: "read-only-folder-with-lock", outcome: unwritable, nobody: true, setup: func(t *testing.T, s *sandbox) {
			s.writeRaw([]byte(validState(id, "")))
			must(t, os.WriteFile(s.statePath()+".lock", nil, 0o600))
			s.chownAll()
			must(t, os.Chmod(filepath.Dir(s.statePath()), 0o500))
		}},
		{name: "lock-is-a-folder", outcome: unlockable, setup: func(t *testing.T, s *sandbox) {
			s.writeRaw([]byte(validState(id, "")))
			must(t, os.Mkdir(s.statePath()+".lock", 0o700))
		}},
		{name: "app-folder-is-a-file", setup: func(t *testing.T, s *sandbox) {
			must(t, os.MkdirAll(s.config, 0o700))
			must(t, os.WriteFile(filepath.Dir(s.statePath()), []byte("not a folder"), 0o600))
		}},
		{name: "future-created_at", outcome: usable, setup: raw("user_id: " + id + "\ncreated_at: 2999-01-01T00:00:00Z\ncounters:\n  cli.version.count: 3\n"),
			check: func(t *testing.T, s *sandbox, sink *posthogtest.Server, _ []posthogtest.Event) {
				// The clock is repaired, and the installation, which never
				// sent a Heartbeat, sends its first at the first run's end.
				st := s.load()
				if st.CreatedAt.After(time.Now()) || st.LastHeartbeatAt == nil || st.LastHeartbeatAt.After(time.Now()) {
					t.Errorf("clock not repaired: created_at %v, last_heartbeat_at %v", st.CreatedAt, st.LastHeartbeatAt)
				}
				beats := eventsNamed(sink.Unique(), "Heartbeat")
				if len(sink.Unique()) != 1 || len(beats) != 1 || beats[0].Properties["cli.version.count"] == nil {
					t.Errorf("events %v, want one Heartbeat with the stored counts", sink.Unique())
				}
			}},
		{name: "negative-counters", setup: raw("user_id: " + id + "\ncounters:\n  cli.version.count: -5\n")},
		{name: "huge-outbox", outcome: usable, setup: func(t *testing.T, s *sandbox) {
			var b strings.Builder
			b.WriteString("user_id: " + id + "\ncreated_at: 2026-01-02T03:04:05Z\npending:\n")
			for b.Len() < 900<<10 {
				fmt.Fprintf(&b, "  - uuid: %s\n    event: Heartbeat\n    distinct_id: %s\n    timestamp: 2026-01-02T03:04:05Z\n    properties: {cli.version.count: 1, os.family: Linux}\n", uuid.NewString(), id)
			}
			s.writeRaw([]byte(b.String()))
		}, check: func(t *testing.T, s *sandbox, sink *posthogtest.Server, fromFile []posthogtest.Event) {
			if n := len(fromFile); n == 0 || n > exporter.MaxPending {
				t.Errorf("%d events sent from a huge outbox, want 1 to MaxPending = %d", n, exporter.MaxPending)
			}
			if st := s.load(); len(st.Pending) > exporter.MaxPending {
				t.Errorf("outbox still holds %d events, want at most %d", len(st.Pending), exporter.MaxPending)
			}
		}},
		{name: "poison-event-in-outbox", outcome: usable, setup: raw("user_id: " + id + "\ncreated_at: 2026-01-02T03:04:05Z\npending:\n" +
			"  - uuid: not-a-uuid\n    event: Heartbeat\n    distinct_id: " + id + "\n    timestamp: 2026-01-02T03:04:05Z\n    properties: {cli.version.count: 1}\n" +
			"  - uuid: " + uuid.NewString() + "\n    event: \"\"\n    distinct_id: \"\"\n    timestamp: 2026-01-02T03:04:05Z\n    properties: null\n" +
			"  - uuid: " + uuid.NewString() + "\n    event: Heartbeat\n    distinct_id: " + id + "\n    timestamp: 2026-01-02T03:04:05Z\n    properties: {cli.version.count: 2}\n"),
			check: func(t *testing.T, s *sandbox, sink *posthogtest.Server, fromFile []posthogtest.Event) {
				if len(fromFile) != 1 || fromFile[0].Properties["cli.version.count"] != 2.0 {
					t.Errorf("delivered from the file %+v, want the one valid event", fromFile)
				}
				if st := s.load(); len(st.Pending) != 0 {
					t.Errorf("outbox still holds %+v", st.Pending)
				}
			}},
		{name: "non-utf8", setup: raw("user_id: " + id + "\ncounters:\n  cli.v\xff\xfe.count: 3\n")},
		{name: "user_id-not-a-uuid", setup: raw("user_id: canary.person@example.com\n")},
		{name: "duplicate-keys", setup: raw("telemetry_enabled: false\ntelemetry_enabled: true\nuser_id: " + id + "\n")},
		{name: "opt-out-then-garbage", setup: raw("user_id: " + id + "\ntelemetry_enabled: false\n\x00\x01}}{{ garbage: [\n")},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReliabilityBadStateFiles runs the host programs on state files that
// are broken in every way we know: no panic, no output, no hang; a file that
// cannot be used is left exactly as it was and telemetry is off for the run.
func TestReliabilityBadStateFiles(t *testing.T) {
	versionOut := string(newSandbox(t, "", "IDUN_TELEMETRY_ENABLED=false").cli("version").stdout)
	var slowest time.Duration
	kinds := badFiles()
	for _, bf := range kinds {
		t.Run(bf.name, func(t *testing.T) {
			sink := newSink(t)
			var s *sandbox
			if bf.nobody {
				s = newNobodySandbox(t, sink.URL)
			} else {
				s = newSandbox(t, sink.URL)
			}
			s.timeout = 10 * time.Second
			bf.setup(t, s)
			s.chownAll()
			before := snapshot(t, s.config)
			var initial []byte
			if fi, err := os.Lstat(s.statePath()); err == nil && fi.Mode().IsRegular() {
				initial, _ = os.ReadFile(s.statePath())
			}

			r := s.hostprog("-exit", "7", "-add", perProcess)
			r.silent(t, "hostprog", hostExit)
			c := s.cli("version")
			if c.code != 0 || len(c.stderr) != 0 || string(c.stdout) != versionOut {
				t.Errorf("cli version: %v", c)
			}
			st := s.cli("telemetry", "status", "--json")
			var status struct {
				Enabled bool   `json:"enabled"`
				Source  string `json:"source"`
			}
			if st.code != 0 || len(st.stderr) != 0 || json.Unmarshal(st.stdout, &status) != nil {
				t.Errorf("cli telemetry status --json: %v", st)
			}
			for _, d := range []time.Duration{r.took, c.took, st.took} {
				slowest = max(slowest, d)
			}
			if r.took > 3*time.Second {
				t.Errorf("hostprog took %v", r.took)
			}
			figure(t, "hostprog %s (New %s), cli version %s, status %s; telemetry on: %v (%s)", ms(r.took), ms(time.Duration(r.report.NewNS)), ms(c.took), ms(st.took), r.report.Enabled, r.report.Source)
			after := snapshot(t, s.config)
			switch bf.outcome {
			case unusable:
				if r.report.Enabled || status.Enabled {
					t.Errorf("telemetry on: hostprog %+v, status %+v", r.report, status)
				}
				if r.report.Source != string(exporter.SourceConfigInvalid) {
					t.Errorf("decided by %q, want %q", r.report.Source, exporter.SourceConfigInvalid)
				}
				fallthrough
			case unwritable:
				if !reflect.DeepEqual(before, after) {
					t.Errorf("the files changed:\nbefore %v\nafter  %v", before, after)
				}
				if n := sink.Requests(); n != 0 {
					t.Errorf("%d requests sent", n)
				}
			case unlockable:
				for _, p := range []string{s.statePath(), s.statePath() + ".lock"} {
					if before[p] != after[p] {
						t.Errorf("%s changed: %v, was %v", p, after[p], before[p])
					}
				}
				if n := sink.Requests(); n != 0 {
					t.Errorf("%d requests sent", n)
				}
				// hostprog and cli version each counted (status counts nothing).
				if counts := s.load().Counters; sum(counts) == 0 {
					t.Errorf("the runs' counts were lost: %v", counts)
				}
			case usable:
				if !r.report.Enabled {
					t.Errorf("telemetry off: %+v", r.report)
				}
				if st := s.load(); st.UserID == "" {
					t.Errorf("user_id lost")
				}
				noRejects(t, sink)
			}
			if bf.check != nil {
				var fromFile []posthogtest.Event
				for _, ev := range sink.Events() {
					if strings.Contains(string(initial), ev.UUID) {
						fromFile = append(fromFile, ev)
					}
				}
				bf.check(t, s, sink, fromFile)
			}
		})
	}
	figure(t, "%d kinds of bad state file: 0 panics, 0 bytes of output, exit codes kept, slowest run %s; every unusable file left byte-for-byte as it was, telemetry off, 0 requests", len(kinds), ms(slowest))
}

// entry is what snapshot records of one path.
type entry struct {
	Mode fs.FileMode
	Size int64
	Hash string
	Link string
}

// snapshot records every path under root without following symlinks or
// opening anything but regular files.
func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		e := entry{Mode: fi.Mode()}
		switch {
		case fi.Mode().IsRegular():
			e.Size = fi.Size()
			if f, err := os.Open(p); err == nil {
				h := sha256.New()
				_, _ = io.Copy(h, f)
				f.Close()
				e.Hash = fmt.Sprintf("%x", h.Sum(nil))
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		}
		out[p] = e
		return nil
	})
	return out
}
