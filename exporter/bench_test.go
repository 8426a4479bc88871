package exporter_test

// Overhead benchmarks: what telemetry costs the host, each figure next to a
// baseline measured in the same run. Every ratio (the x-* metrics) comes
// from paired batches, the figure and its baseline interleaved a few
// milliseconds apart (see paired), so the drift of a shared machine does not
// show as a difference between them. One `go test -bench` run gives every
// figure of the README's Performance section; TestOverheadSmoke checks the
// budgets with wide margins on every `go test`.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/instrument"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// quietState writes a state file as a previous run leaves it: an identity,
// the First run acknowledged, the first Heartbeat sent, no counts, nothing
// due for a day after now.
func quietState(tb testing.TB, now time.Time) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "idun", state.FileName)
	err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.EnsureUserID(now)
		at := now.UTC()
		st.LastHeartbeatAt = &at
		st.Sent = []state.Event{{
			UUID: "0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11", Event: exporter.EventFirstRun,
			DistinctID: st.UserID, Timestamp: now.UTC(),
			Properties: map[string]any{
				"$geoip_disable": true, "$lib": "posthog-go", "$lib_version": "1.5.2", "$process_person_profile": false,
				"go.version": runtime.Version(), "libraries.gotest": false, "libraries.idun": "0.1.0",
				"os.containerized": false, "os.family": "Linux", "os.machine": "x86_64",
			},
		}}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// standIn returns a loopback PostHog that must never be called here.
func standIn(tb testing.TB) *posthogtest.Server {
	tb.Helper()
	srv := posthogtest.NewServer()
	tb.Cleanup(func() {
		srv.Close()
		if n := srv.Requests(); n != 0 {
			tb.Errorf("the PostHog stand-in got %d requests; nothing was due", n)
		}
	})
	return srv
}

// enableUnderGoTest turns telemetry on in this test binary, where it is off
// by default, as a host's users have it.
func enableUnderGoTest(tb testing.TB) {
	tb.Helper()
	tb.Setenv(exporter.EnvEnabled, "true")
}

// quietExporter returns an enabled Exporter on a quiet state file, and the
// file's path.
func quietExporter(tb testing.TB) (*exporter.Exporter, string) {
	tb.Helper()
	enableUnderGoTest(tb)
	srv := standIn(tb)
	path := quietState(tb, time.Now())
	exp, _ := exporter.New(exporter.WithConfigPath(path), exporter.WithHost(srv.URL), exporter.WithVersion("bench"))
	if !exp.Enabled() {
		tb.Fatalf("telemetry is off: %s", exp.Decision().Reason)
	}
	tb.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp, path
}

// providers are the MeterProviders the hot path is compared on. Each make
// returns the provider and its shutdown.
var providers = []struct {
	name string
	make func(tb testing.TB) (metric.MeterProvider, func())
}{
	{"noop", func(testing.TB) (metric.MeterProvider, func()) {
		return noop.NewMeterProvider(), func() {}
	}},
	{"manual", func(testing.TB) (metric.MeterProvider, func()) {
		return sdkProvider(sdkmetric.NewManualReader())
	}},
	{"reader", func(tb testing.TB) (metric.MeterProvider, func()) {
		exp, _ := quietExporter(tb)
		return sdkProvider(exporter.NewReader(exp))
	}},
	// An engine that already has a reader and adds ours: the SDK aggregates
	// every count once per reader, as it would for any second reader.
	{"manual+manual", func(testing.TB) (metric.MeterProvider, func()) {
		return sdkProvider(sdkmetric.NewManualReader(), sdkmetric.NewManualReader())
	}},
	{"manual+reader", func(tb testing.TB) (metric.MeterProvider, func()) {
		exp, _ := quietExporter(tb)
		return sdkProvider(sdkmetric.NewManualReader(), exporter.NewReader(exp))
	}},
}

func sdkProvider(readers ...sdkmetric.Reader) (metric.MeterProvider, func()) {
	var opts []sdkmetric.Option
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	return mp, func() { _ = mp.Shutdown(context.Background()) }
}

