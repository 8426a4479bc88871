//go:build unix

package state

import (
	"io/fs"
	"os"
	"syscall"
)

// openRead opens a file for reading.
func openRead(path string) (*os.File, error) { return open(path, syscall.O_RDONLY, 0) }

// openAppend opens a journal file for appending, never through a link.
func openAppend(path string, create bool) (*os.File, error) {
	flags := syscall.O_WRONLY | syscall.O_APPEND | syscall.O_NOFOLLOW
	if create {
		flags |= syscall.O_CREAT
	}
	return open(path, flags, 0o600)
}

// open opens with O_NONBLOCK, so that a named pipe in a file's place cannot
// hang the host, then makes the descriptor blocking, which os.NewFile keeps
// out of the runtime's poller: its set-up cost more than the file work.
func open(path string, flags int, perm uint32) (*os.File, error) {
	fd, err := syscall.Open(path, flags|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, perm)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	_ = syscall.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), path), nil
}

// lockJournal takes a shared or an exclusive flock on f if it is free.
func lockJournal(f *os.File, exclusive bool) (bool, error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK || err == syscall.EINTR {
		return false, nil // the caller tries again, or gives up
	}
	return err == nil, err
}

// writeLine appends line with one write: O_APPEND makes it atomic.
func writeLine(f *os.File, line []byte) error { _, err := f.Write(line); return err }

// unlockJournal: closing the file drops its flock.
func unlockJournal(*os.File) {}

var renameFile, removeFile = os.Rename, os.Remove
