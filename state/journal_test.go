package state

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// identity gives a store a state file with a user_id.
func identity(t *testing.T, s *Store) {
	t.Helper()
	err := s.Update(context.Background(), func(st *State) error {
		st.EnsureUserID(t0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func counts(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	c, err := s.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func configCounters(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st.Counters
}

func add(t *testing.T, s *Store, c map[string]int64) {
	t.Helper()
	if err := s.Add(c); err != nil {
		t.Fatal(err)
	}
}

func fold(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Fold(context.Background(), func(*State) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func folding(t *testing.T, s *Store) []string {
	t.Helper()
	m, _ := filepath.Glob(s.beside("counts.*" + foldSuffix))
	return m
}

func want(t *testing.T, what string, got map[string]int64, w map[string]int64) {
	t.Helper()
	if len(got) == 0 && len(w) == 0 {
		return
	}
	if !maps.Equal(got, w) {
		t.Errorf("%s = %v, want %v", what, got, w)
	}
}

// A run's counts are one line appended to the journal; config.yaml is left
// alone, and nothing is flushed to disk.
func TestAddAppendsAndLeavesTheStateFile(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	before, _ := os.ReadFile(s.path)
	fsyncs := 0
	synced = func() { fsyncs++ }
	defer func() { synced = func() {} }()
	add(t, s, map[string]int64{"cli.version.count": 1})
	add(t, s, map[string]int64{"cli.version.count": 2, "feature.x.count": 1})
	if after, _ := os.ReadFile(s.path); string(after) != string(before) {
		t.Errorf("Add changed config.yaml:\n%s", after)
	}
	if fsyncs != 0 {
		t.Errorf("Add flushed to disk %d times", fsyncs)
	}
	b, err := os.ReadFile(s.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "\n"); got != 2 {
		t.Errorf("journal holds %d lines, want 2:\n%s", got, b)
	}
	want(t, "counts", counts(t, s), map[string]int64{"cli.version.count": 3, "feature.x.count": 1})
}

// A fold moves the journal into config.yaml once: a second fold adds
// nothing, and every update but Add is flushed to disk.
func TestFoldMovesTheJournalOnce(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	add(t, s, map[string]int64{"cli.version.count": 2})
	fsyncs := 0
	synced = func() { fsyncs++ }
	defer func() { synced = func() {} }()
	fold(t, s)
	if fsyncs != 1 {
		t.Errorf("a fold flushed %d times, want 1", fsyncs)
	}
	want(t, "config.yaml counters", configCounters(t, s), map[string]int64{"cli.version.count": 2})
	if _, err := os.Stat(s.JournalPath()); err == nil {
		t.Error("the journal is still there after the fold")
	}
	if f := folding(t, s); len(f) != 0 {
		t.Errorf("folding files left: %v", f)
	}
	fold(t, s)
	add(t, s, map[string]int64{"cli.version.count": 1})
	fold(t, s)
	want(t, "config.yaml counters", configCounters(t, s), map[string]int64{"cli.version.count": 3})
	want(t, "counts", counts(t, s), map[string]int64{"cli.version.count": 3})
}

// A fold killed after it renamed the journal, before it wrote config.yaml:
// the folding file is still counted, and the next fold takes it once.
func TestFoldCutShortBeforeItsWrite(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	add(t, s, map[string]int64{"cli.a.count": 4})
	if err := os.Rename(s.JournalPath(), s.beside("counts.cut"+foldSuffix)); err != nil {
		t.Fatal(err)
	}
	add(t, s, map[string]int64{"cli.a.count": 1})
	want(t, "counts", counts(t, s), map[string]int64{"cli.a.count": 5})
	fold(t, s)
	want(t, "config.yaml counters", configCounters(t, s), map[string]int64{"cli.a.count": 5})
	if f := folding(t, s); len(f) != 0 {
		t.Errorf("folding files left: %v", f)
	}
}

// A fold killed after it wrote config.yaml, before it removed the folding
// file: config.yaml names the file, so neither Counts nor the next fold
// adds it again.
func TestFoldCutShortAfterItsWrite(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	add(t, s, map[string]int64{"cli.a.count": 4})
	// What such a fold leaves: the counts in config.yaml, the file named,
	// the file still there.
	name := "counts.cut" + foldSuffix
	if err := os.Rename(s.JournalPath(), s.beside(name)); err != nil {
		t.Fatal(err)
	}
	err := s.Update(context.Background(), func(st *State) error {
		st.Counters = map[string]int64{"cli.a.count": 4}
		st.Folded = []string{name}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "counts", counts(t, s), map[string]int64{"cli.a.count": 4})
	fold(t, s)
	want(t, "config.yaml counters", configCounters(t, s), map[string]int64{"cli.a.count": 4})
	if f := folding(t, s); len(f) != 0 {
		t.Errorf("the recorded folding file was not removed: %v", f)
	}
}

// The interleavings of an appender with a fold, step by step.
func TestAppenderAndFoldInterleave(t *testing.T) {
	line := []byte("cli.late.count=1\n")

	t.Run("opened before the fold, writes after it", func(t *testing.T) {
		s := newStore(t)
		identity(t, s)
		add(t, s, map[string]int64{"cli.early.count": 1})
		f, err := openAppend(s.JournalPath(), true)
		if err != nil {
			t.Fatal(err)
		}
		fold(t, s) // renames and removes the file f is open on
		if done, err := appendTo(f, s.JournalPath(), line); done || err != nil {
			t.Fatalf("appendTo wrote into a file the fold took (done %v, err %v)", done, err)
		}
		add(t, s, map[string]int64{"cli.late.count": 1}) // what Add then does
		want(t, "counts", counts(t, s), map[string]int64{"cli.early.count": 1, "cli.late.count": 1})
	})

	t.Run("holds the journal through a fold", func(t *testing.T) {
		s := newStore(t)
		identity(t, s)
		add(t, s, map[string]int64{"cli.early.count": 1})
		f, err := openAppend(s.JournalPath(), true)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := lockJournal(f, false); !ok || !isAt(f, s.JournalPath()) {
			t.Fatal("could not take the journal")
		}
		start := time.Now()
		fold(t, s) // waits for the stuck appender at most drainWait, then leaves its file
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the fold waited %v for a stuck appender", d)
		}
		want(t, "config.yaml counters", configCounters(t, s), nil)
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
		unlockJournal(f)
		f.Close()
		want(t, "counts", counts(t, s), map[string]int64{"cli.early.count": 1, "cli.late.count": 1})
		fold(t, s)
		want(t, "config.yaml counters", configCounters(t, s), map[string]int64{"cli.early.count": 1, "cli.late.count": 1})
		if f := folding(t, s); len(f) != 0 {
			t.Errorf("folding files left: %v", f)
		}
	})
}

// A reset is a fold that drops the counters: the journal's go too.
func TestResetDropsTheJournal(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	add(t, s, map[string]int64{"cli.a.count": 4})
	err := s.Fold(context.Background(), func(st *State) error {
		st.Counters = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "counts", counts(t, s), nil)
}

// A journal line that does not decode is skipped whole, and so is a last
// line without its newline; the others count.
func TestJournalSkipsBadLines(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	raw := "cli.a.count=2\nnot a pair\ncli.a.count=-5 cli.b.count=1\ncli.a.count=x\ncli.b.count=1 cli.a.count=1\n\ncli.a.count=1"
	if err := os.WriteFile(s.JournalPath(), []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, "counts", counts(t, s), map[string]int64{"cli.a.count": 3, "cli.b.count": 1})
}

// Add writes one line of sorted name=count pairs, and leaves out what a
// line cannot hold.
func TestAddWritesOnePlainLine(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	add(t, s, map[string]int64{"feature.x.count": 2, "cli.a.count": 1, "bad name": 3, "a=b": 1, "cli.zero.count": 0})
	b, _ := os.ReadFile(s.JournalPath())
	if string(b) != "cli.a.count=1 feature.x.count=2\n" {
		t.Errorf("journal %q", b)
	}
}

// Peek reads the brief line while config.yaml is what it was written with,
// and parses the file as soon as it is not.
func TestPeekTrustsTheBriefOnlyForItsVersion(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	b, err := s.Peek()
	if err != nil || b.UserID == "" || b.TelemetryEnabled != nil {
		t.Fatalf("Peek = %+v, %v", b, err)
	}
	raw, _ := os.ReadFile(s.path)
	if !strings.HasPrefix(string(raw), "# idun brief/4, remade at each write: -"+b.UserID+" -1 ") {
		t.Fatalf("config.yaml does not start with its brief line:\n%s", raw)
	}
	// A rest that does not parse, under a brief line that matches it: only
	// the brief line can tell Peek the file is usable.
	garbage := []byte("\x00 not YAML\n")
	if err := os.WriteFile(s.path, withBrief(b, garbage), 0o600); err != nil {
		t.Fatal(err)
	}
	if b2, err := s.Peek(); err != nil || b2.UserID != b.UserID {
		t.Errorf("Peek parsed the file although its brief line matched it: %+v, %v", b2, err)
	}
	// A hand edit of the rest: the edit is read.
	edited := string(raw) + "telemetry_enabled: false\n"
	if err := os.WriteFile(s.path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err = s.Peek()
	if err != nil || b.TelemetryEnabled == nil || *b.TelemetryEnabled {
		t.Errorf("Peek after a hand edit = %+v, %v; want telemetry_enabled false", b, err)
	}
}

// A second Peek of a Store reuses the first one's brief while the file's
// size, modification time and identity are the same, and reads the file as
// soon as one of them changed.
func TestPeekAgainCostsAStat(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	good, _ := os.ReadFile(s.path)
	base := time.Now().Add(-time.Hour)
	garbage := []byte(strings.Repeat("#", len(good)-1) + "\x00")
	inPlace := func(b []byte, mtime time.Time) {
		t.Helper()
		f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(b, 0)
		f.Close()
		os.Chtimes(s.path, mtime, mtime)
	}
	renamed := func(b []byte, mtime time.Time) {
		t.Helper()
		tmp := s.path + ".new"
		os.WriteFile(tmp, b, 0o600)
		os.Chtimes(tmp, mtime, mtime)
		if err := os.Rename(tmp, s.path); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func()
		reads  bool
	}{
		{"the same size, time and file", func() { inPlace(garbage, base) }, false},
		{"another file of the same size and time", func() { renamed(garbage, base) }, true},
		{"the same size and file, a new time", func() { inPlace(garbage, base.Add(time.Second)) }, true},
	} {
		renamed(good, base)
		s := New(s.path)
		if _, err := s.Peek(); err != nil {
			t.Fatal(err)
		}
		tc.change()
		_, err := s.Peek()
		if read := errors.Is(err, ErrUnusable); read != tc.reads {
			t.Errorf("%s: the second Peek read the file: %t, want %t (%v)", tc.name, read, tc.reads, err)
		}
	}
}

// Peek writes nothing, to a file that says off least of all.
func TestPeekWritesNothingForAnOptOut(t *testing.T) {
	s := newStore(t)
	os.MkdirAll(filepath.Dir(s.path), 0o700)
	if err := os.WriteFile(s.path, []byte("telemetry_enabled: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Peek(); err != nil || b.TelemetryEnabled == nil || *b.TelemetryEnabled {
		t.Fatalf("Peek = %+v, %v", b, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.path))
	if len(entries) != 1 {
		t.Errorf("files beside an opted-out config.yaml: %v", entries)
	}
}

// Peek reports the journal's counts without reading it.
func TestPeekSeesTheJournal(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	if b, _ := s.Peek(); b.Counters > 0 || b.Journal {
		t.Error("counts reported before any")
	}
	add(t, s, map[string]int64{"cli.a.count": 1})
	if b, _ := s.Peek(); !b.Journal {
		t.Error("the journal's counts were not reported")
	}
}

// The brief once had a file of its own: the next write removes it.
func TestWriteRemovesTheOldBriefFile(t *testing.T) {
	s := newStore(t)
	identity(t, s)
	old := filepath.Join(filepath.Dir(s.path), "config.brief")
	if err := os.WriteFile(old, []byte("idun-brief/1 ...\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(st *State) error { st.SetEnabled(true); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("config.brief after a write: %v", err)
	}
}
