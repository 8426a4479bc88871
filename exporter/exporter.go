package exporter

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
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
	envOn bool
	store *state.Store

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

	// exportMu serializes Exports; it guards seen, each reader's own
	// record (readerExporter.seen) and dropped.
	exportMu sync.Mutex
	// seen holds, by heartbeat key, the running total of the SDK's
	// cumulative sums already added to the state file, for the exports
	// that come through Export itself; each reader NewReader makes keeps
	// its own (see readerExporter).
	seen map[string]int64
	// beat records that an Export of this process queued a Heartbeat; from
	// then on only the daily rule applies (see heartbeatDue), so a process
	// sends at most one Heartbeat before the day is up. Guarded by exportMu.
	beat bool

	// dropped holds the counter names debug mode reported as dropped;
	// guarded by exportMu.
	dropped map[string]bool
	// readers counts the readers of NewReader not yet shut down; the last
	// one shuts the exporter down. Guarded by mu.
	readers int
	// decisionOnce prints the decision once in debug mode.
	decisionOnce sync.Once

	// notice is the writer of WithNotice when the notice can be shown
	// there (a terminal, not CI); hold keeps this run from sending once
	// it is (see notice.go), and madeID records that this run gave the
	// installation its user_id.
	notice io.Writer
	hold   atomic.Bool
	madeID atomic.Bool

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
// New returns an error, wrapping ErrInvalidConfig, for a mistake in the
// options: a WithHost that is not an absolute http or https URL, an empty or
// malformed WithAPIKey, an invalid WithApp. The Exporter it returns with it
// is off (its Decision says why) and usable, so a host may log the error and
// go on. New never fails for file or network trouble, nor for a host from
// the environment that is not a URL: that is the operator's, and turns
// telemetry off with a Decision that says so.
func New(opts ...Option) (exp *Exporter, err error) {
	cfg := newConfig(opts)
	e := &Exporter{cfg: cfg, idle: closedChan()}
	defer e.printDecision()
	defer func() {
		if r := recover(); r != nil {
			e.decision = Decision{false, SourceDefault, "telemetry is off: internal error"}
			exp, err = e, nil
		}
	}()
	if d, ok := early(cfg); ok && !d.Enabled {
		e.decision = d
		return e, cfg.err
	}
	if d, ok := badPath(cfg); ok {
		e.decision = d
		return e, nil
	}
	e.store = state.New(cfg.path)
	brief, loadErr := e.store.Peek()
	e.decision = decide(cfg, brief.TelemetryEnabled, loadErr)
	if !e.decision.Enabled {
		return e, nil
	}
	e.aggregate = true
	e.envOn = e.decision.Source == Source(cfg.app.EnvEnabled)
	e.sendCtx, e.cancelSend = context.WithCancel(context.Background())
	if cfg.debug != nil {
		e.printed = map[string]bool{}
	}
	e.printDecision() // before any event debug mode prints
	missing := errors.Is(loadErr, fs.ErrNotExist)
	e.holdForNotice(missing || brief.UserID == "")
	e.start(brief, missing)
	e.showNotice()
	return e, nil
}

// start does what a run owes at its beginning. The common case, an existing
// file with nothing due, costs the read of the brief and no write.
func (e *Exporter) start(b state.Brief, missing bool) {
	now := e.cfg.now()
	if !missing && b.UserID != "" && !heartbeatDue(b, now, false, false) && !clockOff(b, now) {
		if b.Pending > 0 && e.mayKick(b, now) {
			e.kick()
		}
		return
	}
	_, _ = e.commit(context.Background(), now, change{beatOnly: true, wait: startWait})
}

// startWait and exitWait bound how long a run waits for another process's
// lock on the state file, to create it or fold the journal into a
// Heartbeat, at its start and at an export. Holders keep it for a few
// milliseconds, so a longer wait means a stuck holder: a run never waits on
// another beyond these, and what it could not write waits in the journal.
// The export's is longer: the last run of a container or a CI job has no
// later run to leave its Heartbeat to.
const (
	startWait = 25 * time.Millisecond
	exitWait  = 100 * time.Millisecond
)

// change is what a commit adds to the state file under the lock.
type change struct {
	// deltas are counts that could not go to the journal.
	deltas map[string]int64
	// soon, as in heartbeatDue.
	soon bool
	// beatOnly: write nothing unless a Heartbeat is queued, the clock
	// repaired or the installation made. A run that found a Heartbeat due
	// but was beaten to it by another leaves its counts in the journal,
	// without a write.
	beatOnly bool
	wait     time.Duration
}

// errNothingDue aborts a beatOnly commit that has nothing to write.
var errNothingDue = errors.New("exporter: nothing due")

