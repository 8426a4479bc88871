package state

import "path/filepath"

// The state file's reads and writes (file_flock.go with file_linux.go or
// file_bsd.go, and file_other.go) share these rules.
//
// readBounded reads at most MaxFileSize bytes of a regular file, without
// opening anything else: opening a named pipe blocks until a writer comes,
// which would hang the host program.
//
// writeAtomic replaces path with b through another file in the same
// folder, swapped with it (Linux) or renamed over it, so that no reader and
// no killed process ever sees half a file.
//
// writeAtomic's durable flushes the new bytes to disk before the replace.
// Without it, a power loss right after the replace can leave the file
// holding an older version or bytes that do not parse: an unusable file, so
// telemetry stays off until the user resets it. That risk is taken for
// counts and nothing else: every write that sets an identity, a setting or
// an event is durable, and so is any write of a file that says telemetry is
// off, so a lost write can turn telemetry off but never on.

// tempPath is where writeAtomic builds the next version of the file at path.
func tempPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
}

// synced is called before each fsync, so that tests can count them.
var synced = func() {}
