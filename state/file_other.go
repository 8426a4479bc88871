//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gofrs/flock"
)

func makeDir(dir string) error { return os.MkdirAll(dir, 0o700) }

// readShared reads the file at path: writers here rename a new file over
// it, so any reader sees a whole version without a lock.
func readShared(path, _ string) ([]byte, error) { return readBounded(path) }

func readBounded(path string) ([]byte, error) {
	if fi, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, unusable(path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, unusable(path, errors.New("not a regular file"))
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, unusable(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, unusable(path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, unusable(path, errors.New("not a regular file"))
	}
	if fi.Size() > MaxFileSize {
		return nil, unusable(path, fmt.Errorf("larger than %d bytes", MaxFileSize))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, unusable(path, err)
	}
	if len(b) > MaxFileSize {
		return nil, unusable(path, fmt.Errorf("larger than %d bytes", MaxFileSize))
	}
	return b, nil
}

func writeAtomic(path string, b []byte, durable bool) (err error) {
	tmp := tempPath(path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		_ = os.Remove(tmp)
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	if durable {
		synced()
		if err = f.Sync(); err != nil {
			return fmt.Errorf("state: write: %w", err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	return nil
}

type otherLock struct{ *flock.Flock }

func openLock(path string) (fileLock, error) {
	return otherLock{flock.New(path, flock.SetPermissions(0o600))}, nil
}

func (l otherLock) tryLock() (bool, error) { return l.TryLock() }

func (l otherLock) release() { _ = l.Unlock() }