// errOptedOut aborts an update when the file, read under the lock, says off.
var errOptedOut = errors.New(optedOutDecision.Reason)

// prepare brings st up to date: an identity (and a First run for a new
// one), a repaired clock, a due Heartbeat (soon as in heartbeatDue). beat
// says whether it queued a Heartbeat.
func (e *Exporter) prepare(st *state.State, now time.Time, soon bool) (beat bool, err error) {
	if on, set := st.Enabled(); set && !on && !e.envOn {
		return false, errOptedOut
	}
	if st.EnsureUserID(now) {
		e.madeID.Store(true)
		ev, err := newEvent(EventFirstRun, st.UserID, now, e.systemProperties(), e.cfg.policy)
		if err != nil {
			return false, err
		}
		enqueue(st, ev)
	}
	fixClock(st, now)
	isCI, _ := ciProbe()
	if heartbeatDue(st.Brief(), now, soon, isCI) {
		if err := queueHeartbeat(st, now, e.systemProperties(), e.cfg.policy); err != nil {
			return false, err
		}
		beat = true
	}
	trimPending(st)
	return beat, nil
}

func clockOff(b state.Brief, now time.Time) bool {
	return b.CreatedAt.After(now) || (b.LastHeartbeatAt != nil && b.LastHeartbeatAt.After(now))
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
//
// Export remembers the running totals of cumulative sums it has added, so
// it must be given the collections of one reader only. The readers of
// NewReader keep their own record each, so one Exporter may serve several
// MeterProviders through NewReader.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return e.export(ctx, rm, &e.seen)
}

// export is Export with the record of running totals of the reader rm
// comes from.
func (e *Exporter) export(ctx context.Context, rm *metricdata.ResourceMetrics, seenp *map[string]int64) (err error) {
	defer func() { _ = recover() }()
	if !e.Enabled() || e.isClosed() {
		return nil
	}
	e.exportMu.Lock()
	defer e.exportMu.Unlock()
	seen := *seenp
	deltas, totals := counterSums(rm, e.reportDrop)
	for name, total := range totals {
		if n := total - seen[name]; n > 0 {
			if deltas == nil {
				deltas = make(map[string]int64, len(totals))
			}
			deltas[name] = saturatingAdd(deltas[name], n)
		}
	}
	now := e.cfg.now()
	if len(deltas) == 0 {
		if e.dueOnDisk(now) {
			_, _ = e.commit(ctx, now, change{beatOnly: true, wait: exitWait})
		}
		return nil
	}
	// The process's own counts may go before the day is up, once (see
	// heartbeatDue): at the last Export of a short run, usually.
	beat, err := e.record(ctx, now, deltas, !e.beat)
	if beat {
		e.beat = true
	}
	// Counts that did not reach the store are added again next time. A
	// total older than one already added (two collections racing to
	// Export) adds nothing and is not remembered.
	if err == nil && len(totals) > 0 {
		if seen == nil {
			seen = make(map[string]int64, len(totals))
			*seenp = seen
		}
		for name, total := range totals {
			if total > seen[name] {
				seen[name] = total
			}
		}
	}
	return nil
}

// record stores a run's new counts: appended to the journal, which waits
// for no other process, then folded into a Heartbeat if one is due (soon:
// see heartbeatDue). A file that now says off or became unusable turns
// telemetry off instead, and gets no write.
func (e *Exporter) record(ctx context.Context, now time.Time, deltas map[string]int64, soon bool) (beat bool, err error) {
	b, err := e.store.Peek()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No file yet (another process is making it) or any more (it was
		// deleted during the run): the counts wait in the journal while
		// this run tries to make the installation.
		if e.store.Add(deltas) != nil {
			return e.commit(ctx, now, change{deltas: deltas, soon: soon, wait: exitWait})
		}
		beat, _ = e.commit(ctx, now, change{soon: soon, wait: exitWait})
		return beat, nil
	case err != nil:
		e.off(err)
		return false, err
	case optedOut(b.TelemetryEnabled) && !e.envOn:
		e.off(errOptedOut)
		return false, errOptedOut
	}
	if err := e.store.Add(deltas); err != nil {
		return e.commit(ctx, now, change{deltas: deltas, soon: soon, wait: exitWait})
	}
	b.Journal = true
	isCI, _ := ciProbe()
	if heartbeatDue(b, now, soon, isCI) || clockOff(b, now) {
		beat, _ = e.commit(ctx, now, change{soon: soon, beatOnly: true, wait: exitWait})
	}
	return beat, nil
}

