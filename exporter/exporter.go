package exporter

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// Exporter is an sdkmetric.Exporter that turns counters into daily,
// anonymous PostHog events. Make one with New and register it with NewReader.
type Exporter struct {
	cfg      config
	decision Decision
	// aggregate is the decision New made, fixed for the SDK's Aggregation
	// calls; Export rechecks the live decision.
	aggregate bool
	// envOn records that IDUN_TELEMETRY_ENABLED turned telemetry on, which
	// outranks the file's opt-out; fixed in New, so read without the lock.
	envOn   bool
	store   *state.Store
	version string

	// sendCtx is cancelled when Shutdown gives up waiting, which aborts any
	// request in flight.
	sendCtx    context.Context
	cancelSend context.CancelFunc

	mu       sync.Mutex
	flushing bool
	again    bool
	closed   bool
	idle     chan struct{} // closed when no flush runs
	debugMu  sync.Mutex
	printed  map[string]bool // debug mode: events already printed; flushes never overlap

	// exportMu serializes Exports, which share seen.
	exportMu sync.Mutex
	// seen holds, by heartbeat key, the running total of the SDK's
	// cumulative sums already added to the state file.
	seen map[string]int64

	shutdownOnce sync.Once
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// New returns an Exporter. Enablement is decided here, once (see Decide).
// When telemetry is off the Exporter does nothing at all: its Aggregation
// drops every instrument, and it touches no file, opens no connection and
// starts no goroutine. When it is on, New loads the state file or creates it
// (queueing one "First run" event for a new installation) and, if the outbox
// holds events or a Heartbeat is due, starts sending them in the background.
//
// New never fails for file or network trouble (telemetry is then off for the
// process); the error is there for the OTel exporter convention and is
// always nil.
func New(opts ...Option) (exp *Exporter, err error) {
	cfg := newConfig(opts)
	e := &Exporter{cfg: cfg, idle: closedChan()}
	defer func() {
		if r := recover(); r != nil {
			e.decision = Decision{false, SourceDefault, "telemetry is off: internal error"}
			exp, err = e, nil
		}
	}()
	if d, ok := early(cfg); ok && !d.Enabled {
		e.decision = d
		return e, nil
	}
	if d, ok := badPath(cfg); ok {
		e.decision = d
		return e, nil
	}
	e.store = state.New(cfg.path)
	st, loadErr := e.store.Load()
	e.decision = decide(cfg, st, loadErr)
	if !e.decision.Enabled {
		return e, nil
	}
	e.aggregate = true
	e.envOn = e.decision.Source == SourceEnvEnabled
	e.version = cfg.version
	if e.version == "" {
		e.version = buildVersion()
	}
	e.version = cleanVersion(e.version)
	e.sendCtx, e.cancelSend = context.WithCancel(context.Background())
	if cfg.debug != nil {
		e.printed = map[string]bool{}
	}
	e.start(st, errors.Is(loadErr, fs.ErrNotExist))
	return e, nil
}

// start does what a run owes at its beginning. The common case, an existing
// file with nothing due, costs one read and no write.
func (e *Exporter) start(st *state.State, missing bool) {
	now := e.cfg.now()
	if !missing && st.UserID != "" && !heartbeatDue(st, now) && !clockOff(st, now) {
		if len(st.Pending) > 0 {
			e.kick()
		}
		return
	}
	_ = e.commit(context.Background(), now, nil)
}

// errOptedOut aborts an update when the file, read under the lock, says off.
var errOptedOut = errors.New(optedOutDecision.Reason)

// prepare brings st up to date: an identity (and a First run for a new
// one), a repaired clock, a due Heartbeat.
func (e *Exporter) prepare(st *state.State, now time.Time) error {
	if on, set := st.Enabled(); set && !on && !e.envOn {
		return errOptedOut
	}
	created, err := st.EnsureUserID(now)
	if err != nil {
		return err
	}
	if created {
		ev, err := newEvent(EventFirstRun, st.UserID, now, systemProperties(e.version))
		if err != nil {
			return err
		}
		enqueue(st, ev)
	}
	fixClock(st, now)
	if heartbeatDue(st, now) {
		if err := queueHeartbeat(st, now, e.version); err != nil {
			return err
		}
	}
	trimPending(st)
	return nil
}

func clockOff(st *state.State, now time.Time) bool {
	return st.CreatedAt.After(now) || (st.LastHeartbeatAt != nil && st.LastHeartbeatAt.After(now))
}

// off turns telemetry off for the rest of the process after the state file
// turned out unusable or opted out.
func (e *Exporter) off(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case errors.Is(err, errOptedOut):
		e.decision = optedOutDecision
	case errors.Is(err, state.ErrUnusable):
		e.decision = unusableDecision(err)
	}
}

