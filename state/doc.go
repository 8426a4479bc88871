// Package state owns the telemetry state file and the files beside it:
// where they live, what they hold and how many processes change them at
// once without waiting for each other.
//
// config.yaml (by default <XDG config home>/idun/config.yaml) is the truth
// a user reads and edits. It is read and written by yaml.v3 alone, under an
// exclusive flock on config.yaml.lock, as a whole new file fsynced and
// renamed over the old one, and only when identity, the user's setting, a
// Heartbeat or the outbox change. Readers take no lock. Keys this package
// does not know survive a rewrite. A file that exists but cannot be used is
// reported with an error wrapping [ErrUnusable] and never written over: it
// may hold the user's opt-out.
//
// A run's counts go to counts.journal, one line appended with one write
// under a shared flock that appenders share: no run waits for another to
// record its counts. A fold (Store.Fold) renames the journal to a folding
// file of its own, takes an exclusive flock on it, which waits for the
// appenders still writing to it (an appender that comes later finds its
// file is no longer the journal, and opens the new one), adds its lines to
// config.yaml's counters and names it in folded_journals, and only then
// removes it: a fold cut short anywhere is done again or not at all.
//
// config.brief.json is derived from config.yaml for Peek: what a run needs
// to learn that nothing is due, without parsing YAML. It is trusted only
// while config.yaml's size, modification time and inode are those it
// records.
//
// The package takes no clock of its own: callers pass times in.
package state
