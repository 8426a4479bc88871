package instrument

import (
	"context"
	"testing"
)

// benchmark runs fn serially and from parallel goroutines, reporting
// allocations for both.
func benchmark(b *testing.B, fn func()) {
	fn() // make and cache the instrument outside the timed loop
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fn()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				fn()
			}
		})
	})
}

func BenchmarkFeatureUsed(b *testing.B) {
	setGlobal()
	ctx := context.Background()
	benchmark(b, func() { FeatureUsed(ctx, "memory") })
}

func BenchmarkAgentRunning(b *testing.B) {
	setGlobal()
	ctx := context.Background()
	benchmark(b, func() { AgentRunning(ctx, LANGGRAPH) })
}

func BenchmarkRecorderFeatureUsed(b *testing.B) {
	mp, _ := newProvider()
	r := NewRecorder(mp)
	ctx := context.Background()
	benchmark(b, func() { r.FeatureUsed(ctx, "memory") })
}

// BenchmarkRawAdd is the floor: Int64Counter.Add on the same kind of SDK
// provider, with no lookup, validation or panic guard.
func BenchmarkRawAdd(b *testing.B) {
	mp, _ := newProvider()
	counter, err := mp.Meter(ScopeName).Int64Counter("feature.memory.count")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	benchmark(b, func() { counter.Add(ctx, 1) })
}