// Enabled reports whether telemetry is on for this process.
func (e *Exporter) Enabled() bool { return e.Decision().Enabled }

// Decision reports whether telemetry is on and what decided it.
func (e *Exporter) Decision() Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.decision
}

// ConfigPath returns the state file's path.
func (e *Exporter) ConfigPath() string { return e.cfg.path }

// Temporality returns Cumulative. With Delta the SDK makes every Add also
// enter and leave a hot/cold generation, two more atomic operations that
// contend across goroutines: the host's Add would cost more than with a
// plain ManualReader. Export turns the running totals into the new counts
// it adds to the state file, remembering what it has added (see seen).
func (e *Exporter) Temporality(sdkmetric.InstrumentKind) metricdata.Temporality {
	return metricdata.CumulativeTemporality
}

// Aggregation keeps counters only, and nothing when telemetry is off, so the
// SDK does no work for this reader that would be thrown away.
func (e *Exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if k == sdkmetric.InstrumentKindCounter && e.aggregate {
		return sdkmetric.AggregationSum{}
	}
	return sdkmetric.AggregationDrop{}
}

// Export adds the counters' deltas to the state file and queues a Heartbeat
// when one is due. It never returns an error: telemetry trouble must not
// reach the SDK's error handler, which prints to stderr.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) (err error) {
	defer func() { _ = recover() }()
	if !e.Enabled() || e.isClosed() {
		return nil
	}
	e.exportMu.Lock()
	defer e.exportMu.Unlock()
	deltas, totals := counterSums(rm)
	for name, total := range totals {
		if n := total - e.seen[name]; n > 0 {
			if deltas == nil {
				deltas = make(map[string]int64, len(totals))
			}
			deltas[name] = saturatingAdd(deltas[name], n)
		}
	}
	now := e.cfg.now()
	if len(deltas) == 0 && !e.dueOnDisk(now) {
		return nil
	}
	// Counts that did not reach the file are added again next time. A
	// total older than one already added (two collections racing to
	// Export) adds nothing and is not remembered.
	if e.commit(ctx, now, deltas) == nil && len(totals) > 0 {
		if e.seen == nil {
			e.seen = make(map[string]int64, len(totals))
		}
		for name, total := range totals {
			if total > e.seen[name] {
				e.seen[name] = total
			}
		}
	}
	return nil
}

// commit adds deltas to the state file and brings it up to date under the
// lock, then starts sending when the outbox holds anything. A file that
// became unusable or opted out turns telemetry off for the process. The
// error says whether the deltas reached the file.
func (e *Exporter) commit(ctx context.Context, now time.Time, deltas map[string]int64) error {
	pending := 0
	err := e.store.Update(ctx, func(st *state.State) error {
		if len(deltas) > 0 && st.Counters == nil {
			st.Counters = make(map[string]int64, len(deltas))
		}
		for name, n := range deltas {
			st.Counters[name] = saturatingAdd(st.Counters[name], n)
		}
		if err := e.prepare(st, now); err != nil {
			return err
		}
		pending = len(st.Pending)
		return nil
	})
	if err != nil {
		e.off(err)
		return err
	}
	if pending > 0 {
		e.kick()
	}
	return nil
}

// dueOnDisk checks, without the lock, whether persisted counts are due.
func (e *Exporter) dueOnDisk(now time.Time) bool {
	st, err := e.store.Load()
	return err == nil && heartbeatDue(st, now)
}

