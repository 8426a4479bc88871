package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds what is read: a larger file is unusable, never parsed.
const MaxFileSize = 1 << 20

// DefaultLockTimeout bounds the wait for another process's lock. Holders keep
// it for one read-modify-write (about a millisecond), so reaching it means a
// stuck holder, and telemetry gives up rather than delay its host.
const DefaultLockTimeout = 2 * time.Second

// ErrUnusable is wrapped by every error about a state file that exists but
// cannot be used. Such a file is never written over.
var ErrUnusable = errors.New("state file unusable")

// ErrLockTimeout is returned when the lock could not be taken in time.
var ErrLockTimeout = errors.New("state file lock timed out")

// Store reads and changes one state file.
type Store struct {
	path        string
	lockTimeout time.Duration

	mu    sync.Mutex
	known *snapshot // guarded by mu; see snapshot
}

// New returns a Store for the file at path. Nothing is touched until Load or
// Update is called.
func New(path string) *Store {
	return &Store{path: path, lockTimeout: DefaultLockTimeout}
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// LockPath returns the path of the lock file kept beside the state file.
func (s *Store) LockPath() string { return s.path + ".lock" }

// Load reads the file. It always sees a whole version, and never waits long:
// it shares the lock with other readers and waits for a writer at most
// 100 ms, after which the writer is taken to be stuck and the file is read
// anyway. A missing file gives an error for which errors.Is(err,
// fs.ErrNotExist) holds.
func (s *Store) Load() (*State, error) {
	b, err := readShared(s.path, s.LockPath())
	if err != nil {
		return nil, err
	}
	st, err := parse(s.path, b)
	if err != nil {
		return nil, err
	}
	s.remember(b, st)
	return st, nil
}

// Update runs fn on the current state under an exclusive cross-process lock
// and writes the result back atomically. A missing file starts as an empty
// State (Existed reports false); fn decides whether to give it an identity.
// When fn returns an error nothing is written and the error is returned.
// Nothing is written either when fn changed nothing.
//
// A change to anything but the counters is flushed to disk (fsync) before
// it replaces the file; a change to the counters alone is not (see
// writeAtomic).
func (s *Store) Update(ctx context.Context, fn func(*State) error) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	old, err := readBounded(s.path)
	st := &State{}
	var before *State // what old holds; never changed
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if before, err = s.current(old); err != nil {
			return err
		}
		var ok bool
		if st, ok = before.clone(); !ok {
			// fn changes the parsed State itself: it is nobody's
			// snapshot any more.
			s.keep(nil, nil)
			st, before = before, nil
		}
	}
	if err := fn(st); err != nil {
		return err
	}
	return s.save(old, before, st)
}

// current returns the State old holds: the one this Store last read or
// wrote when the file still holds those bytes, else a fresh parse.
func (s *Store) current(old []byte) (*State, error) {
	if st := s.lookup(old); st != nil {
		return st, nil
	}
	st, err := parse(s.path, old)
	if err != nil {
		return nil, err
	}
	s.keep(old, st)
	return st, nil
}

// save writes st, which fn made from before (nil when there was no file or
// it could not be copied), over old. A change to the counters alone, the
// change of almost every run, rewrites only their lines of old and skips the
// fsync.
func (s *Store) save(old []byte, before, st *State) error {
	countersOnly := before != nil && sameButCounters(before, st)
	if countersOnly && maps.Equal(before.Counters, st.Counters) {
		return nil
	}
	var out []byte
	if countersOnly {
		out, _ = spliceCounters(old, before.Counters, st.Counters)
	}
	if out == nil {
		var err error
		if out, err = marshal(st); err != nil {
			return fmt.Errorf("state: encode: %w", err)
		}
		if st.existed && bytes.Equal(out, old) {
			return nil
		}
	}
	if err := writeAtomic(s.path, out, !countersOnly || st.optedOut()); err != nil {
		return err
	}
	s.remember(out, st)
	return nil
}

// parse decodes b. Anything odd is unusable rather than guessed at: an empty
// file, a document that is not a mapping, wrong types, an identifier that is
// not a UUID, negative counters, a decoder panic.
func parse(path string, b []byte) (st *State, err error) {
	st, ok := parseQuick(b)
	if !ok {
		if st, err = parseYAML(path, b); err != nil {
			return nil, err
		}
	}
	if err := st.validate(); err != nil {
		return nil, unusable(path, err)
	}
	st.existed = true
	return st, nil
}

// parseYAML decodes b with yaml.v3.
func parseYAML(path string, b []byte) (st *State, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, unusable(path, fmt.Errorf("decoder panic: %v", r))
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, unusable(path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, unusable(path, errors.New("not a YAML mapping"))
	}
	st = &State{}
	if err := doc.Content[0].Decode(st); err != nil {
		return nil, unusable(path, err)
	}
	return st, nil
}

// FileError describes a state file that exists but cannot be used. It wraps
// ErrUnusable and the underlying cause.
type FileError struct {
	Path string
	Err  error
}

func unusable(path string, err error) error { return &FileError{Path: path, Err: err} }

// Error implements error.
func (e *FileError) Error() string { return "state file " + e.Path + " unusable: " + e.Err.Error() }

// Unwrap lets errors.Is match both ErrUnusable and the cause.
func (e *FileError) Unwrap() []error { return []error{ErrUnusable, e.Err} }
