package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"gopkg.in/yaml.v3"
)

// DefaultApp is the folder name used under the XDG config home when the
// caller names none.
const DefaultApp = "idun"

// FileName is the state file's name inside the application folder.
const FileName = "config.yaml"

// MaxFileSize bounds the state file: a larger one is unusable.
const MaxFileSize = 1 << 20

var (
	// ErrUnusable is wrapped by every error about a state file that exists
	// but cannot be used. Such a file is never written over.
	ErrUnusable = errors.New("unusable")
	// ErrLockTimeout is returned when the lock could not be taken in time.
	ErrLockTimeout = errors.New("state file lock timed out")
)

// Store reads and changes one state file and the files beside it.
type Store struct {
	path string
	// lockTimeout bounds the wait for config.yaml's lock, which holders
	// keep for a few milliseconds: reaching it means a stuck holder.
	lockTimeout time.Duration
	last        atomic.Pointer[seen] // see Peek
}

// New returns a Store for the file at path; it touches nothing.
func New(path string) *Store { return &Store{path: path, lockTimeout: 2 * time.Second} }

// DefaultPath returns <XDG config home>/<app>/config.yaml, and creates
// nothing. The config home follows github.com/adrg/xdg: $XDG_CONFIG_HOME
// when it is an absolute path, else ~/.config on Unix, ~/Library/Application
// Support on macOS and %LOCALAPPDATA% on Windows; on macOS and Windows
// adrg/xdg reads the environment once, at start (tests call xdg.Reload).
func DefaultPath(app string) string {
	if app == "" {
		app = DefaultApp
	}
	return filepath.Join(configHome(), app, FileName)
}

func (s *Store) beside(name string) string { return filepath.Join(filepath.Dir(s.path), name) }

// Load reads and parses the state file (errors.Is(err, fs.ErrNotExist) when
// there is none). The journal's counts are not in it: see Counts.
func (s *Store) Load() (*State, error) {
	b, _, err := readFile(s.path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return parse(s.path, b)
}

// Peek returns what a run needs to learn whether anything is due: from the
// state file's brief line while the file is what it was written with, else
// from the parsed file. It writes nothing. A second Peek of the same Store
// (a run's export) costs a stat while the file's size, modification time
// and identity are those the first one read.
func (s *Store) Peek() (Brief, error) {
	b, err := s.peek()
	fi, jerr := os.Stat(s.JournalPath())
	b.Journal = err == nil && jerr == nil && fi.Size() > 0
	return b, err
}

func (s *Store) peek() (Brief, error) {
	if last := s.last.Load(); last != nil {
		fi, err := os.Stat(s.path)
		if err == nil && os.SameFile(fi, last.fi) && fi.Size() == last.fi.Size() && fi.ModTime().Equal(last.fi.ModTime()) {
			return last.b, nil
		}
	}
	raw, fi, err := readFile(s.path, MaxFileSize)
	b, ok := briefOf(raw)
	if err == nil && !ok {
		var st *State
		if st, err = parse(s.path, raw); err == nil {
			b = st.Brief()
		}
	}
	if err != nil {
		return Brief{}, err
	}
	s.last.Store(&seen{fi, b})
	return b, nil
}

// seen is a Brief and the version of the state file it was read from.
type seen struct {
	fi fs.FileInfo
	b  Brief
}

// Update runs fn on the current state under the exclusive lock and writes
// the result back (yaml.v3, fsync, rename) unless fn failed or changed
// nothing. A missing file starts as an empty State (Existed is false).
func (s *Store) Update(ctx context.Context, fn func(*State) error) error {
	return s.change(ctx, fn, false)
}

// Fold is Update with the journal's counts first added to Counters, exactly
// once (see the package doc). A reset is a Fold whose fn drops the counters.
func (s *Store) Fold(ctx context.Context, fn func(*State) error) error {
	return s.change(ctx, fn, true)
}

func (s *Store) change(ctx context.Context, fn func(*State) error, fold bool) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	old, _, err := readFile(s.path, MaxFileSize)
	st := &State{}
	if err == nil {
		st, err = parse(s.path, old)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var consumed []string
	if fold {
		consumed = s.takeJournal(st)
	}
	if err := fn(st); err != nil {
		return err
	}
	out, err := yaml.Marshal(st)
	if err != nil {
		return fmt.Errorf("state: encode: %w", err)
	}
	if out = withBrief(st.Brief(), out); bytes.Equal(out, old) {
		return nil
	}
	if err := writeFile(s.path, out); err != nil {
		return err
	}
	for _, name := range consumed {
		_ = removeFile(s.beside(name))
	}
	// config.brief held the brief before it moved into the file's first line.
	_ = removeFile(s.beside("config.brief"))
	return nil
}

// parse decodes b; anything odd is unusable rather than guessed at.
func parse(path string, b []byte) (st *State, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
		if err != nil {
			st, err = nil, unusable(path, err)
		}
	}()
	var doc yaml.Node
	if err = yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	st = &State{existed: true}
	if err = doc.Content[0].Decode(st); err == nil {
		err = st.validate()
	}
	return st, err
}

// readFile reads a regular file of at most limit bytes, and what it found
// of the file when it opened it. openRead does not block on a named pipe in
// the file's place, which then fails the check here.
func readFile(path string, limit int64) (b []byte, fi fs.FileInfo, err error) {
	f, err := openRead(path)
	if err == nil {
		defer f.Close()
		if fi, err = f.Stat(); err == nil && !fi.Mode().IsRegular() {
			err = errors.New("not a regular file")
		} else if err == nil && fi.Size() > limit {
			err = fmt.Errorf("larger than %d bytes", limit)
		} else if err == nil {
			// One read of fstat's size: config.yaml is replaced by rename,
			// and a journal only grows, so its first size bytes are whole lines.
			b = make([]byte, fi.Size())
			_, err = io.ReadFull(f, b)
		}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		err = unusable(path, err)
	}
	return b, fi, err
}

// writeFile replaces path with b, fsynced, through a temporary file renamed
// over it: no reader, killed process or power loss sees half a file. A
// killed writer's temporary file is removed by the next writer.
func writeFile(path string, b []byte) (err error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	_ = removeFile(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	// The umask may have taken bits the owner needs to read the file back.
	if err = f.Chmod(0o600); err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		synced()
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp, path)
	}
	if err != nil {
		_ = removeFile(tmp)
		return fmt.Errorf("state: write: %w", err)
	}
	return nil
}

// synced is called before each fsync, so that tests can count them.
var synced = func() {}

// lock takes config.yaml's exclusive lock, waiting at most the lock timeout.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("state: create folder: %w", err)
	}
	l := flock.New(s.path+".lock", flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(ctx, s.lockTimeout)
	defer cancel()
	if ok, err := poll(ctx, l.TryLock); !ok {
		_ = l.Close()
		if err != nil {
			return nil, fmt.Errorf("state: lock: %w", err)
		}
		return nil, ErrLockTimeout
	}
	return func() { _ = l.Unlock() }, nil
}

// poll calls try until it succeeds, fails or ctx ends, backing off from 1
// to 25 ms with jitter: dozens of waiters polling fast starve the holder.
func poll(ctx context.Context, try func() (bool, error)) (bool, error) {
	delay := time.Millisecond
	for {
		if ok, err := try(); ok || err != nil {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(2*delay, 25*time.Millisecond)
	}
}

// unusable wraps the cause and ErrUnusable.
func unusable(path string, err error) error {
	return fmt.Errorf("state file %s %w: %w", path, ErrUnusable, err)
}

func saturatingAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}
