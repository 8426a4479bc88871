//go:build unix

package state

import (
	"io/fs"
	"os"
	"syscall"
)

// openRead opens a file for reading. O_NONBLOCK: should a named pipe take
// the file's place after readFile checked it, opening it returns at once.
func openRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// openAppend opens a journal file for appending, never through a link.
func openAppend(path string, create bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_APPEND | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if create {
		flags |= os.O_CREATE
	}
	return os.OpenFile(path, flags, 0o600)
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
func writeLine(f *os.File, line []byte) error {
	_, err := f.Write(line)
	return err
}

// unlockJournal: closing the file drops its flock.
func unlockJournal(*os.File) {}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

func renameFile(from, to string) error { return os.Rename(from, to) }

func removeFile(path string) error { return os.Remove(path) }