// counterSums sums every monotonic int64 sum whose name may be sent, over
// all its attribute sets (attribute values never leave the process), by
// heartbeat key: the delta sums, which are new counts, apart from the
// cumulative ones, which are running totals since the process started.
func counterSums(rm *metricdata.ResourceMetrics) (deltas, totals map[string]int64) {
	if rm == nil {
		return nil, nil
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				continue
			}
			var out *map[string]int64
			switch sum.Temporality {
			case metricdata.DeltaTemporality:
				out = &deltas
			case metricdata.CumulativeTemporality:
				out = &totals
			default:
				continue
			}
			name, ok := sanitize.CounterName(m.Name)
			if !ok {
				continue
			}
			var total int64
			for _, dp := range sum.DataPoints {
				if dp.Value > 0 {
					total = saturatingAdd(total, dp.Value)
				}
			}
			if total == 0 {
				continue
			}
			if *out == nil {
				*out = make(map[string]int64)
			}
			(*out)[name] = saturatingAdd((*out)[name], total)
		}
	}
	return deltas, totals
}

func saturatingAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

// kick starts a background flush of the outbox, or asks the running one to
// go again.
func (e *Exporter) kick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if e.flushing {
		e.again = true
		return
	}
	e.flushing = true
	e.idle = make(chan struct{})
	go e.flushLoop(e.idle)
}

func (e *Exporter) flushLoop(idle chan struct{}) {
	defer close(idle)
	for {
		func() {
			defer func() { _ = recover() }()
			e.flushOutbox()
		}()
		e.mu.Lock()
		if !e.again || e.closed {
			e.flushing, e.again = false, false
			e.mu.Unlock()
			return
		}
		e.again = false
		e.mu.Unlock()
	}
}

func (e *Exporter) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// ForceFlush waits for a send in flight, up to ctx and the grace. It never
// returns an error.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	defer func() { _ = recover() }()
	e.wait(ctx)
	return nil
}

// Shutdown waits for a send in flight, up to ctx and the grace, then aborts
// it: an unacknowledged event stays in the outbox for the next run. It is
// safe to call more than once and never returns an error.
func (e *Exporter) Shutdown(ctx context.Context) error {
	defer func() { _ = recover() }()
	e.shutdownOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		if e.wait(ctx) || e.cancelSend == nil {
			return
		}
		e.cancelSend()
		// The abort returns posthog-go's Close at once; leave its goroutines a
		// moment to end and the outbox leases to be released. A lease left
		// behind only delays that event's next try until it expires.
		e.waitFor(context.Background(), abortWait)
	})
	return nil
}

// abortWait is how long Shutdown waits for an aborted send to wind down.
const abortWait = 25 * time.Millisecond

// wait blocks until no flush runs, ctx ends or the grace passes; it reports
// whether the flush finished.
func (e *Exporter) wait(ctx context.Context) bool {
	return e.waitFor(ctx, e.cfg.grace)
}

func (e *Exporter) waitFor(ctx context.Context, d time.Duration) bool {
	e.mu.Lock()
	idle := e.idle
	e.mu.Unlock()
	select {
	case <-idle:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// NewReader returns the reader to register on a MeterProvider. When
// telemetry is on, it exports every 24 hours and at ForceFlush and Shutdown;
// without options it runs no goroutine of its own for that (a runtime timer
// does the 24-hourly export), with options it is a PeriodicReader that gets
// them after the 24 h interval, so they may change it. When telemetry is
// off, it is a ManualReader that is never read and aggregates nothing.
func NewReader(exp *Exporter, opts ...sdkmetric.PeriodicReaderOption) sdkmetric.Reader {
	if exp == nil || !exp.Enabled() {
		return sdkmetric.NewManualReader(
			sdkmetric.WithAggregationSelector(func(sdkmetric.InstrumentKind) sdkmetric.Aggregation { return sdkmetric.AggregationDrop{} }),
		)
	}
	if len(opts) == 0 {
		return newReader(exp, HeartbeatInterval)
	}
	return sdkmetric.NewPeriodicReader(exp, append([]sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(HeartbeatInterval)}, opts...)...)
}
