// Package reliability is the process-level reliability suite of the
// telemetry library. It has no code outside its tests.
//
// The tests build small host programs (testdata/hostprog) and the examples
// (examples/cli, examples/server), run them as real processes, each group
// with its own HOME and XDG_CONFIG_HOME and an environment built from
// scratch, against loopback PostHog stand-ins (package posthogtest), and
// check that telemetry never loses a count, never sends an event twice,
// never leaks a goroutine or a private value and never changes what its host
// prints, how it exits or how long it takes to exit. Only the clock is faked,
// by writing state files whose times lie in the past.
//
// TestReliabilityWindows runs the Windows builds of hostprog and
// examples/cli under wine, driven from the Linux test process, when Debian's
// wine64 and mingw are installed (wine_test.go says why and how).
//
// The fast part runs with go test ./...; the long part (hundreds of kills,
// five minutes of fuzzing per target) with
//
//	go test ./exporter/reliability -run Reliability -long -timeout 60m
//
// README.md's "Reliability" section lists every scenario and its figures.
package reliability
