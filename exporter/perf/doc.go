// Package perf holds the process-level overhead measurements of the
// telemetry. Its tests build examples/cli with go build into a temporary
// folder and time real runs of "cli version" with telemetry on against
// telemetry off, each run with its own HOME and XDG_CONFIG_HOME, an
// environment built from scratch, and a PostHog stand-in on loopback
// (package posthogtest), so nothing reads the developer's state file or
// reaches the internet.
//
// BenchmarkProcess gives the process-level figures of the README's
// Performance section; TestProcessSmoke checks the same budgets with wide
// margins on every go test. The package has no code outside its tests.
package perf
