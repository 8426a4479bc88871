// Command hostprog is a small host program for the reliability suite: it
// wires the exporter the way an engine does (one more reader on its own
// MeterProvider), counts what its flags say, shuts down and exits with the
// code it was given. It prints nothing itself, so any byte on its stdout or
// stderr came from telemetry.
//
// Flags:
//
//	-barrier          read stdin to EOF before doing anything (a start line
//	                  for many processes at once)
//	-ready FILE       with -barrier: create FILE once at the start line, so
//	                  the test knows when every process is there
//	-add SPEC         counts to add: kind:name=n,... where kind is raw (an
//	                  OTel counter name), cli, feature, workflow or tutorial
//	                  (the instrument helpers, global provider)
//	-loop             write-heavy: forever add 1 to cli.crash.count and
//	                  ForceFlush, appending one byte to -progress after each
//	                  flush returned
//	-fold             with -loop: after each flush, also fold the journal
//	                  into the state file (state.Store.Fold), so that kills
//	                  land inside folds too
//	-canaries         plant the newline-separated values of $RELIABILITY_CANARIES
//	                  through every public entry point
//	-grace D          exporter.WithGrace
//	-version V        exporter.WithVersion
//	-exit N           exit code
//	-report FILE      write a JSON report (timings, decision) after shutdown;
//	                  with -loop, the decision before the loop starts
package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/instrument"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

type report struct {
	NewNS      int64  `json:"new_ns"`
	ShutdownNS int64  `json:"shutdown_ns"`
	Enabled    bool   `json:"enabled"`
	Source     string `json:"source"`
	Goroutines int    `json:"goroutines_after_new"`
	// GoroutinesBefore is counted before exporter.New.
	GoroutinesBefore int `json:"goroutines_before"`
}

func main() {
	barrier := flag.Bool("barrier", false, "")
	ready := flag.String("ready", "", "")
	add := flag.String("add", "", "")
	loop := flag.Bool("loop", false, "")
	fold := flag.Bool("fold", false, "")
	progress := flag.String("progress", "", "")
	canaries := flag.Bool("canaries", false, "")
	grace := flag.Duration("grace", -1, "")
	version := flag.String("version", "1.0.0", "")
	exit := flag.Int("exit", 0, "")
	reportPath := flag.String("report", "", "")
	flag.Parse()

	if *barrier {
		if *ready != "" {
			_ = os.WriteFile(*ready, nil, 0o600)
		}
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	var rep report
	rep.GoroutinesBefore = countGoroutines()

	opts := []exporter.Option{exporter.WithVersion(*version)}
	if *grace >= 0 {
		opts = append(opts, exporter.WithGrace(*grace))
	}
	var plant []string
	if *canaries {
		for _, c := range strings.Split(os.Getenv("RELIABILITY_CANARIES"), "\n") {
			if c != "" {
				plant = append(plant, c)
			}
		}
	}
	start := time.Now()
	exp, _ := exporter.New(opts...)
	rep.NewNS = int64(time.Since(start))
	rep.Goroutines = countGoroutines()

	res := resource.Default()
	if len(plant) > 0 {
		var attrs []attribute.KeyValue
		for i, c := range plant {
			attrs = append(attrs, attribute.String("canary."+strconv.Itoa(i), c), attribute.String(c, c))
		}
		res = resource.NewSchemaless(append(attrs, attribute.String("service.name", plant[0]), attribute.String("host.name", plant[0]))...)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter.NewReader(exp)))
	otel.SetMeterProvider(mp)
	ctx := context.Background()
	meter := mp.Meter("hostprog")

	for _, item := range strings.Split(*add, ",") {
		if item == "" {
			continue
		}
		spec, count, _ := strings.Cut(item, "=")
		n, _ := strconv.ParseInt(count, 10, 64)
		kind, name, ok := strings.Cut(spec, ":")
		if !ok {
			kind, name = "raw", spec
		}
		for i := int64(0); i < n; i++ {
			switch kind {
			case "cli":
				instrument.CLIRunning(ctx, name)
			case "feature":
				instrument.FeatureUsed(ctx, name)
			case "workflow":
				instrument.AgentRunning(ctx, instrument.AgentFramework(name))
			case "tutorial":
				instrument.TutorialRunning(ctx, name)
			}
		}
		if kind == "raw" {
			c, _ := meter.Int64Counter(name)
			c.Add(ctx, n)
		}
	}

	if len(plant) > 0 {
		plantCanaries(ctx, mp, plant)
	}

	if *loop {
		if *reportPath != "" {
			d := exp.Decision()
			rep.Enabled, rep.Source = d.Enabled, string(d.Source)
			b, _ := json.Marshal(rep)
			_ = os.WriteFile(*reportPath, b, 0o600)
		}
		var store *state.Store
		if *fold {
			store = state.New(exp.ConfigPath())
		}
		writeHeavy(ctx, mp, meter, *progress, store)
	}

	start = time.Now()
	_ = mp.Shutdown(ctx)
	rep.ShutdownNS = int64(time.Since(start))
	d := exp.Decision()
	rep.Enabled, rep.Source = d.Enabled, string(d.Source)
	if *reportPath != "" {
		b, _ := json.Marshal(rep)
		_ = os.WriteFile(*reportPath, b, 0o600)
	}
	os.Exit(*exit)
}

