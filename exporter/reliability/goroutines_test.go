//go:build unix

package reliability

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/metrics"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/goleak"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/instrument"
)

// isolate gives an in-process test its own HOME and XDG_CONFIG_HOME, clears
// every variable the exporter reads and turns telemetry on with
// IDUN_TELEMETRY_ENABLED=true: this is a go test binary, where it is off by
// default. It returns the state file path.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	for _, k := range []string{exporter.EnvDoNotTrack, exporter.EnvOTelDisabled, exporter.EnvDebug, exporter.EnvHost} {
		t.Setenv(k, "")
	}
	t.Setenv(exporter.EnvEnabled, "true")
	return filepath.Join(home, ".config", "idun", "config.yaml")
}

// lifecycle is a whole host program in-process: New, a MeterProvider with
// the reader, counts through every path, a ForceFlush, Shutdown.
func lifecycle(t *testing.T, opts ...exporter.Option) *exporter.Exporter {
	t.Helper()
	exp, err := exporter.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter.NewReader(exp)))
	ctx := context.Background()
	rec := instrument.NewRecorder(mp)
	rec.CLIRunning(ctx, "version")
	rec.FeatureUsed(ctx, "memory")
	rec.AgentRunning(ctx, instrument.LANGGRAPH)
	c, _ := mp.Meter("host").Int64Counter("feature.direct.count")
	c.Add(ctx, 2, metric.WithAttributes(attribute.String("k", "v")))
	_ = mp.ForceFlush(ctx)
	c.Add(ctx, 1)
	if err := mp.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	return exp
}

// TestReliabilityGoroutines: after Shutdown no goroutine of the library,
// posthog-go or the SDK is left, whatever the host did (goleak); with
// telemetry off none was ever started (the runtime's count of goroutines
// created does not move).
func TestReliabilityGoroutines(t *testing.T) {
	modes := []struct {
		name  string
		mode  posthogtest.Mode
		delay time.Duration
		url   string
	}{
		{"healthy", posthogtest.OK, 0, ""}, {"500", posthogtest.Error500, 0, ""}, {"429", posthogtest.TooMany, 0, ""},
		{"hang", posthogtest.Hang, 0, ""}, {"slow-2s", posthogtest.Slow, 2 * time.Second, ""},
		{"reset", posthogtest.Reset, 0, ""}, {"garbage", posthogtest.Garbage, 0, ""},
		{"refused", posthogtest.OK, 0, "http://127.0.0.1:1"}, {"unresolvable", posthogtest.OK, 0, "http://idun-telemetry.invalid"},
	}
	checked := 0
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			path := isolate(t)
			srv := posthogtest.NewServer()
			srv.SetMode(m.mode)
			srv.SetDelay(m.delay)
			url := srv.URL
			if m.url != "" {
				url = m.url
			}
			// A new installation (First run sent from New), then a second
			// run with the event still queued or a Heartbeat due.
			opts := []exporter.Option{exporter.WithHost(url), exporter.WithConfigPath(path), exporter.WithGrace(100 * time.Millisecond)}
			before := goroutinesCreated(t)
			lifecycle(t, opts...)
			if goroutinesCreated(t) == before {
				t.Error("no goroutine counted with telemetry on: the off check below would prove nothing")
			}
			lifecycle(t, append(opts, exporter.WithClock(func() time.Time { return time.Now().Add(25 * time.Hour) }))...)
			srv.Close()
			goleak.VerifyNone(t)
			checked += 2
		})
	}
	t.Run("debug", func(t *testing.T) {
		path := isolate(t)
		var out bytes.Buffer
		lifecycle(t, exporter.WithConfigPath(path), exporter.WithDebugWriter(&out))
		goleak.VerifyNone(t)
		checked++
		if out.Len() == 0 {
			t.Error("debug mode printed nothing")
		}
	})

	offs := []struct {
		name string
		env  [2]string
		opts []exporter.Option
	}{
		{"IDUN_TELEMETRY_ENABLED=false", [2]string{exporter.EnvEnabled, "false"}, nil},
		{"DO_NOT_TRACK=1", [2]string{exporter.EnvDoNotTrack, "1"}, nil},
		{"OTEL_SDK_DISABLED=true", [2]string{exporter.EnvOTelDisabled, "true"}, nil},
		{"WithEnabled(false)", [2]string{}, []exporter.Option{exporter.WithEnabled(false)}},
		// A host's own go test, as this binary is, with no variable.
		{"go test", [2]string{}, nil},
	}
	for _, off := range offs {
		t.Run("off/"+off.name, func(t *testing.T) {
			path := isolate(t)
			// IDUN_TELEMETRY_ENABLED=true would outrank every other way.
			t.Setenv(exporter.EnvEnabled, "")
			if off.env[0] != "" {
				t.Setenv(off.env[0], off.env[1])
			}
			srv := posthogtest.NewServer()
			t.Setenv(exporter.EnvHost, srv.URL)
			before := goroutinesCreated(t)
			exp := lifecycle(t, off.opts...)
			after := goroutinesCreated(t)
			srv.Close()
			if exp.Enabled() {
				t.Fatal("telemetry on")
			}
			if after != before {
				t.Errorf("%d goroutines were started with telemetry off", after-before)
			}
			if srv.Requests() != 0 {
				t.Errorf("%d requests", srv.Requests())
			}
			if home := filepath.Dir(filepath.Dir(filepath.Dir(path))); len(entries(t, home)) != 0 {
				t.Errorf("created under HOME: %v", entries(t, home))
			}
			goleak.VerifyNone(t)
		})
	}
	figure(t, "%d in-process runs against %d host behaviours and debug mode: 0 goroutines left after Shutdown (goleak); %d ways of turning telemetry off: 0 goroutines ever started (runtime/metrics /sched/goroutines-created unchanged across New, NewReader, MeterProvider, counting, ForceFlush, Shutdown)", checked, len(modes), len(offs))
}

// entries lists dir's entries.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// goroutinesCreated is the runtime's count of goroutines created since the
// program started.
func goroutinesCreated(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("the runtime does not count the goroutines it creates")
	}
	return s[0].Value.Uint64()
}
