// Package sanitize makes any property map safe to send to PostHog, and
// decides which counter names may become heartbeat keys.
//
// It is the last gate before data leaves the machine, so it is written to
// fail closed: a key is sent only when it is explicitly allowed, a value only
// when it is a plain scalar or a small container of them, and anything the
// package does not recognise is dropped rather than guessed at.
//
// [Policy.Properties] keeps a top-level key only if it is one of the
// system keys or starts with an allowed namespace ("feature.", "cli.",
// "workflow."), and drops keys at any depth that hold a risky word such
// as "path", "email" or "token". Keys are cut into words at every character
// that is not a letter or a digit, between letters and digits and at
// camelCase changes, so "api_key", "apiKey" and "API-KEY" hold "key" while
// "keyboard" and "monkey_patch" do not; words are compared under Unicode
// simple case folding (so spelling "key" with the Kelvin sign, or "secret"
// with the long s, is caught too). Strings are repaired to valid UTF-8 — each run of
// invalid bytes becomes one U+FFFD, the same character encoding/json would
// emit, but done up front so that the size accounting is exact — and then cut
// to [Policy.MaxString] bytes on a rune boundary. Lists, nesting depth, keys
// per map and the encoded size of the whole result are capped, and the
// choice of what survives a cap depends only on the input, never on map
// iteration order, so the same input always gives the same output.
//
// [Policy.Explain] checks the name of an OpenTelemetry counter before it
// becomes a heartbeat key, and says which rule drops it;
// [Policy.CounterName] gives the same answer without the reason. A name
// must be dotted ASCII (it is sent lowered) in an allowed namespace, hold no
// risky word, not look like it carries data (an IP address however joined,
// an e-mail address, a URL, a path, a UUID, a hash, a long number, a random
// run, a credential of a known shape) and hold none of the machine's local
// words (its host name, its user's name, a token-like environment value)
// beyond the common ones that name a role, such as root or runner. Version
// and model names pass: claude-3-5-sonnet-20241022, gpt-4-1, v1-2-3.
//
// Properties is a pure function of its arguments. CounterName and Explain
// also read, once, when first called, the host name and the environment;
// nothing here writes to a global after that, and every function is safe
// for concurrent use.
package sanitize
