// Package exporter is an OpenTelemetry metrics exporter that turns the
// host's feature.*, cli.* and workflow.* counters into anonymous, privacy-aware
// usage telemetry sent to PostHog: at most once a day where the state file
// lasts, at the end of each run where it does not.
//
// Register it on the application's existing MeterProvider through NewReader:
//
//	exp, _ := exporter.New(exporter.WithAPIKey(key), exporter.WithVersion(version))
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter.NewReader(exp)))
//	defer mp.Shutdown(context.Background())
//
// Each export folds the counter deltas (attributes dropped, names checked by
// package sanitize) into the state file of package state. Once 24 hours have
// passed since the last Heartbeat, the counters and a few system keys move into
// the file's outbox as one Heartbeat event; a new installation also queues a
// single "First run" event. An installation's first Heartbeat goes at the end
// of its first run, and in CI (detected from the environment, reported as the
// ci and ci.vendor keys) every run's counts go at its end, so that a
// container without a volume or a CI job, whose state file dies with it,
// still reports its usage; a process sends at most one Heartbeat before its
// day is up. Outbox events are sent in the background with posthog-go and
// leave the outbox only when PostHog acknowledges them.
//
// Telemetry is on by default, except in a go test binary, where only
// IDUN_TELEMETRY_ENABLED=true turns it on. IDUN_TELEMETRY_ENABLED=false,
// DO_NOT_TRACK=1, OTEL_SDK_DISABLED=true, WithEnabled(false) or
// telemetry_enabled: false in the state file turn it off; when an environment
// variable, the option or go test turns it off nothing touches the disk or
// the network and no goroutine starts.
//
// The exporter never fails, slows or prints into its host: no error reaches
// the SDK for network or file trouble, no panic escapes, nothing is written to
// stdout or stderr unless IDUN_TELEMETRY_DEBUG=1, and Shutdown returns within
// its context and a short grace (250 ms by default).
package exporter
