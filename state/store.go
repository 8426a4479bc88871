package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds what is read: a larger file is unusable, never parsed.
const MaxFileSize = 1 << 20

// DefaultLockTimeout bounds the wait for another process's lock on
// config.yaml. Holders keep it for one read-modify-write (a few
// milliseconds), so reaching it means a stuck holder. Only runs with
// something due take it, and what they could not write stays in the
// journal for the next one.
const DefaultLockTimeout = 2 * time.Second

// ErrUnusable is wrapped by every error about a state file that exists but
// cannot be used. Such a file is never written over.
var ErrUnusable = errors.New("state file unusable")

// ErrLockTimeout is returned when the lock could not be taken in time.
var ErrLockTimeout = errors.New("state file lock timed out")

// Store reads and changes one state file and the files beside it.
type Store struct {
	path        string
	lockTimeout time.Duration
}

// New returns a Store for the file at path. Nothing is touched until a
// method is called.
func New(path string) *Store {
	return &Store{path: path, lockTimeout: DefaultLockTimeout}
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// LockPath returns the path of the lock file kept beside the state file.
func (s *Store) LockPath() string { return s.path + ".lock" }

func (s *Store) beside(name string) string { return filepath.Join(filepath.Dir(s.path), name) }

// Load reads and parses the state file. A missing file gives an error for
// which errors.Is(err, fs.ErrNotExist) holds. The counts of the journal are
// not in the result: see Counts.
func (s *Store) Load() (*State, error) {
	st, _, _, err := s.read()
	return st, err
}

func (s *Store) read() (*State, []byte, fileID, error) {
	b, id, err := readFile(s.path, MaxFileSize)
	if err != nil {
		return nil, nil, id, err
	}
	st, err := parse(s.path, b)
	return st, b, id, err
}

// Peek returns what a run needs to learn whether anything is due. It reads
// the brief file when it was derived from the state file as it is now (same
// size, modification time and inode), and parses the state file otherwise,
// then writes the brief for the next run (unless the file says telemetry is
// off: then nothing is ever written).
func (s *Store) Peek() (Brief, error) {
	b, ok := s.cachedBrief()
	if !ok {
		st, _, id, err := s.read()
		if err != nil {
			return Brief{}, err
		}
		b = st.Brief()
		if !st.optedOut() {
			s.writeBrief(b, id)
		}
	}
	fi, err := os.Stat(s.JournalPath())
	b.Journal = err == nil && fi.Size() > 0
	return b, nil
}

// briefFile is the content of the brief file.
type briefFile struct {
	Config fileID `json:"config"`
	Brief  Brief  `json:"brief"`
}

func (s *Store) cachedBrief() (Brief, bool) {
	raw, _, err := readFile(s.beside(BriefName), 4096)
	var c briefFile
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return Brief{}, false
	}
	fi, err := os.Stat(s.path)
	if err != nil || !fi.Mode().IsRegular() || idOf(fi) != c.Config {
		return Brief{}, false
	}
	return c.Brief, true
}

// writeBrief writes the brief of the version id of the state file. It needs
// no lock: a brief names the version it was derived from, and one that is
// stale, or torn by two writers at once (it would not decode), is not used.
func (s *Store) writeBrief(b Brief, id fileID) {
	raw, err := json.Marshal(briefFile{Config: id, Brief: b})
	if err == nil {
		_ = writeFile(s.beside(BriefName), raw, false)
	}
}

// Update runs fn on the current state under an exclusive cross-process lock
// and writes the result back: encoded by yaml.v3, flushed to disk, then
// renamed over the file. A missing file starts as an empty State (Existed
// reports false); fn decides whether to give it an identity. When fn
// returns an error nothing is written and the error is returned. Nothing is
// written either when fn changed nothing.
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
	st, old, _, err := s.read()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = &State{}
	case err != nil:
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
	if st.existed && bytes.Equal(out, old) {
		return nil
	}
	if err := writeFile(s.path, out, true); err != nil {
		return err
	}
	if fi, err := os.Stat(s.path); err == nil {
		s.writeBrief(st.Brief(), idOf(fi))
	}
	for _, name := range consumed {
		_ = removeFile(s.beside(name))
	}
	return nil
}

