package exporter

import (
	"context"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// reader is what NewReader returns when telemetry is on and no option asks
// for a PeriodicReader: a ManualReader that exports at ForceFlush and
// Shutdown, and every interval from a runtime timer. A PeriodicReader runs
// a goroutine for its whole life, and its Shutdown wakes that goroutine and
// waits for it to stop before exporting; this reader starts no goroutine
// until its timer fires, and exports on the caller's goroutine. For a
// short-lived program, a CLI run, that is one goroutine fewer and about a
// tenth of a millisecond less at exit.
type reader struct {
	*sdkmetric.ManualReader
	exp      *readerExporter
	interval time.Duration

	mu    sync.Mutex // serializes collect-and-export; guards timer and done
	timer *time.Timer
	done  bool
}

func newReader(exp *Exporter, interval time.Duration) *reader {
	r := &reader{
		ManualReader: sdkmetric.NewManualReader(
			sdkmetric.WithTemporalitySelector(exp.Temporality),
			sdkmetric.WithAggregationSelector(exp.Aggregation),
		),
		exp:      exp.forReader(),
		interval: interval,
	}
	r.mu.Lock()
	r.timer = time.AfterFunc(interval, r.tick)
	r.mu.Unlock()
	return r
}

// tick is the periodic export, on the timer's goroutine.
func (r *reader) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.export(context.Background())
	r.timer.Reset(r.interval)
}

// export collects what the provider holds and hands it to the exporter,
// which reports no errors. The caller holds r.mu.
func (r *reader) export(ctx context.Context) {
	var rm metricdata.ResourceMetrics
	if r.Collect(ctx, &rm) == nil {
		_ = r.exp.Export(ctx, &rm)
	}
}

// ForceFlush exports now, then waits for a send in flight as
// Exporter.ForceFlush does.
func (r *reader) ForceFlush(ctx context.Context) error {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return sdkmetric.ErrReaderShutdown
	}
	r.export(ctx)
	r.mu.Unlock()
	return r.exp.ForceFlush(ctx)
}

// Shutdown stops the timer, exports what is left and shuts the exporter
// down. Later calls return ErrReaderShutdown, as a PeriodicReader's do.
func (r *reader) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return sdkmetric.ErrReaderShutdown
	}
	r.done = true
	r.timer.Stop()
	r.export(ctx)
	r.mu.Unlock()
	_ = r.exp.Shutdown(ctx)
	return r.ManualReader.Shutdown(ctx)
}

// readerExporter is what one reader of NewReader exports through: the
// shared Exporter with this reader's own record of the running totals it
// has added. The SDK keeps cumulative sums per reader, so the totals of two
// providers' readers are unrelated numbers: compared with one shared
// record, each provider's export would take the other's totals for counts
// already added, and counts would be lost.
type readerExporter struct {
	*Exporter
	seen map[string]int64 // guarded by Exporter.exportMu
	once sync.Once
}

// forReader returns a new reader's view of e. The Exporter shuts down with
// the last of these.
func (e *Exporter) forReader() *readerExporter {
	e.mu.Lock()
	e.readers++
	e.mu.Unlock()
	return &readerExporter{Exporter: e}
}

// Export adds the counts of this reader's collection rm.
func (r *readerExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return r.Exporter.export(ctx, rm, &r.seen)
}

// Shutdown shuts the Exporter down when this is the last of its readers
// still running, so that a provider shut down first does not end the
// others' telemetry; it never returns an error.
func (r *readerExporter) Shutdown(ctx context.Context) error {
	r.once.Do(func() {
		e := r.Exporter
		e.mu.Lock()
		e.readers--
		last := e.readers <= 0
		e.mu.Unlock()
		if last {
			_ = e.Shutdown(ctx)
		}
	})
	return nil
}
