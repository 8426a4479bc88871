package exporter_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/instrument"
)

// An engine adds the exporter's reader to the MeterProvider it already has
// and shuts the provider down before it exits. Here a loopback stand-in
// plays PostHog and the state file lives in a temporary folder. A new
// installation sends its First run at start and its first Heartbeat, with
// the run's counts, at the end of its first run.
func Example() {
	posthog := posthogtest.NewServer()
	defer posthog.Close()
	dir, _ := os.MkdirTemp("", "idun-example")
	defer os.RemoveAll(dir)
	// Under go test, telemetry is off unless turned on explicitly; a host
	// program is on by default.
	os.Setenv(exporter.EnvEnabled, "true")
	defer os.Unsetenv(exporter.EnvEnabled)

	exp, _ := exporter.New(
		exporter.WithHost(posthog.URL),
		exporter.WithAPIKey("phc_example_key"),
		exporter.WithVersion("1.2.3"),
		exporter.WithConfigPath(filepath.Join(dir, "config.yaml")),
		exporter.WithGrace(5*time.Second),
	)
	mp := sdkmetric.NewMeterProvider(
		// ... the provider's other readers and options ...
		sdkmetric.WithReader(exporter.NewReader(exp)),
	)

	ctx := context.Background()
	instrument.NewRecorder(mp).CLIRunning(ctx, "version")
	_ = mp.Shutdown(ctx)

	fmt.Println("enabled:", exp.Enabled())
	for _, ev := range posthog.Events() {
		fmt.Println(ev.Event, ev.Properties["libraries.idun"])
	}
	// Output:
	// enabled: true
	// First run 1.2.3
	// Heartbeat 1.2.3
}
