package state

// On Linux the state file is replaced by swapping it with a spare file
// (renameat2 RENAME_EXCHANGE), which then holds the version before and is
// written over at the next update. Replacing by rename instead frees the
// old file's inode and allocates a new one at every update: on ext4 that
// was most of a CLI run's cost (0.2 to 0.5 ms here; an ext4 without a
// journal also skips every recently freed inode when allocating). A reader
// that opened the file just before a swap could then be reading the spare
// while the next writer rewrites it, so readers hold a shared lock (see
// readShared).

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// nextPath is the spare: where the next version of the file at path is
// written, and where the version before it stays until then.
func nextPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".spare")
}

// openNext opens the spare for writing, making it when there is none. What
// is not a plain file of its own (a link, a file with another name too) is
// removed and made anew, never written through.
func openNext(next string) (int, error) {
	fd, err := open(next, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0o600)
	if err == nil {
		var st syscall.Stat_t
		if retry(func() error { return syscall.Fstat(fd, &st) }) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Nlink == 1 {
			return fd, nil
		}
		_ = syscall.Close(fd)
	}
	_ = syscall.Unlink(next)
	return open(next, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW, 0o600)
}

// swap makes next the file at path, and the file at path the spare. Without
// a file at path, or on a file system that cannot swap, next is renamed.
func swap(next, path string) error {
	err := retry(func() error {
		return unix.Renameat2(unix.AT_FDCWD, next, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.ENOTSUP) {
		return retry(func() error { return syscall.Rename(next, path) })
	}
	return err
}
