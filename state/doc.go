// Package state owns the telemetry state file and the files beside it, and
// lets many processes change them at once without waiting for each other.
//
// config.yaml (by default <XDG config home>/idun/config.yaml) is the truth a
// user reads and edits. yaml.v3 alone reads and writes it, under an
// exclusive flock on config.yaml.lock, as a new file fsynced and renamed
// over the old one, only when identity, the user's setting, a Heartbeat or
// the outbox change. Readers take no lock; unknown keys survive a rewrite.
// A file that cannot be used is reported with [ErrUnusable] and never
// written over: it may hold the user's opt-out.
//
// A run's counts go to counts.journal: one line, one write, under a shared
// flock that appenders share. A fold renames the journal to a folding file
// of its own and takes an exclusive flock on it, which waits for appenders
// still writing to it (later ones find their file is no longer the journal
// and open the new one); it adds the lines to config.yaml's counters, names
// the file in folded_journals, and only then removes it: a fold cut short
// anywhere is done again or not at all.
//
// The package takes no clock of its own: callers pass times in.
package state
