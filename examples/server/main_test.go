package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adrg/xdg"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/instrument"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		ok        bool
		code      int
		addr      string
		framework instrument.AgentFramework
		stdout    string // prefix
		stderr    string // substring
	}{
		{name: "defaults", ok: true, addr: "127.0.0.1:8080", framework: instrument.LANGGRAPH},
		{name: "both", args: []string{"--addr", "127.0.0.1:0", "--framework", "CREWAI"}, ok: true, addr: "127.0.0.1:0", framework: instrument.CREWAI},
		{name: "lower case", args: []string{"-framework=deep_research_agent"}, ok: true, addr: "127.0.0.1:8080", framework: instrument.DEEP_RESEARCH_AGENT},
		{name: "help", args: []string{"-h"}, code: 0, stdout: "Usage: server"},
		{name: "unknown framework", args: []string{"--framework", "LANGCHAIN"}, code: 2, stderr: `server: invalid value "LANGCHAIN" for flag -framework: unknown framework`},
		{name: "unknown flag", args: []string{"--port", "1"}, code: 2, stderr: "flag provided but not defined: -port"},
		{name: "argument", args: []string{"serve"}, code: 2, stderr: `unexpected argument "serve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cfg, code, ok := parseFlags(tc.args, &stdout, &stderr)
			if ok != tc.ok || code != tc.code {
				t.Fatalf("ok %v code %d, want %v %d; stderr %q", ok, code, tc.ok, tc.code, stderr.String())
			}
			if ok && (cfg.addr != tc.addr || cfg.framework != tc.framework) {
				t.Errorf("config %+v", cfg)
			}
			if !strings.HasPrefix(stdout.String(), tc.stdout) || (tc.stdout == "" && stdout.Len() > 0) {
				t.Errorf("stdout %q, want prefix %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) || (tc.stderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
			if code == 2 && !strings.Contains(stderr.String(), "Usage: server") {
				t.Errorf("a usage error without the usage: %q", stderr.String())
			}
		})
	}
}

// withReader makes a MeterProvider with a ManualReader the global one, so a
// test can read what the handlers counted.
func withReader(t *testing.T) *sdkmetric.ManualReader {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetMeterProvider(prev)
		_ = mp.Shutdown(context.Background())
	})
	return reader
}

func counts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					out[m.Name] += dp.Value
				}
			}
		}
	}
	return out
}

func TestRoutes(t *testing.T) {
	reader := withReader(t)
	a, err := newAgent(instrument.ADK)
	if err != nil {
		t.Fatal(err)
	}
	h := routes(a)
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string // substring of the body
	}{
		{"POST", "/invoke", `{"input": "héllo"}`, 200, `{"output":"ADK agent read 5 characters"}`},
		{"POST", "/invoke", `{"input": "my secret"}`, 200, `"output"`},
		{"POST", "/invoke", `not json`, 400, `"error"`},
		{"POST", "/invoke", strings.Repeat("x", maxRequestBody+1), 400, `"error"`},
		{"GET", "/invoke", "", 405, ""},
		{"PUT", "/invoke", "", 405, ""},
		{"GET", "/healthz", "", 200, "ok"},
		{"HEAD", "/healthz", "", 200, ""},
		{"POST", "/healthz", "", 405, ""},
		{"GET", "/", "", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.code, tc.want)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s %s: the answer repeats the input: %q", tc.method, tc.path, rec.Body.String())
		}
		if tc.code == 405 && rec.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	// Only the invocations that succeeded count.
	if got := counts(t, reader); got["feature.invoke.count"] != 2 || len(got) != 1 {
		t.Errorf("counted %v, want feature.invoke.count 2", got)
	}
}

// syncBuffer lets the test read what run prints while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run serves until its context ends, then hands the counts to telemetry and
// returns 0. A new installation's first run sends them in its first
// Heartbeat, at its end.
func TestRunUntilCancelled(t *testing.T) {
	t.Cleanup(xdg.Reload) // runs after t.Setenv restored the environment
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for _, k := range []string{exporter.EnvDoNotTrack, exporter.EnvOTelDisabled, exporter.EnvDebug} {
		t.Setenv(k, "")
	}
	// Off by default in a go test binary such as this one.
	t.Setenv(exporter.EnvEnabled, "true")
	sink := posthogtest.NewServer()
	t.Cleanup(sink.Close)
	t.Setenv(exporter.EnvHost, sink.URL)
	xdg.Reload()
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0"}, &stdout, &stderr) }()

	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == ""; time.Sleep(5 * time.Millisecond) {
		if line, ok := strings.CutSuffix(stdout.String(), "\n"); ok {
			addr = strings.TrimPrefix(line, "listening on ")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed; stderr %q", stderr.String())
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post("http://"+addr+"/invoke", "application/json", strings.NewReader(`{"input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Output string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Errorf("POST /invoke: %d %v", resp.StatusCode, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 || stderr.String() != "" {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	counts, err := state.New(filepath.Join(dir, "config", "idun", "config.yaml")).Counts()
	if err != nil {
		t.Fatal(err)
	}
	beats := sink.Named("Heartbeat")
	if len(counts) != 0 || len(beats) != 1 || beats[0].Properties["workflow.langgraph.count"] != float64(1) || beats[0].Properties["feature.invoke.count"] != float64(1) {
		t.Errorf("counters %v left, Heartbeats %+v; want none left and workflow.langgraph.count 1 and feature.invoke.count 1 sent", counts, beats)
	}
}
