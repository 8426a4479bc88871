// Package sanitize makes any property map safe to send to PostHog.
//
// It is the last gate before data leaves the machine, so it is written to
// fail closed: a key is sent only when it is explicitly allowed, a value only
// when it is a plain scalar or a small container of them, and anything the
// package does not recognise is dropped rather than guessed at.
//
// [Policy.Properties] keeps a top-level key only if it is one of the
// system keys or starts with an allowed namespace ("feature.", "cli.",
// "workflow."), and drops keys at any depth that contain a risky token such
// as "path", "email" or "token", compared case-insensitively under Unicode
// simple case folding (so spelling "key" with the Kelvin sign, or "secret"
// with the long s, is caught too). Strings are repaired to valid UTF-8 — each run of
// invalid bytes becomes one U+FFFD, the same character encoding/json would
// emit, but done up front so that the size accounting is exact — and then cut
// to [Policy.MaxString] bytes on a rune boundary. Lists, nesting depth, keys
// per map and the encoded size of the whole result are capped, and the
// choice of what survives a cap depends only on the input, never on map
// iteration order, so the same input always gives the same output.
//
// [Policy.CounterName] checks the name of an OpenTelemetry counter before it
// becomes a heartbeat key. It accepts only lowercase dotted ASCII names in an
// allowed namespace, and drops a name that looks like it carries data rather
// than naming a feature: two digits-only parts in a row, parts split at
// '.', '_' and '-' (an IP address such as "feature.10.0.0.1" or
// "feature.10_0_0_1", a version, a date), a segment that starts like a
// credential (sk_, ghp_, AKIA, eyJ...), or a long segment with digits or of
// hex digits only (keys, hashes, UUIDs). When unsure, drop.
//
// Everything here is a pure function of its arguments: no I/O, no globals
// that change, safe for concurrent use.
package sanitize
