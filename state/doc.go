// Package state owns the telemetry state file: where it lives, what it holds
// and how it is changed safely by many processes at once.
//
// The file is YAML, by default <XDG config home>/idun/config.yaml. Every
// change is a locked read-modify-write: an exclusive flock on a lock file
// beside the state file, a bounded read, the caller's change, then the whole
// file written to another file in the same folder and put in its place in
// one step (swapped with it on Linux, renamed over it elsewhere). Readers
// share the lock and always see a whole file. A change to the counters
// alone, the change of almost every program run, rewrites only their lines
// and is not fsynced; every other change is.
//
// Files this package wrote are read without yaml.v3 (parseQuick), and a
// Store reuses what it last read while the file holds the same bytes: a
// short-lived program pays for one small read and one small write.
//
// A file that exists but cannot be used (unparsable, too large, not a regular
// file, unreadable) is reported with an error wrapping [ErrUnusable] and is
// never written over: it may hold the user's opt-out, so callers turn
// telemetry off for the process instead.
//
// The package takes no clock of its own: callers pass times in.
package state