// plantCanaries pushes each value through every way a host can hand data to
// the library: the instrument helpers (package functions and a Recorder),
// counter names in every namespace, attribute keys and values, meter names,
// versions and attributes.
func plantCanaries(ctx context.Context, mp *sdkmetric.MeterProvider, plant []string) {
	rec := instrument.NewRecorder(mp)
	for _, c := range plant {
		variants := []string{c, strings.ReplaceAll(c, ".", "_"), strings.ReplaceAll(strings.ReplaceAll(c, ".", "-"), "/", "_")}
		for _, v := range variants {
			instrument.CLIRunning(ctx, v)
			instrument.FeatureUsed(ctx, v)
			instrument.AgentRunning(ctx, instrument.AgentFramework(v))
			instrument.TutorialRunning(ctx, v)
			rec.CLIRunning(ctx, v)
			rec.FeatureUsed(ctx, v)
			rec.AgentRunning(ctx, instrument.AgentFramework(v))
			rec.TutorialRunning(ctx, v)
		}
		m := mp.Meter(c, metric.WithInstrumentationVersion(c), metric.WithInstrumentationAttributes(attribute.String("canary", c)))
		attrs := metric.WithAttributes(attribute.String("user", c), attribute.String(c, c), attribute.StringSlice("list", []string{c}))
		for _, v := range variants {
			for _, name := range []string{
				v, "feature." + v, "cli." + v, "workflow." + v,
				"feature." + v + ".count", "cli." + v + ".count", "workflow." + v + ".count",
				"feature.tutorial." + v + ".count",
			} {
				if ctr, err := m.Int64Counter(name, metric.WithDescription(c), metric.WithUnit(c)); err == nil {
					ctr.Add(ctx, 1, attrs)
				}
				if ctr, err := m.Int64UpDownCounter(name); err == nil {
					ctr.Add(ctx, 1, attrs)
				}
				if h, err := m.Int64Histogram(name); err == nil {
					h.Record(ctx, 1, attrs)
				}
				if g, err := m.Float64Gauge(name); err == nil {
					g.Record(ctx, 1, attrs)
				}
			}
		}
		// A legitimate counter carrying the canary only in its attributes.
		ok, _ := m.Int64Counter("feature.canary_carrier.count")
		ok.Add(ctx, 1, attrs)
		instrument.CLIRunning(ctx, "version")
	}
}

// writeHeavy adds one count and flushes it to the state file, forever; the
// progress file gets one byte after each flush returned, so the test knows
// which counts were handed over before the kill. With a store, each flush
// is followed by a fold of the journal.
func writeHeavy(ctx context.Context, mp *sdkmetric.MeterProvider, meter metric.Meter, progress string, store *state.Store) {
	f, err := os.OpenFile(progress, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		os.Exit(99)
	}
	c, _ := meter.Int64Counter("cli.crash.count")
	for {
		c.Add(ctx, 1)
		_ = mp.ForceFlush(ctx)
		if _, err := f.Write([]byte{'.'}); err != nil {
			os.Exit(98)
		}
		if store != nil {
			_ = store.Fold(ctx, func(*state.State) error { return nil })
		}
	}
}

func countGoroutines() int { return runtime.NumGoroutine() }
