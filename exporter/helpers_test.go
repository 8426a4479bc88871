package exporter

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/adrg/xdg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

var t0 = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

// fakeClock is the only thing faked: files, HTTP and the client are real.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// isolate gives the test its own HOME and XDG_CONFIG_HOME and clears every
// variable the exporter reads. It returns the config home.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	cfg := filepath.Join(home, ".config")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", cfg)
	for _, k := range []string{EnvEnabled, EnvDoNotTrack, EnvOTelDisabled, EnvDebug, EnvHost} {
		t.Setenv(k, "")
	}
	xdg.Reload()
	t.Cleanup(xdg.Reload)
	return cfg
}

// process is one run of a host program: New, a MeterProvider with our
// reader, some counting, Shutdown.
type process struct {
	exp *Exporter
	mp  *sdkmetric.MeterProvider
	m   metric.Meter
}

func start(t *testing.T, opts ...Option) *process {
	t.Helper()
	exp, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(NewReader(exp)))
	return &process{exp: exp, mp: mp, m: mp.Meter("test")}
}

func (p *process) add(t *testing.T, name string, n int64, attrs ...attribute.KeyValue) {
	t.Helper()
	// The SDK reports a malformed name as an error but still returns a
	// working instrument: exactly what a careless host would use.
	c, _ := p.m.Int64Counter(name)
	c.Add(context.Background(), n, metric.WithAttributes(attrs...))
}

func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.mp.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// runOnce is a whole short process adding counts.
func runOnce(t *testing.T, counts map[string]int64, opts ...Option) *Exporter {
	t.Helper()
	p := start(t, opts...)
	for name, n := range counts {
		p.add(t, name, n)
	}
	p.stop(t)
	return p.exp
}

func load(t *testing.T, path string) *state.State {
	t.Helper()
	s := state.New(path)
	st, err := s.Load()
	if err != nil {
		t.Fatalf("load state: %v", err)
	}
	// Counters: every count not yet sent, the journal's included.
	if st.Counters, err = s.Counts(); err != nil {
		t.Fatalf("load counts: %v", err)
	}
	return st
}

func noRejects(t *testing.T, srv *posthogtest.Server) {
	t.Helper()
	if r := srv.Rejected(); len(r) != 0 {
		t.Errorf("the stand-in rejected requests: %v", r)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
