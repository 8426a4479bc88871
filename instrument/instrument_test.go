package instrument

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"
)

// handled counts errors that reached otel.Handle while the tests ran.
var handled atomic.Int64

// globalSet records that a test or benchmark has set the global provider,
// after which the global delegate no longer forwards to later providers.
var globalSet atomic.Bool

func TestMain(m *testing.M) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) { handled.Add(1) }))
	goleak.VerifyTestMain(m)
}

// newProvider returns an SDK provider read by a ManualReader.
func newProvider() (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), reader
}

// setGlobal installs a fresh SDK provider as the global one.
func setGlobal() *sdkmetric.ManualReader {
	mp, reader := newProvider()
	otel.SetMeterProvider(mp)
	globalSet.Store(true)
	return reader
}

// collect returns every int64 sum the reader holds, by counter name, and
// fails on any data of another shape or scope.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			t.Errorf("scope = %q, want %q", sm.Scope.Name, ScopeName)
		}
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				t.Fatalf("%s: data %T is not a monotonic int64 sum", m.Name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if dp.Attributes.Len() != 0 {
					t.Errorf("%s: unexpected attributes %v", m.Name, dp.Attributes)
				}
				got[m.Name] += dp.Value
			}
		}
	}
	return got
}

// wantCounts fails unless got holds exactly want.
func wantCounts(t *testing.T, got, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d counters %v, want %d %v", len(got), got, len(want), want)
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s = %d, want %d (all: %v)", name, got[name], n, got)
		}
	}
}

// call runs one helper of r by the name of its counter family.
type call func(r *Recorder, ctx context.Context, name string)

var helpers = map[string]call{
	"AgentRunning": func(r *Recorder, ctx context.Context, name string) {
		r.AgentRunning(ctx, AgentFramework(name))
	},
	"FeatureUsed":     (*Recorder).FeatureUsed,
	"CLIRunning":      (*Recorder).CLIRunning,
	"TutorialRunning": (*Recorder).TutorialRunning,
}

// TestGlobalProvider keeps every use of the global provider in one test,
// in order: the global delegate forwards only to the first provider set.
func TestGlobalProvider(t *testing.T) {
	ctx := context.Background()
	t.Run("set later", func(t *testing.T) {
		delegating := !globalSet.Load()
		early := NewRecorder(otel.GetMeterProvider())
		FeatureUsed(ctx, "early")   // made before any provider: not counted
		early.CLIRunning(ctx, "up") // made from the delegate: not counted yet
		reader := setGlobal()
		FeatureUsed(ctx, "early")
		FeatureUsed(ctx, "early")
		AgentRunning(ctx, LANGGRAPH)
		early.CLIRunning(ctx, "up")
		want := map[string]int64{"feature.early.count": 2, "workflow.langgraph.count": 1}
		if delegating {
			want["cli.up.count"] = 1
		} else {
			t.Log("global provider set before; delegate forwarding not checked")
		}
		wantCounts(t, collect(t, reader), want)
	})
	t.Run("replaced", func(t *testing.T) {
		first := setGlobal()
		FeatureUsed(ctx, "swap")
		second := setGlobal()
		FeatureUsed(ctx, "swap")
		FeatureUsed(ctx, "swap")
		wantCounts(t, collect(t, first), map[string]int64{"feature.swap.count": 1})
		wantCounts(t, collect(t, second), map[string]int64{"feature.swap.count": 2})
	})
	t.Run("each helper", func(t *testing.T) {
		reader := setGlobal()
		AgentRunning(ctx, DEEP_RESEARCH_AGENT)
		FeatureUsed(ctx, "Memory")
		CLIRunning(ctx, "version")
		TutorialRunning(ctx, "intro")
		FeatureUsed(ctx, "a/b") // dropped
		wantCounts(t, collect(t, reader), map[string]int64{
			"workflow.deep_research_agent.count": 1,
			"feature.memory.count":               1,
			"cli.version.count":                  1,
			"feature.tutorial.intro.count":       1,
		})
	})
	t.Run("zero allocs", func(t *testing.T) {
		setGlobal()
		fns := map[string]func(){
			"AgentRunning":    func() { AgentRunning(ctx, LANGGRAPH) },
			"FeatureUsed":     func() { FeatureUsed(ctx, "memory") },
			"CLIRunning":      func() { CLIRunning(ctx, "Version") },
			"TutorialRunning": func() { TutorialRunning(ctx, "intro") },
		}
		for name, fn := range fns {
			fn() // warm the cache
			if n := testing.AllocsPerRun(1000, fn); n != 0 {
				t.Errorf("%s: %v allocs/op, want 0", name, n)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		reader := setGlobal()
		hammer(func(i int) { FeatureUsed(ctx, fmt.Sprintf("f%d", i%4)) }, 32, 500)
		got := collect(t, reader)
		wantCounts(t, got, map[string]int64{
			"feature.f0.count": 4000, "feature.f1.count": 4000,
			"feature.f2.count": 4000, "feature.f3.count": 4000,
		})
	})
}

// hammer runs fn(i) n times in each of g goroutines and waits for them.
func hammer(fn func(i int), g, n int) {
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for i := range n {
				fn(i)
			}
		})
	}
	wg.Wait()
}

