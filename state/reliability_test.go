//go:build unix

package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Found by the reliability suite: opening a named pipe blocks until a
// writer comes, which hung the host program at start.
func TestNamedPipeIsUnusableAtOnce(t *testing.T) {
	s := newStore(t)
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(s.path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() {
		_, err := s.Load()
		done <- err
	}()
	go func() { done <- s.Update(context.Background(), func(*State) error { return nil }) }()
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnusable) {
				t.Errorf("err = %v, want ErrUnusable", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("reading a named pipe blocked")
		}
	}
}

// Found by the reliability suite: a process killed between creating its
// temporary file and renaming it left the file behind for good. The next
// writer writes the whole file over it, never through a link.
func TestStaleTempFileReplacedByTheNextWrite(t *testing.T) {
	s := newStore(t)
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".config.yaml.tmp")
	other := filepath.Join(dir, ".other.yaml.tmp")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("half a file, much longer than the state file will be"+strings.Repeat(".", 4096)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link in its place must not lead the write elsewhere.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Update(context.Background(), func(st *State) error {
		st.EnsureUserID(t0)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there (%v)", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file was removed: %v", err)
	}
	if _, err := New(s.path).Load(); err != nil {
		t.Errorf("the file written over the stale one: %v", err)
	}
	// Again with a symbolic link left where the temporary file goes.
	if err := os.Symlink(victim, stale); err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), func(st *State) error {
		st.SetEnabled(false)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
		t.Errorf("the write went through a link: %q, %v", b, err)
	}
	if fi, err := os.Lstat(s.path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file after the write: %v, %v", fi, err)
	}
}
