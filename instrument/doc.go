// Package instrument holds the engine-facing helpers that count usage with
// ordinary OpenTelemetry Int64Counters.
//
// Engine code calls [AgentRunning], [FeatureUsed], [CLIRunning] and
// [TutorialRunning] (or the same methods on a [Recorder] bound to a chosen
// MeterProvider). Each call adds 1 to one counter of the meter [ScopeName]:
//
//	AgentRunning(ctx, LANGGRAPH)     workflow.langgraph.count
//	FeatureUsed(ctx, "memory")       feature.memory.count
//	CLIRunning(ctx, "version")       cli.version.count
//	TutorialRunning(ctx, "intro")    feature.tutorial.intro.count
//
// The package does not send anything itself: whatever reader is registered
// on the MeterProvider (for Idun, the PostHog exporter) decides what leaves
// the process.
//
// # Names
//
// Counter names end up in a usage report, so a name must not be able to
// carry user data. The name given to a helper must be one key segment:
// 1 to 64 bytes of ASCII letters, digits, '_' and '-'. Upper-case letters are
// lowered. Anything else (a path, an email address, a URL, an IP address,
// spaces, dots, non-ASCII text) is dropped without recording: it is not
// rewritten, because a rewritten path or address still carries the data.
// AgentFramework values are checked the same way, so an unknown but
// well-formed framework is counted and a malformed one is dropped.
//
// # Failure and cost
//
// The helpers return nothing and never panic: a MeterProvider that returns
// errors or panics loses the count, not the caller's work. Errors are
// dropped silently and not passed to otel.Handle, whose default prints to
// stderr.
//
// Each instrument is created once per counter name and cached; later calls
// with the same name take a lock-free read path that does not allocate.
// Only valid names are cached, and a Recorder caches at most 1024 distinct
// names. Once the cache is full, names not already in it are dropped rather
// than recorded: a stream of distinct names (from a bug or from input an
// attacker controls) then costs neither this package nor the SDK, which
// keeps every instrument it creates, any more memory. Names already cached
// keep counting.
//
// # Global MeterProvider
//
// The package-level helpers use otel.GetMeterProvider. They may be called
// before the application sets its provider: counters made from the global
// delegating provider forward to the provider set later (calls made before
// that are not counted). When the global provider is replaced again, the
// helpers follow the new provider on their next call. Importing the package
// does nothing: no goroutine, no I/O, no instrument until the first call.
package instrument // import "github.com/Idun-Group/idun-telemetry-go/instrument"