// commit folds the journal and c's deltas into the state file and brings
// it up to date under the lock, then starts sending when the outbox holds
// anything. A file that became unusable or opted out turns telemetry off
// for the process. The error says whether the deltas reached the file;
// beat, whether a Heartbeat was queued.
func (e *Exporter) commit(ctx context.Context, now time.Time, c change) (beat bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	var brief state.Brief
	err = e.store.Fold(ctx, func(st *state.State) error {
		if len(c.deltas) > 0 && st.Counters == nil {
			st.Counters = make(map[string]int64, len(c.deltas))
		}
		for name, n := range c.deltas {
			st.Counters[name] = saturatingAdd(st.Counters[name], n)
		}
		repair, hadID := clockOff(st.Brief(), now), st.UserID != ""
		var err error
		if beat, err = e.prepare(st, now, c.soon); err != nil {
			return err
		}
		if c.beatOnly && !beat && !repair && hadID {
			return errNothingDue
		}
		brief = st.Brief()
		return nil
	})
	if errors.Is(err, errNothingDue) {
		return false, nil
	}
	if err != nil {
		e.off(err)
		return false, err
	}
	if brief.Pending > 0 && e.mayKick(brief, now) {
		e.kick()
	}
	return beat, nil
}

// mayKick reports whether a flush of the outbox could do anything now: the
// schedule allows a send, or debug mode prints instead. A run the schedule
// holds back costs what a run with nothing due costs.
func (e *Exporter) mayKick(b state.Brief, now time.Time) bool {
	return e.cfg.debug != nil || sendDue(b, now)
}

// dueOnDisk checks, without the lock, whether persisted counts are due by
// the daily rule: counts of other processes wait for their own runs or the
// day.
func (e *Exporter) dueOnDisk(now time.Time) bool {
	b, err := e.store.Peek()
	return err == nil && heartbeatDue(b, now, false, false)
}

// counterSums sums every monotonic int64 sum whose name may be sent, over
// all its attribute sets (attribute values never leave the process), by
// heartbeat key: the delta sums, which are new counts, apart from the
// cumulative ones, which are running totals since the process started.
// Each metric left out is told to drop with the rule that left it out.
func counterSums(rm *metricdata.ResourceMetrics, drop func(name, rule string)) (deltas, totals map[string]int64) {
	if rm == nil {
		return nil, nil
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				if inNamespace(m.Name) {
					drop(m.Name, ruleNotCounter)
				}
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
			v := sanitize.Explain(m.Name)
			if !v.OK {
				drop(m.Name, v.Rule)
				continue
			}
			name := v.Key
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
	if e.hold.Load() {
		return // the notice was shown: nothing leaves in this run
	}
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
		more := false
		func() {
			defer func() { _ = recover() }()
			more = e.flushOutbox()
		}()
		e.mu.Lock()
		// A round asked for before Shutdown still runs: it sends what the
		// last Export queued (a short run's Heartbeat), within Shutdown's
		// wait. Once closed, kick asks for no more.
		if !e.again && !more {
			e.flushing = false
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
// off, it is a ManualReader that is never read and aggregates nothing
// (unless a view gives an instrument an explicit Aggregation: see
// ProviderOptions).
//
// One Exporter may serve the readers of several MeterProviders: each reader
// keeps its own record of what it has added, and the Exporter shuts down
// (waiting for a send in flight, see Shutdown) with the last of them.
func NewReader(exp *Exporter, opts ...sdkmetric.PeriodicReaderOption) sdkmetric.Reader {
	if exp == nil || !exp.Enabled() {
		return sdkmetric.NewManualReader(
			sdkmetric.WithAggregationSelector(func(sdkmetric.InstrumentKind) sdkmetric.Aggregation { return sdkmetric.AggregationDrop{} }),
		)
	}
	if len(opts) == 0 {
		return newReader(exp, HeartbeatInterval)
	}
	return sdkmetric.NewPeriodicReader(exp.forReader(), append([]sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(HeartbeatInterval)}, opts...)...)
}

// ProviderOptions returns the MeterProvider options that register exp: one
// sdkmetric.WithReader(NewReader(exp, opts...)) when telemetry is on, none
// when it is off. A view with an explicit Aggregation applies to every
// reader of its provider, NewReader's off reader included, and the SDK then
// aggregates for it what nobody reads; with ProviderOptions a program whose
// telemetry is off has nothing of this module on its provider.
//
//	opts := []sdkmetric.Option{sdkmetric.WithReader(hostReader)}
//	mp := sdkmetric.NewMeterProvider(append(opts, exporter.ProviderOptions(exp)...)...)
func ProviderOptions(exp *Exporter, opts ...sdkmetric.PeriodicReaderOption) []sdkmetric.Option {
	if exp == nil || !exp.Enabled() {
		return nil
	}
	return []sdkmetric.Option{sdkmetric.WithReader(NewReader(exp, opts...))}
}