// parse decodes b. Anything odd is unusable rather than guessed at: an empty
// file, a document that is not a mapping, wrong types, an identifier that is
// not a UUID, negative counters, a decoder panic.
func parse(path string, b []byte) (st *State, err error) {
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
	if err := st.validate(); err != nil {
		return nil, unusable(path, err)
	}
	st.existed = true
	return st, nil
}

// fileID tells one version of a file from another without reading it: a
// writer renames a new file over the old one, which changes the inode (on
// Windows, where there is none here, the size or the modification time).
type fileID struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Inode   uint64 `json:"inode,omitempty"`
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Inode: inode(fi)}
}

// readFile reads a regular file of at most limit bytes, and tells
// which version it read. It checks the file before it opens it: opening a
// named pipe blocks until a writer comes, which would hang the host.
func readFile(path string, limit int64) ([]byte, fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fileID{}, err
		}
		return nil, fileID{}, unusable(path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fileID{}, unusable(path, errors.New("not a regular file"))
	}
	f, err := openRead(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fileID{}, err
		}
		return nil, fileID{}, unusable(path, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fileID{}, unusable(path, errors.New("not a regular file"))
	}
	if fi.Size() > limit {
		return nil, fileID{}, unusable(path, fmt.Errorf("larger than %d bytes", limit))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	switch {
	case err != nil:
		return nil, fileID{}, unusable(path, err)
	case int64(len(b)) > limit:
		return nil, fileID{}, unusable(path, fmt.Errorf("larger than %d bytes", limit))
	}
	return b, idOf(fi), nil
}

// writeFile replaces path with b through a temporary file in the same
// folder renamed over it, so that no reader and no killed process ever sees
// half a file. durable flushes the bytes to disk before the rename: without
// it a power loss can leave an older version or bytes that do not parse.
// One temporary name serves every writer of a file, and a killed writer's
// leftover is removed by the next: config.yaml's writers hold its lock, and
// two writers of the brief at once make at worst a brief that is not used.
func writeFile(path string, b []byte, durable bool) (err error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	_ = removeFile(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = removeFile(tmp)
			err = fmt.Errorf("state: write: %w", err)
		}
	}()
	// The umask may have taken bits the owner needs to read the file back.
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(b); err != nil {
		return err
	}
	if durable {
		synced()
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	return renameFile(tmp, path)
}

// synced is called before each fsync, so that tests can count them.
var synced = func() {}

// lock takes the exclusive lock on the lock file beside the state file,
// waiting at most the Store's lock timeout, and returns its release.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("state: create folder: %w", err)
	}
	l := flock.New(s.LockPath(), flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(ctx, s.lockTimeout)
	defer cancel()
	ok, err := poll(ctx, l.TryLock)
	if err != nil {
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	if !ok {
		_ = l.Close()
		return nil, ErrLockTimeout
	}
	return func() { _ = l.Unlock() }, nil
}

// poll calls try until it succeeds, fails or ctx ends, backing off from 1 to
// 25 ms with jitter: a fixed short period has dozens of waiters wake
// hundreds of times a second and take the CPU the holder needs.
func poll(ctx context.Context, try func() (bool, error)) (bool, error) {
	delay := time.Millisecond
	for {
		if ok, err := try(); ok || err != nil {
			return ok, err
		}
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case <-t.C:
		}
		delay = min(2*delay, 25*time.Millisecond)
	}
}

// unusable wraps the cause, and errors.Is matches ErrUnusable too.
func unusable(path string, err error) error {
	return unusableError{fmt.Errorf("state file %s unusable: %w", path, err)}
}

type unusableError struct{ error }

func (e unusableError) Is(target error) bool { return target == ErrUnusable }
func (e unusableError) Unwrap() error        { return errors.Unwrap(e.error) }

func saturatingAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}
