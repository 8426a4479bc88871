//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package state

import "syscall"

// nextPath is where the next version of the file at path is written before
// it is renamed over it.
func nextPath(path string) string { return tempPath(path) }

// openNext makes the temporary file. Only the lock holder writes, so one
// that exists is what a writer killed mid-write left: it is removed and
// made anew, never written through.
func openNext(next string) (int, error) {
	const flags = syscall.O_WRONLY | syscall.O_CREAT | syscall.O_EXCL | syscall.O_NOFOLLOW
	fd, err := open(next, flags, 0o600)
	if err != nil {
		_ = syscall.Unlink(next)
		fd, err = open(next, flags, 0o600)
	}
	return fd, err
}

func swap(next, path string) error {
	return retry(func() error { return syscall.Rename(next, path) })
}
