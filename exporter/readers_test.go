package exporter

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
)

// One Exporter on two MeterProviders: each reader keeps its own running
// totals, so every count of both reaches the file exactly once, and the
// Exporter keeps working until the last reader shuts down.
func TestOneExporterOnTwoProviders(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []sdkmetric.PeriodicReaderOption
	}{
		{"NewReader", nil},
		{"NewReader with options (PeriodicReader)", []sdkmetric.PeriodicReaderOption{sdkmetric.WithTimeout(5 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgHome := isolate(t)
			srv := posthogtest.NewServer()
			defer srv.Close()
			path := filepath.Join(cfgHome, "idun", "config.yaml")
			exp, err := New(WithHost(srv.URL), WithClock(newClock(t0).Now), WithGrace(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			a := sdkmetric.NewMeterProvider(sdkmetric.WithReader(NewReader(exp, tc.opts...)))
			b := sdkmetric.NewMeterProvider(sdkmetric.WithReader(NewReader(exp, tc.opts...)))
			ca, _ := a.Meter("a").Int64Counter("feature.shared.count")
			cb, _ := b.Meter("b").Int64Counter("feature.shared.count")
			ob, _ := b.Meter("b").Int64Counter("cli.only_b.count")
			ctx := context.Background()
			flush := func(mp *sdkmetric.MeterProvider) {
				if err := mp.ForceFlush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			ca.Add(ctx, 3)
			flush(a) // a's total 3
			cb.Add(ctx, 4)
			ob.Add(ctx, 1)
			flush(b) // b's total 4, below nothing of a's
			ca.Add(ctx, 2)
			flush(a) // a's total 5: 2 new
			flush(b) // nothing new
			cb.Add(ctx, 3)
			if err := a.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if exp.isClosed() {
				t.Fatal("the first provider's Shutdown shut the shared Exporter down")
			}
			if err := b.Shutdown(ctx); err != nil { // b's total 7: 3 new
				t.Fatal(err)
			}
			if !exp.isClosed() {
				t.Error("the last provider's Shutdown left the Exporter running")
			}
			if c := recorded(t, path, srv); c["feature.shared.count"] != 12 || c["cli.only_b.count"] != 1 || len(c) != 2 {
				t.Errorf("counts recorded %v, want feature.shared.count=12 cli.only_b.count=1", c)
			}
			noRejects(t, srv)
		})
	}
}

// ProviderOptions adds nothing to a provider when telemetry is off.
func TestProviderOptions(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	t.Setenv(EnvEnabled, "false")
	off, _ := New()
	if opts := ProviderOptions(off); len(opts) != 0 {
		t.Errorf("telemetry off: %d options, want none", len(opts))
	}
	if opts := ProviderOptions(nil); len(opts) != 0 {
		t.Errorf("nil exporter: %d options, want none", len(opts))
	}
	t.Setenv(EnvEnabled, "")
	on, _ := New(WithHost(srv.URL), WithGrace(5*time.Second))
	opts := ProviderOptions(on)
	if len(opts) != 1 {
		t.Fatalf("telemetry on: %d options, want one reader", len(opts))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	c, _ := mp.Meter("t").Int64Counter("feature.opt.count")
	c.Add(context.Background(), 2)
	if err := mp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := recorded(t, on.ConfigPath(), srv)["feature.opt.count"]; got != 2 {
		t.Errorf("feature.opt.count = %d, want 2", got)
	}
}
