// Package state owns the telemetry state file: where it lives, what it holds
// and how it is changed safely by many processes at once.
//
// The file is YAML, by default <XDG config home>/idun/config.yaml. Every
// change is a locked read-modify-write: an exclusive flock on a lock file
// beside the state file, a bounded read, the caller's change, then a whole
// file written to a temporary file in the same folder, synced and renamed over
// the old one. Readers that take no lock therefore always see a whole file.
//
// A file that exists but cannot be used (unparsable, too large, not a regular
// file, unreadable) is reported with an error wrapping [ErrUnusable] and is
// never written over: it may hold the user's opt-out, so callers turn
// telemetry off for the process instead.
//
// The package takes no clock of its own: callers pass times in.
package state
