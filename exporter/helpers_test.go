package exporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// isolate gives the test its own HOME and XDG_CONFIG_HOME, clears every
// variable the exporter reads and makes the process play a host program
// outside go test (see asHost). It returns the config home.
func isolate(t *testing.T) string {
	t.Helper()
	asHost(t)
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

// asHost makes this test binary play a host program outside go test, where
// telemetry is on by default: the tests of this package check what a host's
// users get, the default, the file's opt-out and their order, which
// IDUN_TELEMETRY_ENABLED=true would outrank. TestGoTestIsOffByDefault
// checks the go test default itself.
func asHost(t *testing.T) {
	t.Helper()
	goTest = func() bool { return false }
	t.Cleanup(func() { goTest = testing.Testing })
}

// inCI makes the process play a CI job of the given vendor ("" for a CI
// that ciinfo knows only by its generic variables).
func inCI(t *testing.T, vendor string) {
	t.Helper()
	ciProbe = func() (bool, string) { return true, vendor }
	t.Cleanup(func() { ciProbe = notCI })
}

// notCI is what this package's tests see by default, inside CI or not, so
// that they behave the same everywhere.
func notCI() (bool, string) { return false, "" }

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

// established makes path the state file of an installation that sent its
// first Heartbeat at at: for a day after that, counts stay in the file. For
// the tests of how counts reach the file, which a new installation's first
// Heartbeat (at its first Export with counts) would empty.
func established(t *testing.T, path string, at time.Time) {
	t.Helper()
	err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.EnsureUserID(at)
		at := at.UTC()
		st.LastHeartbeatAt = &at
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
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

// recorded is every count an installation holds or delivered: not yet in
// an event (the journal's included), in a queued event, or in an event
// srv accepted (deduplicated as PostHog does).
func recorded(t *testing.T, path string, srv *posthogtest.Server) map[string]int64 {
	t.Helper()
	st := load(t, path)
	c := st.Counters
	seen := map[string]bool{}
	add := func(uuid string, props map[string]any) {
		if seen[uuid] {
			return
		}
		seen[uuid] = true
		for k, v := range props {
			switch n := v.(type) {
			case int:
				c[k] += int64(n)
			case int64:
				c[k] += n
			case float64:
				c[k] += int64(n)
			}
		}
	}
	for _, ev := range srv.Unique() {
		if ev.Event == EventHeartbeat {
			add(ev.UUID, ev.Properties)
		}
	}
	for _, ev := range st.Pending {
		if ev.Event == EventHeartbeat {
			add(ev.UUID, ev.Properties)
		}
	}
	for k := range c {
		if !strings.Contains(k, ".") || !strings.HasSuffix(k, ".count") {
			delete(c, k)
		}
	}
	return c
}
