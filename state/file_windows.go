package state

// Windows refuses to rename over, or delete, a file another process holds
// open unless every opener allowed it (FILE_SHARE_DELETE), which os.Open
// does not. Every file of this package is opened here with all three share
// modes, so a reader or an appender never makes a writer fail. What is left
// (another program holding the file: an antivirus, an indexer, a backup) is
// transient and retried for a bounded time, as cmd/go/internal/robustio
// does; it is never taken for an unusable file.

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// retryFor bounds the retries of one call that meets a transient error.
const retryFor = 500 * time.Millisecond

// transient reports the errors another process's open file causes.
func transient(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case windows.ERROR_ACCESS_DENIED, windows.ERROR_SHARING_VIOLATION, windows.ERROR_LOCK_VIOLATION:
		return true
	}
	return false
}

// retry runs call again while it meets a transient error, up to retryFor.
func retry(call func() error) error {
	deadline := time.Now().Add(retryFor)
	delay := time.Millisecond
	for {
		err := call()
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay/2 + rand.N(delay))
		delay = min(2*delay, 50*time.Millisecond)
	}
}

const shareAll = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE

func open(path string, access, disposition uint32) (f *os.File, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	err = retry(func() error {
		h, err := windows.CreateFile(p, access, shareAll, nil, disposition, windows.FILE_ATTRIBUTE_NORMAL, 0)
		if err == nil {
			f = os.NewFile(uintptr(h), path)
		}
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return f, nil
}

func openRead(path string) (*os.File, error) {
	return open(path, windows.GENERIC_READ, windows.OPEN_EXISTING)
}

// openAppend opens a journal file so that each write goes to its end.
func openAppend(path string, create bool) (*os.File, error) {
	disposition := uint32(windows.OPEN_EXISTING)
	if create {
		disposition = windows.OPEN_ALWAYS
	}
	return open(path, windows.GENERIC_READ|windows.FILE_APPEND_DATA|windows.SYNCHRONIZE, disposition)
}

// lockOffset places the journal's lock far past any data: a locked range
// refuses writes, even its owner's through another handle.
const lockOffset = 1 << 62

func lockJournal(f *os.File, exclusive bool) (bool, error) {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	ol := windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	}
	return false, err
}

// unlockJournal drops the lock at once: Windows drops the locks of a closed
// handle only when it gets to it.
func unlockJournal(f *os.File) {
	ol := windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
	_ = windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

func inode(fs.FileInfo) uint64 { return 0 }

func renameFile(from, to string) error { return retry(func() error { return os.Rename(from, to) }) }

func removeFile(path string) error { return retry(func() error { return os.Remove(path) }) }
