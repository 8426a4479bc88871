package exporter

import (
	"context"
	"os"
	"path/filepath"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/gofrs/flock"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// The reader asks for cumulative sums, which keep the host's Add as cheap as
// with a plain ManualReader; every count must still reach the file once.
func TestCumulativeCountsOnce(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "idun", state.FileName)
	established(t, path, t0)
	p := start(t, WithHost(srv.URL), WithConfigPath(path), WithClock(newClock(t0).Now))
	if got := p.exp.Temporality(0); got != metricdata.CumulativeTemporality {
		t.Fatalf("Temporality = %v", got)
	}
	ctx := context.Background()
	p.add(t, "cli.run.count", 3)
	p.add(t, "feature.memory.count", 1)
	if err := p.mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	p.add(t, "cli.run.count", 2)
	if err := p.mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.mp.ForceFlush(ctx); err != nil { // nothing new
		t.Fatal(err)
	}
	p.stop(t)
	got := load(t, path).Counters
	if got["cli.run.count"] != 5 || got["feature.memory.count"] != 1 || len(got) != 2 {
		t.Errorf("counters = %v, want cli.run.count=5 feature.memory.count=1", got)
	}
}

// A running total that could not be written is added on the next Export,
// and one already written is not added again.
func TestCumulativeRetriedAfterFailedWrite(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "idun", state.FileName)
	established(t, path, t0)
	exp, _ := New(WithHost(srv.URL), WithConfigPath(path), WithClock(newClock(t0).Now))
	defer exp.Shutdown(context.Background())
	ctx := context.Background()
	export := func(ctx context.Context, total int64) {
		t.Helper()
		rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{
			Name: "cli.run.count",
			Data: metricdata.Sum[int64]{
				Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{Value: total}},
			},
		}}}}}
		if err := exp.Export(ctx, rm); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 { return load(t, path).Counters["cli.run.count"] }

	export(ctx, 3)
	if got := count(); got != 3 {
		t.Fatalf("count = %d after a total of 3", got)
	}
	// Another process holds the lock past this Export's deadline: the
	// journal needs no lock, so the count is kept all the same.
	l := flock.New(path + ".lock")
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	export(short, 5)
	cancel()
	if got := count(); got != 5 {
		t.Fatalf("count = %d after a total of 5 with the lock held by another; want 5", got)
	}
	// Now the journal cannot be written either (a folder in its place) and
	// the lock is still held: the count is not stored, and is retried.
	journal := state.New(path).JournalPath()
	if err := os.Rename(journal, journal+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(journal, 0o700); err != nil {
		t.Fatal(err)
	}
	short, cancel = context.WithTimeout(ctx, 30*time.Millisecond)
	export(short, 8)
	cancel()
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(journal); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(journal+".aside", journal); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 5 {
		t.Fatalf("count = %d while nothing could be written; want 5", got)
	}
	if !exp.Enabled() {
		t.Fatal("a lock timeout turned telemetry off")
	}
	export(ctx, 8)
	export(ctx, 8)
	if got := count(); got != 8 {
		t.Errorf("count = %d after totals 3, 5, 8 (not stored), 8, 8; want 8", got)
	}
}

// NewReader without options starts no goroutine: it exports from the
// caller's ForceFlush and Shutdown, and from a runtime timer every day.
func TestReaderStartsNoGoroutine(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "idun", state.FileName)
	runOnce(t, nil, WithHost(srv.URL), WithConfigPath(path), WithGrace(5*time.Second)) // First run sent
	srv.Close()
	established(t, path, time.Now())
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := created()
	p := start(t, WithHost(srv.URL), WithConfigPath(path))
	p.add(t, "cli.run.count", 1)
	if n := created() - before; n != 0 {
		t.Errorf("New, NewReader and a count started %d goroutines", n)
	}
	if _, ok := NewReader(p.exp).(*reader); !ok {
		t.Fatalf("NewReader gave a %T", NewReader(p.exp))
	}
	p.stop(t)
	if got := load(t, path).Counters["cli.run.count"]; got != 1 {
		t.Errorf("cli.run.count = %d after Shutdown, want 1", got)
	}
	pr, ok := NewReader(p.exp, sdkmetric.WithTimeout(time.Second)).(*sdkmetric.PeriodicReader)
	if !ok {
		t.Fatal("NewReader with options did not give a PeriodicReader")
	}
	_ = pr.Shutdown(context.Background())
}

// The timer exports as a PeriodicReader would, and stops at Shutdown.
func TestReaderExportsOnTimer(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "idun", state.FileName)
	established(t, path, time.Now())
	exp, _ := New(WithHost(srv.URL), WithConfigPath(path), WithGrace(5*time.Second))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(newReader(exp, 20*time.Millisecond)))
	c, _ := mp.Meter("test").Int64Counter("feature.timer.count")
	c.Add(context.Background(), 2)
	deadline := time.Now().Add(5 * time.Second)
	for load(t, path).Counters["feature.timer.count"] != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the timer did not export")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Add(context.Background(), 1)
	if err := mp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := load(t, path).Counters["feature.timer.count"]; got != 3 {
		t.Errorf("feature.timer.count = %d, want 3", got)
	}
	if err := mp.ForceFlush(context.Background()); err == nil {
		t.Error("ForceFlush after Shutdown succeeded")
	}
}
