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
	defaultRecorder().AgentRunning(ctx, f)
}

// FeatureUsed adds 1 to feature.<name>.count of the global MeterProvider.
// See [Recorder.FeatureUsed].
func FeatureUsed(ctx context.Context, name string) {
	defaultRecorder().FeatureUsed(ctx, name)
}

// CLIRunning adds 1 to cli.<command>.count of the global MeterProvider.
// See [Recorder.CLIRunning].
func CLIRunning(ctx context.Context, command string) {
	defaultRecorder().CLIRunning(ctx, command)
}

// TutorialRunning adds 1 to feature.tutorial.<id>.count of the global
// MeterProvider. See [Recorder.TutorialRunning].
func TutorialRunning(ctx context.Context, id string) {
	defaultRecorder().TutorialRunning(ctx, id)
}

// binding is the default Recorder together with the global provider it was
// made for. It is replaced, never changed.
type binding struct {
	provider metric.MeterProvider
	typ      reflect.Type
	// byIdentity is true when provider is a pointer, so == is both safe
	// and exact. Other kinds may hold values == would panic on.
	byIdentity bool
	recorder   *Recorder
}

// current is the binding the package helpers use; nil until the first call,
// so importing the package does nothing.
var current atomic.Pointer[binding]

// defaultRecorder returns the Recorder for the current global provider. The
// check is a few loads and compares, so the helpers stay allocation-free;
// a new binding is made only when the global provider has changed.
func defaultRecorder() *Recorder {
	mp := otel.GetMeterProvider()
	if b := current.Load(); b != nil && b.matches(mp) {
		return b.recorder
	}
	return bind(mp)
}

// matches reports whether b was made for mp. Providers that are not
// pointers are told apart by type only.
func (b *binding) matches(mp metric.MeterProvider) bool {
	if b.byIdentity {
		// b.provider holds a pointer, so == cannot panic: a value of
		// another dynamic type is unequal without being compared.
		return mp == b.provider
	}
	return reflect.TypeOf(mp) == b.typ
}

// bind makes and publishes the binding for mp. Concurrent binds for the same
// provider may each make one; the last stored wins, and no count is lost
// because the provider returns the same instrument for the same name.
func bind(mp metric.MeterProvider) *Recorder {
	t := reflect.TypeOf(mp)
	b := &binding{
		provider:   mp,
		typ:        t,
		byIdentity: t != nil && t.Kind() == reflect.Pointer,
		recorder:   NewRecorder(mp),
	}
	current.Store(b)
	return b.recorder
}