// baselineOf names the provider whose raw Add an Add is compared with
// (x-manual): the same readers with ours replaced by a ManualReader.
var baselineOf = map[string]string{"reader": "manual", "manual+reader": "manual+manual"}

// hotOps are the calls measured on each provider; "Add" is the raw SDK call
// the helpers are held to.
var hotOps = []struct {
	name string
	make func(mp metric.MeterProvider) func()
	// raw is the raw Add on the counter the op records into.
	raw func(mp metric.MeterProvider) func()
}{
	{"Add", rawAdd, rawAdd},
	{"FeatureUsed", func(mp metric.MeterProvider) func() {
		otel.SetMeterProvider(mp)
		ctx := context.Background()
		return func() { instrument.FeatureUsed(ctx, "memory") }
	}, rawAdd},
	{"AgentRunning", func(mp metric.MeterProvider) func() {
		otel.SetMeterProvider(mp)
		ctx := context.Background()
		return func() { instrument.AgentRunning(ctx, instrument.LANGGRAPH) }
	}, func(mp metric.MeterProvider) func() {
		return counterAdd(mp, "workflow.langgraph.count", "Number of agent workflows started on a framework.")
	}},
	{"Recorder.FeatureUsed", func(mp metric.MeterProvider) func() {
		r := instrument.NewRecorder(mp)
		ctx := context.Background()
		return func() { r.FeatureUsed(ctx, "memory") }
	}, rawAdd},
}

// rawAdd is Int64Counter.Add on the very counter FeatureUsed(ctx, "memory")
// records into, with nothing around it.
func rawAdd(mp metric.MeterProvider) func() {
	return counterAdd(mp, "feature.memory.count", "Number of times an engine feature was used.")
}

