package instrument_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/Idun-Group/idun-telemetry-go/instrument"
)

func Example() {
	// An application would register the telemetry exporter on a
	// PeriodicReader; a ManualReader shows what that exporter receives.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	r := instrument.NewRecorder(mp)

	ctx := context.Background()
	r.AgentRunning(ctx, instrument.LANGGRAPH)
	r.AgentRunning(ctx, instrument.LANGGRAPH)
	r.FeatureUsed(ctx, "Memory")
	r.FeatureUsed(ctx, "/home/me/notes.txt") // not a name: dropped

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum := m.Data.(metricdata.Sum[int64])
			fmt.Println(m.Name, sum.DataPoints[0].Value)
		}
	}
	// Output:
	// workflow.langgraph.count 2
	// feature.memory.count 1
}
