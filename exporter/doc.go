// Package exporter is an OpenTelemetry metrics exporter that turns the
// host's feature.*, cli.* and workflow.* counters into anonymous, privacy-aware
// usage telemetry sent to PostHog: at most once a day where the state file
// lasts, at the end of each run where it does not.
//
// Register it on the application's existing MeterProvider:
//
//	exp, err := exporter.New(exporter.WithAPIKey(key), exporter.WithVersion(version))
//	if err != nil {
//		log.Printf("telemetry: %v", err) // a mistake in the options; exp is off
//	}
//	mp := sdkmetric.NewMeterProvider(append(hostOptions, exporter.ProviderOptions(exp)...)...)
//	defer mp.Shutdown(context.Background())
//
// ProviderOptions is WithReader(NewReader(exp)) when telemetry is on and
// nothing when it is off. One Exporter may serve several providers, each
// through its own NewReader.
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
// the network and no goroutine starts. WithApp makes the module count
// another application under its own name, state folder and variables
// (ACME_TELEMETRY_ENABLED).
//
// New returns an error, wrapping ErrInvalidConfig, for the developer's
// mistakes (a host that is not an absolute http or https URL, a malformed
// key, an invalid application name), with an Exporter that does nothing.
// Otherwise the exporter never fails, slows or prints into its host: no error
// reaches the SDK for network or file trouble, no panic escapes, nothing is
// written to stdout or stderr, and Shutdown returns within its context and a
// short grace (250 ms by default). The exceptions are the host's choice:
// WithNotice writes a first-run notice to a terminal, and debug mode
// (IDUN_TELEMETRY_DEBUG=1 or WithDebugWriter) writes JSON lines to stderr:
//
//	{"telemetry":"decision","enabled":true,"source":"default","reason":"on by default"}
//	{"telemetry":"dropped","counter":"http.server.request.count","rule":"not in the feature., cli. or workflow. namespace"}
//	{"uuid":"...","event":"First run","distinct_id":"...","timestamp":"...","properties":{...}}
//
// that is, once from New the decision, once per name each counter an export
// leaves out with the rule that left it out (parts of the name that are not
// plain words printed as "*"), and each event as it would be sent, instead of
// sending it.
//
// Status, SetEnabled and Reset are the telemetry commands of a CLI as
// functions; package telemetrycmd is the command, ready to mount.
package exporter
