package state

// Windows refuses to rename over or delete a file that another process has
// open without FILE_SHARE_DELETE, which os.Open does not pass: every file
// here is opened with all three share modes. What is left (an antivirus, an
// indexer, a backup holding the file) is retried for 500 ms, as
// cmd/go/internal/robustio does, and never taken for an unusable file.

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

func retry(call func() error) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, _ = poll(ctx, func() (bool, error) {
		err = call()
		var errno syscall.Errno
		return !errors.As(err, &errno) || errno != windows.ERROR_ACCESS_DENIED &&
			errno != windows.ERROR_SHARING_VIOLATION && errno != windows.ERROR_LOCK_VIOLATION, nil
	})
	return err
}

func open(path string, access, disposition, flags uint32) (f *os.File, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err == nil {
		err = retry(func() error {
			h, err := windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
				nil, disposition, windows.FILE_ATTRIBUTE_NORMAL|flags, 0)
			f = os.NewFile(uintptr(h), path)
			return err
		})
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return f, nil
}

// openRead opens a file for reading; a folder in its place opens too (it
// would be refused as access denied, and retried), and fails the caller's
// check that it is a regular file.
func openRead(path string) (*os.File, error) {
	return open(path, windows.GENERIC_READ, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS)
}

// openAppend opens a journal file so that each write goes to its end.
func openAppend(path string, create bool) (*os.File, error) {
	disposition := uint32(windows.OPEN_EXISTING)
	if create {
		disposition = windows.OPEN_ALWAYS
	}
	return open(path, windows.GENERIC_READ|windows.FILE_APPEND_DATA|windows.SYNCHRONIZE, disposition, 0)
}

// The journal's locks are one byte each far past any data: a locked range
// refuses writes, even its owner's through another handle. lockAt is the
// appenders' shared lock and a fold's exclusive one; writeAt, see writeLine.
var lockAt, writeAt = windows.Overlapped{OffsetHigh: 1 << 30}, windows.Overlapped{OffsetHigh: 1<<30 + 1}

func lockJournal(f *os.File, exclusive bool) (bool, error) { return lockRange(f, exclusive, lockAt) }

func lockRange(f *os.File, exclusive bool, ol windows.Overlapped) (bool, error) {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

// unlockJournal drops the lock at once: Windows drops a closed handle's
// locks only when it gets to it.
func unlockJournal(f *os.File) { unlockRange(f, lockAt) }

func unlockRange(f *os.File, ol windows.Overlapped) {
	_ = windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// writeLine appends line. FILE_APPEND_DATA appends are atomic on NTFS but
// not under wine (1-2 lines lost in 200, measured): appenders take turns,
// one write each, and pass one stuck for 100 ms.
func writeLine(f *os.File, line []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), drainWait)
	defer cancel()
	if ok, _ := poll(ctx, func() (bool, error) { return lockRange(f, true, writeAt) }); ok {
		defer unlockRange(f, writeAt)
	}
	_, err := f.Write(line)
	return err
}

func renameFile(from, to string) error { return retry(func() error { return os.Rename(from, to) }) }

func removeFile(path string) error { return retry(func() error { return os.Remove(path) }) }
