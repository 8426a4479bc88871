package exporter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
	// One request per event: they arrive in any order.
	events := posthog.Events()
	at := func(i int) time.Time { ts, _ := time.Parse(time.RFC3339Nano, events[i].Timestamp); return ts }
	sort.Slice(events, func(i, j int) bool { return at(i).Before(at(j)) })
	for _, ev := range events {
		fmt.Println(ev.Event, ev.Properties["libraries.idun"])
	}
	// Output:
	// enabled: true
	// First run 1.2.3
	// Heartbeat 1.2.3
}

// New reports a mistake in the options, here a host without its scheme, and
// returns an Exporter that does nothing.
func ExampleNew_invalidHost() {
	exp, err := exporter.New(exporter.WithHost("eu.i.posthog.com"))
	fmt.Println(err)
	fmt.Println(errors.Is(err, exporter.ErrInvalidConfig), exp.Enabled())
	// Output:
	// exporter: invalid configuration: host "eu.i.posthog.com": want an absolute http:// or https:// URL, such as https://us.i.posthog.com
	// true false
}

// Another program counts its usage under its own name.
func ExampleAppOf() {
	app, err := exporter.AppOf(exporter.WithApp("acme-cli"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(app.EnvEnabled, app.EnvDebug, app.EnvHost, app.VersionKey)
	// Output:
	// ACME_CLI_TELEMETRY_ENABLED ACME_CLI_TELEMETRY_DEBUG ACME_CLI_TELEMETRY_HOST libraries.acme-cli
}

// With telemetry off, ProviderOptions adds nothing to the provider.
func ExampleProviderOptions() {
	exp, _ := exporter.New(exporter.WithApp("example"), exporter.WithEnabled(false))
	opts := []sdkmetric.Option{sdkmetric.WithReader(sdkmetric.NewManualReader())}
	opts = append(opts, exporter.ProviderOptions(exp)...)
	fmt.Println(len(opts))
	mp := sdkmetric.NewMeterProvider(opts...)
	_ = mp.Shutdown(context.Background())
	// Output: 1
}
