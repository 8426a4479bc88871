package state

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"
	"github.com/google/uuid"
	"gopkg.in/yaml.v3"
)

var t0 = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

func newStore(t *testing.T) *Store {
	t.Helper()
	return New(filepath.Join(t.TempDir(), "idun", FileName))
}

func TestUpdateCreatesFileWithIdentity(t *testing.T) {
	s := newStore(t)
	var created bool
	err := s.Update(context.Background(), func(st *State) error {
		if st.Existed() {
			t.Error("new state claims it existed")
		}
		created = st.EnsureUserID(t0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("EnsureUserID did not report creation")
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(st.UserID)
	if err != nil || id.Version() != 4 {
		t.Fatalf("user_id %q is not a UUID v4 (%v)", st.UserID, err)
	}
	if !st.CreatedAt.Equal(t0) {
		t.Errorf("created_at = %v, want %v", st.CreatedAt, t0)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, s.path, 0o600)
		assertMode(t, filepath.Dir(s.path), 0o700|fs.ModeDir)
	}
	// A second run keeps the identity.
	err = s.Update(context.Background(), func(st *State) error {
		if st.EnsureUserID(t0.Add(time.Hour)) {
			t.Error("existing identity replaced")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Load()
	if again.UserID != st.UserID {
		t.Errorf("user_id changed: %s -> %s", st.UserID, again.UserID)
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModePerm | fs.ModeDir); got != want {
		t.Errorf("%s mode = %v, want %v", path, got, want)
	}
}

func TestRoundTripKeepsUnknownKeysAndFields(t *testing.T) {
	s := newStore(t)
	write(t, s.path, `user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab
telemetry_enabled: true
created_at: 2026-11-24T18:00:00Z
counters:
  cli.version.count: 3
last_heartbeat_at: null
pending: []
sent: []
future_key:
  nested: [1, 2]
another: hello
`)
	err := s.Update(context.Background(), func(st *State) error {
		st.Counters["cli.version.count"] += 2
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.path)
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["another"] != "hello" {
		t.Errorf("unknown key lost: %s", b)
	}
	if fk, ok := raw["future_key"].(map[string]any); !ok || len(fk["nested"].([]any)) != 2 {
		t.Errorf("unknown nested key lost: %s", b)
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.Counters["cli.version.count"] != 5 {
		t.Errorf("counter = %d, want 5", st.Counters["cli.version.count"])
	}
	if on, set := st.Enabled(); !on || !set {
		t.Errorf("telemetry_enabled lost")
	}
}

func TestUpdateWithoutChangeDoesNotWrite(t *testing.T) {
	s := newStore(t)
	if err := s.Update(context.Background(), func(st *State) error { st.EnsureUserID(t0); return nil }); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(s.path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(*State) error { return nil }); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(s.path)
	if !fi.ModTime().Equal(old) {
		t.Error("file rewritten although nothing changed")
	}
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	s := newStore(t)
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(st *State) error {
		st.EnsureUserID(t0)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(s.path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file written although fn failed: %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	s := newStore(t)
	if _, err := s.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
	if _, err := os.Stat(filepath.Dir(s.path)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Load created the folder")
	}
}

func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [")
		for i := 0; i < 9; i++ {
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

// TestBadFiles: a file that cannot be used is reported as unusable, never
// written over, and never panics.
func TestBadFiles(t *testing.T) {
	const id = "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab"
	cases := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"whitespace", "   \n\n"},
		{"binary", "\x00\x01\x02\xff\xfe garbage \x7f"},
		{"garbage", "}{ not: [yaml"},
		{"scalar document", "just a string"},
		{"list document", "- a\n- b\n"},
		{"truncated", "user_id: " + id + "\ncounters:\n  cli.x.count: [1,"},
		{"wrong type counters", "user_id: " + id + "\ncounters: 12\n"},
		{"wrong type counter value", "user_id: " + id + "\ncounters:\n  cli.x.count: lots\n"},
		{"wrong type enabled", "telemetry_enabled: [maybe]\n"},
		{"wrong type created_at", "user_id: " + id + "\ncreated_at: [1]\n"},
		{"user_id not a uuid", "user_id: someone@example.com\n"},
		{"negative counter", "user_id: " + id + "\ncounters:\n  cli.x.count: -4\n"},
		{"alias bomb", aliasBomb()},
		{"opt-out then garbage", "telemetry_enabled: false\n\x00\x00}}}{{{\n"},
		{"non-utf8", "user_id: " + id + "\nname: \xff\xfe\n"},
		{"too large", "a: " + strings.Repeat("x", MaxFileSize) + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			write(t, s.path, tc.content)
			assertUnusable(t, s, tc.content)
		})
	}
}

func assertUnusable(t *testing.T, s *Store, content string) {
	t.Helper()
	if _, err := s.Load(); !errors.Is(err, ErrUnusable) {
		t.Errorf("Load err = %v, want ErrUnusable", err)
	}
	called := false
	err := s.Update(context.Background(), func(st *State) error {
		called = true
		st.EnsureUserID(t0)
		return nil
	})
	if !errors.Is(err, ErrUnusable) {
		t.Errorf("Update err = %v, want ErrUnusable", err)
	}
	if called {
		t.Error("Update ran fn on an unusable file")
	}
	if b, err := os.ReadFile(s.path); err == nil && string(b) != content {
		t.Error("unusable file was changed")
	}
}

func TestHugeFileIsNotRead(t *testing.T) {
	s := newStore(t)
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil { // 100 MB, sparse
		t.Fatal(err)
	}
	f.Close()
	if _, err := s.Load(); !errors.Is(err, ErrUnusable) {
		t.Fatalf("err = %v", err)
	}
	fi, _ := os.Stat(s.path)
	if fi.Size() != 100<<20 {
		t.Error("file changed")
	}
}

func TestFolderInPlaceOfFile(t *testing.T) {
	s := newStore(t)
	if err := os.MkdirAll(s.path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrUnusable) {
		t.Errorf("Load err = %v", err)
	}
	if err := s.Update(context.Background(), func(*State) error { return nil }); !errors.Is(err, ErrUnusable) {
		t.Errorf("Update err = %v", err)
	}
	if fi, err := os.Stat(s.path); err != nil || !fi.IsDir() {
		t.Error("folder replaced")
	}
}

func TestSymlinkLoop(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	s := newStore(t)
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		t.Fatal(err)
	}
	other := s.path + ".other"
	if err := os.Symlink(other, s.path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(s.path, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrUnusable) {
		t.Errorf("Load err = %v", err)
	}
	if err := s.Update(context.Background(), func(*State) error { return nil }); !errors.Is(err, ErrUnusable) {
		t.Errorf("Update err = %v", err)
	}
	if fi, err := os.Lstat(s.path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("symlink replaced")
	}
}

func TestNoPermission(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("file modes do not restrict root or Windows")
	}
	s := newStore(t)
	write(t, s.path, "telemetry_enabled: false\n")
	if err := os.Chmod(s.path, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrUnusable) {
		t.Errorf("Load err = %v", err)
	}
	if err := s.Update(context.Background(), func(*State) error { return nil }); !errors.Is(err, ErrUnusable) {
		t.Errorf("Update err = %v", err)
	}
}

func TestReadOnlyFolder(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("file modes do not restrict root or Windows")
	}
	s := newStore(t)
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	err := s.Update(context.Background(), func(st *State) error { st.EnsureUserID(t0); return nil })
	if err == nil {
		t.Fatal("Update succeeded in a read-only folder")
	}
}

func TestReadOnlyParent(t *testing.T) {
	// Works as root too: a file where a folder should be cannot be created
	// into, whoever you are.
	base := t.TempDir()
	write(t, filepath.Join(base, "idun"), "i am a file")
	s := New(filepath.Join(base, "idun", FileName))
	err := s.Update(context.Background(), func(st *State) error { st.EnsureUserID(t0); return nil })
	if err == nil {
		t.Fatal("Update succeeded with a file in place of the folder")
	}
	if b, _ := os.ReadFile(filepath.Join(base, "idun")); string(b) != "i am a file" {
		t.Error("blocking file changed")
	}
}

func TestLockTimeout(t *testing.T) {
	s := newStore(t)
	s.lockTimeout = 50 * time.Millisecond
	unlock, err := s.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// A second Store in the same process opens its own descriptor: flock
	// excludes it, where fcntl locks would not.
	other := New(s.path)
	other.lockTimeout = 50 * time.Millisecond
	start := time.Now()
	err = other.Update(context.Background(), func(*State) error { return nil })
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("err = %v, want ErrLockTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for a 50ms lock timeout", d)
	}
}

func TestConcurrentUpdatesInProcess(t *testing.T) {
	s := newStore(t)
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			st := New(s.path)
			for i := 0; i < each; i++ {
				err := st.Update(context.Background(), func(st *State) error {
					st.EnsureUserID(t0)
					if st.Counters == nil {
						st.Counters = map[string]int64{}
					}
					st.Counters["cli.x.count"]++
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Counters["cli.x.count"]; got != workers*each {
		t.Errorf("count = %d, want %d", got, workers*each)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(s.path), "*.tmp"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestEventsRoundTrip(t *testing.T) {
	s := newStore(t)
	ev := Event{
		UUID: "0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11", Event: "Heartbeat", DistinctID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab",
		Timestamp:  t0.Add(123456789 * time.Nanosecond),
		Properties: map[string]any{"cli.version.count": 3, "os.family": "Linux", "os.containerized": nil, "libraries.gotest": true},
	}
	err := s.Update(context.Background(), func(st *State) error {
		st.EnsureUserID(t0)
		st.Pending = append(st.Pending, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 1 {
		t.Fatalf("pending = %v", st.Pending)
	}
	got := st.Pending[0]
	if got.UUID != ev.UUID || got.Event != ev.Event || !got.Timestamp.Equal(ev.Timestamp) || got.Properties["cli.version.count"] != 3 {
		t.Errorf("event changed in the round trip: %+v", got)
	}
	if v, ok := got.Properties["os.containerized"]; !ok || v != nil {
		t.Errorf("null property lost: %+v", got.Properties)
	}
}

func TestDefaultPathCreatesNothing(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	xdg.Reload()
	t.Cleanup(xdg.Reload)
	p := DefaultPath("")
	if want := filepath.Join(home, DefaultApp, FileName); runtime.GOOS != "windows" && runtime.GOOS != "darwin" && p != want {
		t.Errorf("DefaultPath = %s, want %s", p, want)
	}
	if got := DefaultPath("other"); filepath.Base(filepath.Dir(got)) != "other" || filepath.Base(got) != FileName {
		t.Errorf("DefaultPath(other) = %s", got)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("resolving the path created %v", entries)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
