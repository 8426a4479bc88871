//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

// The state file is read and written with system calls, not through
// os.File: a CLI run touches it twice, and os.File's first use in a process
// (the poller, io.ReadAll's growing buffer, the close path) cost more there
// than the calls themselves, about 0.3 ms of the run.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// retry runs a system call again while a signal interrupts it.
func retry(call func() error) error {
	for {
		if err := call(); err != syscall.EINTR {
			return err
		}
	}
}

func makeDir(dir string) error {
	var st syscall.Stat_t
	if syscall.Stat(dir, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return nil
	}
	return os.MkdirAll(dir, 0o700)
}

func open(path string, flags int, perm uint32) (fd int, err error) {
	err = retry(func() (err error) {
		fd, err = syscall.Open(path, flags|syscall.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func readBounded(path string) ([]byte, error) {
	var st syscall.Stat_t
	if err := retry(func() error { return syscall.Stat(path, &st) }); err != nil {
		err = &fs.PathError{Op: "stat", Path: path, Err: err}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, unusable(path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, unusable(path, errors.New("not a regular file"))
	}
	// O_NONBLOCK: should a pipe take the file's place after the check,
	// opening it returns at once.
	fd, err := open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, unusable(path, err)
	}
	defer syscall.Close(fd)
	if err := retry(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		return nil, unusable(path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, unusable(path, errors.New("not a regular file"))
	}
	if st.Size > MaxFileSize {
		return nil, unusable(path, fmt.Errorf("larger than %d bytes", MaxFileSize))
	}
	// One byte more than the size tells a file that grew since.
	b := make([]byte, 0, st.Size+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		var n int
		err := retry(func() (err error) {
			n, err = syscall.Read(fd, b[len(b):min(cap(b), MaxFileSize+1)])
			return err
		})
		if err != nil {
			return nil, unusable(path, &fs.PathError{Op: "read", Path: path, Err: err})
		}
		if n <= 0 {
			return b, nil
		}
		if b = b[:len(b)+n]; len(b) > MaxFileSize {
			return nil, unusable(path, fmt.Errorf("larger than %d bytes", MaxFileSize))
		}
	}
}

func writeAtomic(path string, b []byte, durable bool) (err error) {
	next := nextPath(path)
	fd, err := openNext(next)
	if err != nil {
		return fmt.Errorf("state: write: %w", err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = syscall.Close(fd)
			}
			_ = syscall.Unlink(next)
			err = fmt.Errorf("state: write: %w", &fs.PathError{Op: "write", Path: next, Err: err})
		}
	}()
	// The umask may have taken bits the owner needs to read the file back.
	if err = retry(func() error { return syscall.Fchmod(fd, 0o600) }); err != nil {
		return err
	}
	for off := 0; off < len(b); {
		var n int
		if err = retry(func() (err error) { n, err = syscall.Pwrite(fd, b[off:], int64(off)); return err }); err != nil {
			return err
		}
		if n <= 0 {
			return syscall.EIO
		}
		off += n
	}
	// Cut what a longer earlier version left, never to zero: a file
	// truncated to nothing makes ext4 free its blocks and flush at close.
	if err = retry(func() error { return syscall.Ftruncate(fd, int64(len(b))) }); err != nil {
		return err
	}
	if durable {
		synced()
		if err = retry(func() error { return syscall.Fsync(fd) }); err != nil {
			return err
		}
	}
	closed = true
	if err = syscall.Close(fd); err != nil {
		return err
	}
	if err = swap(next, path); err != nil {
		return err
	}
	if durable {
		// The spare now holds the version before this one, which may be
		// an identity the user just reset: it goes.
		_ = syscall.Unlink(next)
	}
	return nil
}

// flockFile is a lock file held with flock, exclusively (LOCK_EX) or
// shared (LOCK_SH).
type flockFile struct{ fd, how int }

func openLock(path string) (fileLock, error) {
	fd, err := open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOCTTY, 0o600)
	if err != nil {
		return nil, err
	}
	return flockFile{fd, syscall.LOCK_EX}, nil
}

func (l flockFile) tryLock() (bool, error) {
	err := retry(func() error { return syscall.Flock(l.fd, l.how|syscall.LOCK_NB) })
	if err == syscall.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// release closes the file, which drops its lock.
func (l flockFile) release() { _ = syscall.Close(l.fd) }

// readLockWait bounds a reader's wait for writers. They hold the lock for
// about a millisecond; one that holds it longer is stuck and cannot swap
// the file, so the reader then reads without the lock.
const readLockWait = 100 * time.Millisecond

// readShared reads the file at path under a shared lock, so that no writer
// swaps it away and rewrites it while it is read (see file_linux.go). A
// missing lock file means no writer has come yet.
func readShared(path, lockPath string) ([]byte, error) {
	fd, err := open(lockPath, syscall.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err == nil {
		l := flockFile{fd, syscall.LOCK_SH}
		defer l.release() // after the read
		if ok, err := l.tryLock(); !ok && err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), readLockWait)
			_, _ = waitLock(ctx, l)
			cancel()
		}
	}
	return readBounded(path)
}