func TestHelpersRecordExactName(t *testing.T) {
	tests := []struct {
		helper string
		arg    string
		times  int
		want   string
	}{
		{"AgentRunning", "LANGGRAPH", 3, "workflow.langgraph.count"},
		{"AgentRunning", "MYFW", 1, "workflow.myfw.count"},
		{"FeatureUsed", "memory", 2, "feature.memory.count"},
		{"FeatureUsed", "tool-calls_v2", 1, "feature.tool-calls_v2.count"},
		{"CLIRunning", "version", 4, "cli.version.count"},
		{"TutorialRunning", "intro", 5, "feature.tutorial.intro.count"},
		{"TutorialRunning", "42", 1, "feature.tutorial.42.count"},
		{"FeatureUsed", strings.Repeat("x", 64), 1, "feature." + strings.Repeat("x", 64) + ".count"},
	}
	for _, tt := range tests {
		t.Run(tt.helper+"/"+tt.arg, func(t *testing.T) {
			mp, reader := newProvider()
			r := NewRecorder(mp)
			for range tt.times {
				helpers[tt.helper](r, context.Background(), tt.arg)
			}
			wantCounts(t, collect(t, reader), map[string]int64{tt.want: int64(tt.times)})
		})
	}
}

func TestInvalidNamesRecordNothing(t *testing.T) {
	tests := []struct {
		desc string
		name string
	}{
		{"empty", ""},
		{"path", "/etc/passwd"},
		{"relative path", "a/b"},
		{"parent dir", "../x"},
		{"windows path", `C:\Users\me`},
		{"email", "me@x.io"},
		{"url", "https://x"},
		{"ip", "10.0.0.1"},
		{"dot", "a.b"},
		{"lone dot", "."},
		{"space", "a b"},
		{"leading space", " memory"},
		{"newline", "memory\n"},
		{"nul", "a\x00b"},
		{"invalid utf-8", "ab\xff"},
		{"non-ascii letter", "café"},
		{"non-ascii upper", "ÉTÉ"},
		{"65 bytes", strings.Repeat("a", 65)},
		{"300 bytes", strings.Repeat("a", 300)},
		{"colon", "a:b"},
		{"braces", "{name}"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			mp, reader := newProvider()
			r := NewRecorder(mp)
			for _, h := range helpers {
				h(r, context.Background(), tt.name)
			}
			wantCounts(t, collect(t, reader), map[string]int64{})
			if n := r.cached(); n != 0 {
				t.Errorf("%d invalid names cached, want 0", n)
			}
		})
	}
}

func TestCaseIsLowered(t *testing.T) {
	mp, reader := newProvider()
	r := NewRecorder(mp)
	ctx := context.Background()
	for _, name := range []string{"Memory", "MEMORY", "memory", "mEmOrY"} {
		r.FeatureUsed(ctx, name)
	}
	r.CLIRunning(ctx, "Run-Agent")
	r.TutorialRunning(ctx, "Intro_1")
	wantCounts(t, collect(t, reader), map[string]int64{
		"feature.memory.count":           4,
		"cli.run-agent.count":            1,
		"feature.tutorial.intro_1.count": 1,
	})
}

func TestAgentFrameworkNames(t *testing.T) {
	tests := []struct {
		f    AgentFramework
		want string
	}{
		{LANGGRAPH, "workflow.langgraph.count"},
		{ADK, "workflow.adk.count"},
		{CREWAI, "workflow.crewai.count"},
		{HAYSTACK, "workflow.haystack.count"},
		{CUSTOM, "workflow.custom.count"},
		{TRANSLATION_AGENT, "workflow.translation_agent.count"},
		{CORRECTION_AGENT, "workflow.correction_agent.count"},
		{DEEP_RESEARCH_AGENT, "workflow.deep_research_agent.count"},
		{AgentFramework("MYFW"), "workflow.myfw.count"},
	}
	for _, tt := range tests {
		t.Run(string(tt.f), func(t *testing.T) {
			if strings.ToUpper(string(tt.f)) != string(tt.f) {
				t.Errorf("value %q is not upper case", tt.f)
			}
			mp, reader := newProvider()
			NewRecorder(mp).AgentRunning(context.Background(), tt.f)
			wantCounts(t, collect(t, reader), map[string]int64{tt.want: 1})
		})
	}
}