// counterAdd is Int64Counter.Add on a counter made as package instrument
// makes its own.
func counterAdd(mp metric.MeterProvider, name, description string) func() {
	c, err := mp.Meter(instrument.ScopeName).Int64Counter(name, metric.WithDescription(description), metric.WithUnit("1"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	return func() { c.Add(ctx, 1) }
}

// BenchmarkHotPath measures one count on each provider, serially and under
// b.RunParallel. x-add is the ratio to the raw Add on the same provider
// (budget: 1.2 at most); on a provider with our reader, x-manual is the
// ratio of Add to the same Add with a plain ManualReader in its place
// (budget: within noise); x-noop is the ratio of Add to the OTel no-op
// provider's.
func BenchmarkHotPath(b *testing.B) {
	mps := map[string]metric.MeterProvider{}
	adds := map[string]func(){}
	for _, p := range providers {
		mp, shutdown := p.make(b)
		defer shutdown()
		mps[p.name], adds[p.name] = mp, rawAdd(mp)
	}
	for _, p := range providers {
		b.Run(p.name, func(b *testing.B) {
			for _, op := range hotOps {
				if p.name == "noop" && op.name != "Add" || p.name == "manual+manual" && op.name != "Add" {
					continue
				}
				fn, raw := op.make(mps[p.name]), op.raw(mps[p.name])
				fn() // the instrument is made and cached outside the timing
				for _, parallel := range []bool{false, true} {
					mode := "serial"
					if parallel {
						mode = "parallel"
					}
					b.Run(op.name+"/"+mode, func(b *testing.B) {
						b.ReportAllocs()
						if parallel {
							b.RunParallel(func(pb *testing.PB) {
								for pb.Next() {
									fn()
								}
							})
						} else {
							for b.Loop() {
								fn()
							}
						}
						b.StopTimer()
						switch {
						case op.name != "Add":
							b.ReportMetric(paired(fn, raw, parallel).ratio, "x-add")
						case p.name != "noop":
							if base, ok := baselineOf[p.name]; ok {
								b.ReportMetric(paired(fn, adds[base], parallel).ratio, "x-manual")
							}
							b.ReportMetric(paired(fn, adds["noop"], parallel).ratio, "x-noop")
						}
					})
				}
			}
		})
	}
}

// comparison is the outcome of paired.
type comparison struct {
	ratio    float64       // median over rounds of fn's batch time / base's
	fn, base time.Duration // medians of one call
}

// pairedRounds is how many pairs of batches a ratio is the median of.
const pairedRounds = 31

// paired times fn against base in interleaved batches of at least a
// millisecond each, alternating which goes first, and returns the median of
// the per-round ratios fn/base. On a shared machine the load drifts within
// a second; two separate benchmarks see that drift as a difference between
// them, paired batches see the same conditions.
func paired(fn, base func(), parallel bool) comparison {
	n := 1
	for timeBatch(base, n, parallel) < time.Millisecond && n < 1<<20 {
		n *= 2
	}
	ratios := make([]float64, pairedRounds)
	fns, bases := make([]time.Duration, pairedRounds), make([]time.Duration, pairedRounds)
	for i := range ratios {
		if i%2 == 0 {
			bases[i] = timeBatch(base, n, parallel)
			fns[i] = timeBatch(fn, n, parallel)
		} else {
			fns[i] = timeBatch(fn, n, parallel)
			bases[i] = timeBatch(base, n, parallel)
		}
		ratios[i] = float64(fns[i]) / float64(bases[i])
	}
	return comparison{ratio: median(ratios), fn: median(fns) / time.Duration(n), base: median(bases) / time.Duration(n)}
}

func median[T float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// timeBatch times n calls of fn, serially or spread over GOMAXPROCS
// goroutines.
func timeBatch(fn func(), n int, parallel bool) time.Duration {
	if !parallel {
		start := time.Now()
		for range n {
			fn()
		}
		return time.Since(start)
	}
	procs := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	start := time.Now()
	for range procs {
		wg.Go(func() {
			for range max(n/procs, 1) {
				fn()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// cumulative returns what our reader hands Export: n counters, each
// counted total times since the process started.
func cumulative(n int, total int64) *metricdata.ResourceMetrics {
	ms := make([]metricdata.Metrics, n)
	now := time.Now()
	for i := range ms {
		ms[i] = metricdata.Metrics{
			Name: fmt.Sprintf("feature.f%04d.count", i),
			Data: metricdata.Sum[int64]{
				Temporality: metricdata.CumulativeTemporality,
				IsMonotonic: true,
				DataPoints:  []metricdata.DataPoint[int64]{{StartTime: now, Time: now, Value: total}},
			},
		}
	}
	return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: ms}}}
}

// exportOp returns one Export of n counters that each counted once more
// since the last: one locked read-modify-write of the state file.
func exportOp(exp *exporter.Exporter, n int) func() {
	rm := cumulative(n, 0)
	ctx := context.Background()
	return func() {
		for _, m := range rm.ScopeMetrics[0].Metrics {
			m.Data.(metricdata.Sum[int64]).DataPoints[0].Value++
		}
		_ = exp.Export(ctx, rm)
	}
}

// writeOp returns the floor of a state update: the file's current bytes
// written to a new file in the same folder and renamed over another file
// there, as state's atomic replace does, with no lock, parse or encoding;
// fsynced first when sync is set, as an update that changes more than the
// counters is.
func writeOp(tb testing.TB, path string, sync bool) func() {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(filepath.Dir(path), "floor.yaml")
	return func() {
		f, err := os.CreateTemp(filepath.Dir(path), ".floor.*.tmp")
		if err != nil {
			tb.Fatal(err)
		}
		_, err = f.Write(b)
		if err == nil && sync {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), dst)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// exportSizes are the counter counts Export is measured with.
var exportSizes = []int{1, 100, 1000}

// BenchmarkExport measures one Export of n counters, which is one locked
// read-modify-write of the state file (lock, read, add, rewrite the counters
// lines, write, rename; budget: under 1 ms for 100 counters). x-write is the
// ratio to the bare write and rename of the same bytes (ms-write), the floor
// such an update pays; ms-write-fsync is that floor with an fsync, which an
// Export that only adds counts no longer pays.
func BenchmarkExport(b *testing.B) {
	for _, n := range exportSizes {
		b.Run(fmt.Sprintf("counters=%d", n), func(b *testing.B) {
			exp, path := quietExporter(b)
			export := exportOp(exp, n)
			export() // the file holds the n names from here on
			b.ReportAllocs()
			for b.Loop() {
				export()
			}
			c := paired(export, writeOp(b, path, false), false)
			b.ReportMetric(c.ratio, "x-write")
			b.ReportMetric(ms(c.base), "ms-write")
			b.ReportMetric(ms(c.fn), "ms-paired")
			b.ReportMetric(ms(paired(writeOp(b, path, true), writeOp(b, path, false), false).fn), "ms-write-fsync")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkNew measures New with a state file present and nothing due: one
// read and parse, no write, no goroutine, no request (budget: under 1 ms).
// x-load is the ratio to reading and parsing the file alone.
func BenchmarkNew(b *testing.B) {
	enableUnderGoTest(b)
	srv := standIn(b)
	path := quietState(b, time.Now())
	opts := []exporter.Option{exporter.WithConfigPath(path), exporter.WithHost(srv.URL), exporter.WithVersion("bench")}
	newOp := func() {
		if exp, _ := exporter.New(opts...); !exp.Enabled() {
			b.Fatalf("telemetry is off: %s", exp.Decision().Reason)
		}
	}
	loadOp := func() {
		if _, err := state.New(path).Load(); err != nil {
			b.Fatal(err)
		}
	}
	before := runtime.NumGoroutine()
	b.ReportAllocs()
	for b.Loop() {
		newOp()
	}
	b.ReportMetric(float64(runtime.NumGoroutine()-before), "goroutines")
	b.ReportMetric(float64(srv.Requests()), "requests")
	b.ReportMetric(paired(newOp, loadOp, false).ratio, "x-load")
}

// retainedNames is how many distinct counters the memory figure holds.
const retainedNames = 1000

// BenchmarkRetained reports the heap a provider keeps for 1,000 distinct
// counters, each counted once (B-retained), before and after an export
// (after-export, which is what a long-running host keeps between two
// daily exports); x-manual is the ratio to the same provider with a plain
// ManualReader in place of ours. ns/op is the cost of making the 1,000
// counters.
func BenchmarkRetained(b *testing.B) {
	heap := map[string]float64{}
	for _, p := range providers {
		if p.name == "manual+manual" || p.name == "manual+reader" {
			continue
		}
		for _, exported := range []bool{false, true} {
			name := p.name
			if exported {
				name += "/after-export"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					mp, shutdown := p.make(b)
					fill(mp)
					shutdown()
				}
				heap[name] = retained(b, p.make, exported)
				b.ReportMetric(heap[name], "B-retained")
				if p.name == "reader" {
					base := "manual"
					if exported {
						base += "/after-export"
					}
					b.ReportMetric(heap[name]/heap[base], "x-manual")
				}
			})
		}
	}
}

func fill(mp metric.MeterProvider) {
	m := mp.Meter(instrument.ScopeName)
	ctx := context.Background()
	for i := range retainedNames {
		c, _ := m.Int64Counter(fmt.Sprintf("feature.f%04d.count", i))
		c.Add(ctx, 1)
	}
}

// retained returns the live heap, after a full GC, that a provider holds for
// retainedNames counters beyond what it held before them: the smallest of a
// few tries, as other goroutines may allocate meanwhile. With exported, the
// provider is flushed first (into the state file, for ours).
func retained(tb testing.TB, make func(testing.TB) (metric.MeterProvider, func()), exported bool) float64 {
	best := -1.0
	for range 3 {
		var before, after runtime.MemStats
		mp, shutdown := make(tb)
		runtime.GC()
		runtime.ReadMemStats(&before)
		fill(mp)
		if f, ok := mp.(interface{ ForceFlush(context.Context) error }); ok && exported {
			_ = f.ForceFlush(context.Background())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(mp)
		shutdown()
		if d := float64(after.HeapAlloc) - float64(before.HeapAlloc); best < 0 || d < best {
			best = d
		}
	}
	return best
}

// TestOverheadSmoke is the CI guard of the in-process budgets, with margins
// wide enough for a noisy machine: what is not a timing (allocations,
// goroutines, requests) is checked exactly; timings only catch a clear
// regression, several times the budget.
func TestOverheadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("timings")
	}
	mp, shutdown := sdkProvider(sdkmetric.NewManualReader())
	defer shutdown()
	exp, path := quietExporter(t)
	ours, shutdownOurs := sdkProvider(exporter.NewReader(exp))
	defer shutdownOurs()
	add, oursAdd := rawAdd(mp), rawAdd(ours)
	for _, op := range hotOps[1:] {
		fn := op.make(ours)
		fn()
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", op.name, n)
		}
		if !raceEnabled {
			// Up to three measures: other packages' tests load the
			// machine in bursts (the Windows suite's 50 wine processes);
			// a real regression is over the limit every time.
			var ratios []float64
			for range 3 {
				if c := paired(fn, op.raw(ours), false); c.ratio <= 2 {
					ratios = nil
					break
				} else {
					ratios = append(ratios, c.ratio)
				}
			}
			if len(ratios) > 0 {
				t.Errorf("%s costs %.2fx the raw Add (3 measures); budget 1.2x (smoke limit 2x)", op.name, ratios)
			}
		}
	}
	if !raceEnabled {
		// Parallel ratios on a 2-CPU machine sit near 1.0 or near 1.3 for
		// a while, for both readers alike (see README, Performance): a
		// real regression is over the limit every time.
		var ratios []float64
		for range 3 {
			c := paired(oursAdd, add, true)
			if ratios = append(ratios, c.ratio); c.ratio <= 1.5 {
				break
			}
		}
		if r := ratios[len(ratios)-1]; r > 1.5 {
			t.Errorf("Add with our reader costs %.2fx the Add with a ManualReader under parallel load (%d tries: %.2f); budget: within noise (smoke limit 1.5x)", r, len(ratios), ratios)
		}
	}

	export := exportOp(exp, 100)
	export()
	if c := paired(export, writeOp(t, path, false), false); !raceEnabled && c.fn > 10*time.Millisecond {
		t.Errorf("Export of 100 counters takes %v; budget 1 ms (smoke limit 10 ms)", c.fn)
	}

	srv := standIn(t)
	path = quietState(t, time.Now())
	fastest := time.Hour
	for range 5 {
		before := runtime.NumGoroutine()
		start := time.Now()
		e, _ := exporter.New(exporter.WithConfigPath(path), exporter.WithHost(srv.URL))
		fastest = min(fastest, time.Since(start))
		if !e.Enabled() {
			t.Fatal(e.Decision().Reason)
		}
		if n := runtime.NumGoroutine() - before; n != 0 {
			t.Errorf("New with nothing due started %d goroutines", n)
		}
	}
	if !raceEnabled && fastest > 20*time.Millisecond {
		t.Errorf("New took %v at best; budget 1 ms (smoke limit 20 ms)", fastest)
	}
}

// BenchmarkViewHistogram measures the host's histogram Record when a view
// gives the histogram an explicit Aggregation, which the SDK applies to
// every reader of the provider, ours included. x-host is the ratio to the
// host's provider alone. With telemetry off, ProviderOptions adds nothing
// (budget: the same cost); NewReader's off reader is what the README told
// hosts to register before, and the view makes the SDK aggregate for it.
func BenchmarkViewHistogram(b *testing.B) {
	view := sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Name: "http.server.duration"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{1, 5, 10, 50, 100, 500}}},
	))
	off, _ := exporter.New(exporter.WithEnabled(false))
	on, _ := quietExporter(b)
	record := func(extra ...sdkmetric.Option) func() {
		mp := sdkmetric.NewMeterProvider(append([]sdkmetric.Option{sdkmetric.WithReader(sdkmetric.NewManualReader()), view}, extra...)...)
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		h, err := mp.Meter("host").Float64Histogram("http.server.duration")
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		return func() { h.Record(ctx, 12.5) }
	}
	host := record()
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"host", host},
		{"off/ProviderOptions", record(exporter.ProviderOptions(off)...)},
		{"off/NewReader", record(sdkmetric.WithReader(exporter.NewReader(off)))},
		{"on/ProviderOptions", record(exporter.ProviderOptions(on)...)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.fn()
			}
			b.StopTimer()
			if tc.name != "host" {
				b.ReportMetric(paired(tc.fn, host, false).ratio, "x-host")
			}
		})
	}
}
