package instrument

import (
	"context"
	"reflect"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// AgentRunning adds 1 to workflow.<f>.count of the global MeterProvider.
// See [Recorder.AgentRunning].
func AgentRunning(ctx context.Context, f AgentFramework) {
	addDefault(ctx, kindWorkflow, string(f))
}

// FeatureUsed adds 1 to feature.<name>.count of the global MeterProvider.
// See [Recorder.FeatureUsed].
func FeatureUsed(ctx context.Context, name string) {
	addDefault(ctx, kindFeature, name)
}

// CLIRunning adds 1 to cli.<command>.count of the global MeterProvider.
// See [Recorder.CLIRunning].
func CLIRunning(ctx context.Context, command string) {
	addDefault(ctx, kindCLI, command)
}

// TutorialRunning adds 1 to feature.tutorial.<id>.count of the global
// MeterProvider. See [Recorder.TutorialRunning].
func TutorialRunning(ctx context.Context, id string) {
	addDefault(ctx, kindTutorial, id)
}

// binding is the default Recorder together with the global provider it was
// made for. It is replaced, never changed.
type binding struct {
	provider metric.MeterProvider
	// comparable: == on provider cannot panic. A provider of a type that
	// == would panic on (a struct holding a map, say) is bound anew at
	// each call: slower, never wrong.
	comparable bool
	recorder   *Recorder
}

// same reports whether mp is the provider b was made for.
func (b *binding) same(mp metric.MeterProvider) bool {
	return b.comparable && b.provider == mp
}

// current is the binding the package helpers use; nil until the first call,
// so importing the package does nothing.
var current atomic.Pointer[binding]

// addDefault is Recorder.add on the Recorder for the current global
// provider. The check is a few loads and compares, so the helpers stay
// allocation-free; a new binding is made only when the global provider has
// changed. It is one function, not a lookup followed by Recorder.add: the
// second call cost about 5% of a bare Add.
func addDefault(ctx context.Context, k kind, name string) {
	defer swallowPanic()
	mp := otel.GetMeterProvider()
	var r *Recorder
	if b := current.Load(); b != nil && b.same(mp) {
		r = b.recorder
	} else {
		r = bind(mp)
	}
	c := r.hot(k, name)
	if c == nil {
		if c = r.counter(k, name); c == nil {
			return
		}
	}
	if ctx == nil {
		// Some SDK paths read the context; a nil one would panic there.
		ctx = context.Background()
	}
	c.Add(ctx, 1)
}

// bind makes and publishes the binding for mp. Concurrent binds for the same
// provider may each make one; the last stored wins, and no count is lost
// because the provider returns the same instrument for the same name.
func bind(mp metric.MeterProvider) *Recorder {
	b := &binding{provider: mp, comparable: mp != nil && reflect.TypeOf(mp).Comparable(), recorder: NewRecorder(mp)}
	current.Store(b)
	return b.recorder
}