func TestCacheBound(t *testing.T) {
	mp, reader := newProvider()
	r := NewRecorder(mp)
	ctx := context.Background()
	want := map[string]int64{}
	for i := range maxCachedNames {
		r.FeatureUsed(ctx, fmt.Sprintf("f%d", i))
		want[fmt.Sprintf("feature.f%d.count", i)] = 1
	}
	r.FeatureUsed(ctx, "overflow") // past the bound: dropped
	r.CLIRunning(ctx, "overflow")
	if n := testing.AllocsPerRun(100, func() { r.FeatureUsed(ctx, "Overflow") }); n != 0 {
		t.Errorf("dropping past the bound: %v allocs/op, want 0", n)
	}
	r.FeatureUsed(ctx, "f0") // cached: still counted
	want["feature.f0.count"] = 2
	if n := r.cached(); n != maxCachedNames {
		t.Errorf("cached %d names, want %d", n, maxCachedNames)
	}
	wantCounts(t, collect(t, reader), want)
}

func TestConcurrentRecorder(t *testing.T) {
	mp, reader := newProvider()
	r := NewRecorder(mp)
	ctx := context.Background()
	hammer(func(i int) {
		r.AgentRunning(ctx, []AgentFramework{ADK, "Adk", CREWAI}[i%3])
		r.CLIRunning(ctx, fmt.Sprintf("c%d", i%8)) // new names race on the slow path
	}, 64, 240)
	got := collect(t, reader)
	want := map[string]int64{"workflow.adk.count": 64 * 160, "workflow.crewai.count": 64 * 80}
	for i := range 8 {
		want[fmt.Sprintf("cli.c%d.count", i)] = 64 * 240 / 8
	}
	wantCounts(t, got, want)
}

func TestRecorderZeroAllocs(t *testing.T) {
	mp, _ := newProvider()
	r := NewRecorder(mp)
	ctx := context.Background()
	counter, err := mp.Meter("raw").Int64Counter("raw.count")
	if err != nil {
		t.Fatal(err)
	}
	fns := map[string]func(){
		"AgentRunning":     func() { r.AgentRunning(ctx, TRANSLATION_AGENT) },
		"FeatureUsed":      func() { r.FeatureUsed(ctx, "memory") },
		"CLIRunning":       func() { r.CLIRunning(ctx, "version") },
		"TutorialRunning":  func() { r.TutorialRunning(ctx, "Intro") },
		"invalid":          func() { r.FeatureUsed(ctx, "a/b") },
		"Int64Counter.Add": func() { counter.Add(ctx, 1) },
	}
	for name, fn := range fns {
		fn()
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
}

// brokenProvider fails in the way its fields say.
type brokenProvider struct {
	noop.MeterProvider
	meterPanics, counterPanics, counterErrs, addPanics bool
	adds                                               *atomic.Int64
}

func (p brokenProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	if p.meterPanics {
		panic("Meter")
	}
	return brokenMeter{p: p}
}

type brokenMeter struct {
	noop.Meter
	p brokenProvider
}

func (m brokenMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	switch {
	case m.p.counterPanics:
		panic("Int64Counter")
	case m.p.counterErrs:
		return brokenCounter{p: m.p}, errors.New("Int64Counter")
	}
	return brokenCounter{p: m.p}, nil
}

type brokenCounter struct {
	noop.Int64Counter
	p brokenProvider
}

func (c brokenCounter) Add(context.Context, int64, ...metric.AddOption) {
	if c.p.addPanics {
		panic("Add")
	}
	c.p.adds.Add(1)
}

func TestBrokenProvider(t *testing.T) {
	tests := []struct {
		desc string
		p    brokenProvider
	}{
		{"Meter panics", brokenProvider{meterPanics: true}},
		{"Int64Counter panics", brokenProvider{counterPanics: true}},
		{"Int64Counter errors", brokenProvider{counterErrs: true}},
		{"Add panics", brokenProvider{addPanics: true}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.p.adds = new(atomic.Int64)
			before := handled.Load()
			r := NewRecorder(tt.p)
			for range 3 {
				for _, h := range helpers {
					h(r, context.Background(), "memory")
				}
			}
			if n := tt.p.adds.Load(); n != 0 {
				t.Errorf("%d adds reached the counter, want 0", n)
			}
			if n := handled.Load() - before; n != 0 {
				t.Errorf("%d errors sent to otel.Handle, want 0", n)
			}
		})
	}
}

func TestNilAndZeroRecorder(t *testing.T) {
	ctx := context.Background()
	var nilRecorder *Recorder
	for _, r := range []*Recorder{nilRecorder, {}, NewRecorder(nil)} {
		for _, h := range helpers {
			h(r, ctx, "memory")
		}
	}
	mp, reader := newProvider()
	//lint:ignore SA1012 a nil context must not panic either.
	NewRecorder(mp).FeatureUsed(nil, "memory")
	wantCounts(t, collect(t, reader), map[string]int64{"feature.memory.count": 1})
}
