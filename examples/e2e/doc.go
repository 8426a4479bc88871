// Package e2e holds the end-to-end tests of the examples: it builds
// examples/cli and examples/server once and drives them as real processes,
// each test with its own HOME, XDG_CONFIG_HOME and loopback PostHog
// stand-in (package posthogtest), so no test reads the developer's state
// file or reaches the internet. It has no code outside its tests.
package e2e
