package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
)

// telemetryShutdownTimeout bounds the MeterProvider's shutdown. The exporter
// gives up on a slow telemetry host after its grace (250 ms) anyway; this
// also covers the service's own readers.
const telemetryShutdownTimeout = time.Second

// startTelemetry builds the service's MeterProvider, its own options plus the
// usage-telemetry reader, and makes it the global provider that package
// instrument records into. The returned func shuts the provider down, which
// writes this run's counts to the state file.
func startTelemetry() (shutdown func()) {
	// New fails only for a mistake in its options (a bad host or key),
	// which must be seen; file or network trouble turns telemetry off for
	// the process, and an opt-out makes it do nothing at all. Either way
	// exp is usable.
	exp, err := exporter.New(exporter.WithVersion(version))
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: telemetry: %v\n", err)
	}
	// With telemetry off the provider gets nothing of ours: a view with an
	// explicit aggregation would otherwise make the SDK aggregate for it.
	opts := append(serviceMeterOptions(), exporter.ProviderOptions(exp)...)
	mp := sdkmetric.NewMeterProvider(opts...)
	otel.SetMeterProvider(mp)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdownTimeout)
		defer cancel()
		// The telemetry reader never returns an error; a service that adds
		// its own readers would log theirs here.
		_ = mp.Shutdown(ctx)
	}
}

// serviceMeterOptions is what the service configures without usage
// telemetry: its resource and, in a real deployment, its own readers (an
// OTLP or Prometheus exporter). The telemetry exporter drops the resource and
// every attribute, so nothing here is sent to PostHog.
func serviceMeterOptions() []sdkmetric.Option {
	return []sdkmetric.Option{
		sdkmetric.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "idun-agent-server"),
			attribute.String("service.version", version),
		)),
	}
}
