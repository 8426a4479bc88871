package instrument

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func addGlobal(ctx context.Context, k kind, name string) {
	mp := otel.GetMeterProvider()
	b := current.Load()
	if b == nil || !b.matches(mp) {
		bind(mp).add(ctx, k, name)
		return
	}
	r := b.recorder
	defer swallowPanic()
	var c metric.Int64Counter
	if cc := r.cache.Load(); cc != nil && name != "" {
		if h := &cc.hot[hotSlot(k, name)]; h.name == name && h.kind == k {
			c = h.ctr
		}
	}
	if c == nil {
		if c = r.counter(k, name); c == nil {
			return
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c.Add(ctx, 1)
}

func pairedX(fn, base func()) float64 {
	n := 20000
	var rs []float64
	for i := 0; i < 41; i++ {
		t0 := time.Now()
		for range n {
			base()
		}
		tb := time.Since(t0)
		t0 = time.Now()
		for range n {
			fn()
		}
		tf := time.Since(t0)
		rs = append(rs, float64(tf)/float64(tb))
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

func TestXMerged(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	otel.SetMeterProvider(mp)
	ctx := context.Background()
	c, _ := mp.Meter(ScopeName).Int64Counter("feature.memory.count", metric.WithDescription(descriptions[kindFeature]), metric.WithUnit("1"))
	raw := func() { c.Add(ctx, 1) }
	cur := func() { FeatureUsed(ctx, "memory") }
	merged := func() { addGlobal(ctx, kindFeature, "memory") }
	cur()
	merged()
	for i := 0; i < 3; i++ {
		t.Logf("current %.3f merged %.3f merged/current %.3f", pairedX(cur, raw), pairedX(merged, raw), pairedX(merged, cur))
	}
}
