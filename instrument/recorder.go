package instrument

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope (meter name) of every counter this
// package records.
const ScopeName = "github.com/Idun-Group/idun-telemetry-go/instrument"

// maxCachedNames bounds the names one Recorder caches, and so the
// instruments it creates. See the package documentation for why names past
// the bound are dropped.
const maxCachedNames = 1024

// descriptions are attached to the counters so that a human reading them in
// any OTel backend knows what they count.
var descriptions = [...]string{
	kindFeature:  "Number of times an engine feature was used.",
	kindCLI:      "Number of times a CLI command was run.",
	kindWorkflow: "Number of agent workflows started on a framework.",
	kindTutorial: "Number of times a tutorial was run.",
}

// cache maps each kind's names, exactly as callers passed them, to their
// counters. Keying by kind and raw name means the hot path needs no
// concatenation and no lowering, so it does not allocate; string-keyed maps
// also take the runtime's fast path for string lookups.
//
// A cache is never changed once published: create copies it, so readers
// need no lock. A nil counter marks a valid name the provider failed to make,
// so the failure is not retried on every call.
type cache struct {
	byKind [len(prefixes)]map[string]metric.Int64Counter
	size   int // names held across all kinds
	// hot is a direct-mapped table in front of each map: each slot holds
	// the first name cached with a working counter that hashes to it. A hit
	// costs a hash of the length and last byte and a string compare (a
	// pointer compare for a string literal), where a map lookup hashes the
	// whole name; it is what keeps the helpers close to a bare Add.
	hot [len(prefixes)][hotSlots]hotEntry
}

// hotSlots is the number of hot slots of each kind, a power of two.
const hotSlots = 8

type hotEntry struct {
	name string
	ctr  metric.Int64Counter // never nil in a used slot
}

// hotSlot picks the slot of a non-empty name: a hash of its length and
// last byte, cheap enough for hot to be inlined.
func hotSlot(name string) uint {
	return (uint(len(name)) ^ uint(name[len(name)-1])<<1) % hotSlots
}

// with returns a copy of c with name of kind k mapped to ctr. Only the map
// of kind k is copied; the others are shared, as none is ever written.
func (c *cache) with(k kind, name string, ctr metric.Int64Counter) *cache {
	next := *c
	m := make(map[string]metric.Int64Counter, len(c.byKind[k])+1)
	maps.Copy(m, c.byKind[k])
	m[name] = ctr
	next.byKind[k] = m
	next.size++
	if h := &next.hot[k][hotSlot(name)]; ctr != nil && h.ctr == nil {
		*h = hotEntry{name: name, ctr: ctr}
	}
	return &next
}

// Recorder counts usage into counters of one MeterProvider. Its methods are
// safe for concurrent use, never panic and never block on I/O.
//
// The zero value records nothing; use [NewRecorder].
type Recorder struct {
	provider metric.MeterProvider

	cache atomic.Pointer[cache] // nil until the first name is cached.

	mu    sync.Mutex   // serializes instrument creation and cache growth.
	meter metric.Meter // guarded by mu; made on first use.
}

// NewRecorder returns a Recorder that records into counters of mp. It does
// no work until the first call: the meter and the instruments are made then.
// A nil mp gives a Recorder that records nothing.
func NewRecorder(mp metric.MeterProvider) *Recorder {
	return &Recorder{provider: mp}
}

// AgentRunning adds 1 to workflow.<f>.count, f lowered. A value of f that
// is not a valid key segment is dropped.
func (r *Recorder) AgentRunning(ctx context.Context, f AgentFramework) {
	r.add(ctx, kindWorkflow, string(f))
}

// FeatureUsed adds 1 to feature.<name>.count, name lowered. A name that is
// not a valid key segment is dropped.
func (r *Recorder) FeatureUsed(ctx context.Context, name string) {
	r.add(ctx, kindFeature, name)
}

// CLIRunning adds 1 to cli.<command>.count, command lowered. A command that
// is not a valid key segment is dropped.
func (r *Recorder) CLIRunning(ctx context.Context, command string) {
	r.add(ctx, kindCLI, command)
}

// TutorialRunning adds 1 to feature.tutorial.<id>.count, id lowered. An id
// that is not a valid key segment is dropped.
func (r *Recorder) TutorialRunning(ctx context.Context, id string) {
	r.add(ctx, kindTutorial, id)
}

// add is the boundary every helper goes through: whatever the provider does,
// the caller gets control back.
func (r *Recorder) add(ctx context.Context, k kind, name string) {
	if r == nil {
		return
	}
	defer swallowPanic()
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

// swallowPanic stops a panic from a broken MeterProvider or instrument at
// the package boundary. Telemetry must never take the host program down.
func swallowPanic() {
	_ = recover()
}

// hot returns the counter of the hot slot of (k, name), or nil. It is small
// enough to be inlined into the helpers.
func (r *Recorder) hot(k kind, name string) metric.Int64Counter {
	c := r.cache.Load()
	if c == nil || name == "" {
		return nil
	}
	h := &c.hot[k][hotSlot(name)]
	// Callers mostly pass the same string literal every time, which is
	// the very string cached: the runtime's comparison returns at once
	// for the same bytes.
	if h.name != name {
		return nil
	}
	return h.ctr
}

// counter returns the cached counter for (k, name), or makes it. It returns
// nil when the name is dropped.
func (r *Recorder) counter(k kind, name string) metric.Int64Counter {
	if c := r.cache.Load(); c != nil {
		if ctr, ok := c.byKind[k][name]; ok {
			return ctr
		}
	}
	return r.create(k, name)
}

// create is the slow path of counter: validate, then make and cache the
// counter under the mutex. Invalid names return before anything is cached,
// so they cannot grow the cache. Once the cache is full, new names return
// first of all, so dropping them takes no lock and no allocation.
func (r *Recorder) create(k kind, name string) metric.Int64Counter {
	if c := r.cache.Load(); c != nil && c.size >= maxCachedNames {
		return nil
	}
	seg, ok := segment(name)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	old := r.cache.Load()
	if old == nil {
		old = new(cache)
	}
	if ctr, ok := old.byKind[k][name]; ok {
		return ctr // Another goroutine made it while we waited.
	}
	if old.size >= maxCachedNames {
		return nil
	}
	ctr := r.newCounter(k, seg)
	r.cache.Store(old.with(k, name, ctr))
	return ctr
}

// newCounter asks the provider for the counter of (k, seg). Any error or
// panic from the provider yields nil, which drops the name. Errors are not
// sent to otel.Handle: its default handler prints to stderr, and this
// package must not print into the host program.
func (r *Recorder) newCounter(k kind, seg string) (c metric.Int64Counter) {
	defer func() {
		if recover() != nil {
			c = nil
		}
	}()
	if r.meter == nil {
		if r.provider == nil {
			return nil
		}
		r.meter = r.provider.Meter(ScopeName)
	}
	c, err := r.meter.Int64Counter(
		counterName(k, seg),
		metric.WithDescription(descriptions[k]),
		metric.WithUnit("1"),
	)
	if err != nil {
		return nil
	}
	return c
}
