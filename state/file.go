package state

import "path/filepath"

// The state file's reads and writes (file_unix.go, file_other.go) share
// these rules.
//
// readBounded reads at most MaxFileSize bytes of a regular file, without
// opening anything else: opening a named pipe blocks until a writer comes,
// which would hang the host program.
//
// writeAtomic replaces path with b through a temporary file in the same
// folder, renamed over it, so that no reader and no killed process ever
// sees half a file. Only the lock holder writes, so a temporary file that
// exists is what a writer killed mid-write left: it is removed and made
// anew, never written through.
//
// writeAtomic's durable flushes the new bytes to disk before the rename.
// Without it, a power loss right after the rename can leave an empty file
// on file systems that do not write a replacing file's data before the
// rename (ext4 and btrfs do, XFS does not): an unusable file, so telemetry
// stays off until the user resets it. That risk is taken for counts and
// nothing else: every write that sets an identity, a setting or an event is
// durable, and so is any write of a file that says telemetry is off.

// tempPath is where writeAtomic builds the next version of the file at path.
func tempPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
}

// synced is called before each fsync, so that tests can count them.
var synced = func() {}
