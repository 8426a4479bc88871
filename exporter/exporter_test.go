package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/goleak"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

func TestMain(m *testing.M) {
	// The SDK's default error handler prints to stderr; any call to it is a
	// bug here.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { handled = append(handled, err) }))
	// The suite must pass the same in CI (the CI=true of .ci/run) and on a
	// laptop: CI is played only by the tests that say so (inCI).
	ciProbe = notCI
	goleak.VerifyTestMain(m)
}

var handled []error

func TestFirstRunOnceAcrossRestarts(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	clk := newClock(t0)
	for i := 0; i < 3; i++ {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		exp := runOnce(t, map[string]int64{"cli.version.count": 1}, WithHost(srv.URL), WithClock(clk.Now), WithGrace(5*time.Second))
		if d := exp.Decision(); !d.Enabled || d.Source != SourceDefault {
			t.Fatalf("run %d: decision %+v", i, d)
		}
	}
	noRejects(t, srv)
	st := load(t, path)
	if id, err := uuid.Parse(st.UserID); err != nil || id.Version() != 4 {
		t.Fatalf("user_id %q is not a UUID v4", st.UserID)
	}
	first := srv.Named(EventFirstRun)
	if len(first) != 1 {
		t.Fatalf("got %d First run events, want 1", len(first))
	}
	ev := first[0]
	if ev.DistinctID != st.UserID {
		t.Errorf("distinct_id %q, want the user_id %q", ev.DistinctID, st.UserID)
	}
	for k, want := range map[string]any{"$process_person_profile": false, "$geoip_disable": true, "libraries.gotest": true, "go.version": nil, "os.family": nil, "os.machine": nil, "libraries.idun": nil} {
		got, ok := ev.Properties[k]
		if !ok || (want != nil && got != want) {
			t.Errorf("property %s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if _, ok := ev.Properties["os.containerized"]; !ok {
		t.Error("os.containerized missing")
	}
	if len(st.Pending) != 0 {
		t.Errorf("outbox not empty: %+v", st.Pending)
	}
	if len(st.Sent) != 2 || st.Sent[0].UUID != ev.UUID || st.Sent[0].Properties["$lib"] != "posthog-go" {
		t.Errorf("sent copy wrong: %+v", st.Sent)
	}
	// The installation's first Heartbeat goes at its first run's end, with
	// that run's count; the next runs' counts wait for the day.
	beats := srv.Named(EventHeartbeat)
	if len(beats) != 1 || beats[0].Properties["cli.version.count"] != float64(1) {
		t.Errorf("Heartbeats %+v, want 1 with cli.version.count 1", beats)
	}
	if got := st.Counters["cli.version.count"]; got != 2 {
		t.Errorf("counter = %d, want 2", got)
	}
}

func TestOptOutTouchesNothing(t *testing.T) {
	cases := []struct{ env, value string }{
		{EnvEnabled, "false"}, {EnvEnabled, "0"}, {EnvEnabled, "no"}, {EnvEnabled, "off"},
		{EnvEnabled, "FALSE"}, {EnvEnabled, "flase"}, {EnvEnabled, " False "},
		{EnvDoNotTrack, "1"}, {EnvDoNotTrack, "true"}, {EnvDoNotTrack, "yes"},
		{EnvOTelDisabled, "true"}, {EnvOTelDisabled, "TRUE"},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			cfgHome := isolate(t)
			srv := posthogtest.NewServer()
			t.Setenv(tc.env, tc.value)
			t.Setenv(EnvHost, srv.URL)
			p := start(t)
			if p.exp.Enabled() {
				t.Fatal("enabled")
			}
			if d := p.exp.Decision(); string(d.Source) != tc.env {
				t.Errorf("decided by %q, want %q", d.Source, tc.env)
			}
			for _, k := range []sdkmetric.InstrumentKind{sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram} {
				if _, ok := p.exp.Aggregation(k).(sdkmetric.AggregationDrop); !ok {
					t.Errorf("Aggregation(%v) is not drop", k)
				}
			}
			p.add(t, "cli.version.count", 5)
			_ = p.exp.Export(context.Background(), nil)
			_ = p.exp.ForceFlush(context.Background())
			p.stop(t)
			srv.Close()
			if exists(cfgHome) {
				t.Errorf("%s was created", cfgHome)
			}
			if n := srv.Requests(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
			if d := Decide(); d.Enabled {
				t.Errorf("Decide says enabled")
			}
			if exists(cfgHome) {
				t.Errorf("Decide created %s", cfgHome)
			}
		})
	}
}

func TestEnablementOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		opts    []Option
		file    string
		enabled bool
		source  Source
	}{
		{"default", nil, nil, "", true, SourceDefault},
		{"option off", nil, []Option{WithEnabled(false)}, "", false, SourceOption},
		{"option on cannot beat the file", nil, []Option{WithEnabled(true)}, "telemetry_enabled: false\n", false, SourceConfig},
		{"file off", nil, nil, "telemetry_enabled: false\n", false, SourceConfig},
		{"file on", nil, nil, "telemetry_enabled: true\n", true, SourceConfig},
		{"env on beats file", map[string]string{EnvEnabled: "yes"}, nil, "telemetry_enabled: false\n", true, SourceEnvEnabled},
		{"env on beats DO_NOT_TRACK", map[string]string{EnvEnabled: "1", EnvDoNotTrack: "1"}, nil, "", true, SourceEnvEnabled},
		{"env on beats option", map[string]string{EnvEnabled: "on"}, []Option{WithEnabled(false)}, "", true, SourceEnvEnabled},
		{"DO_NOT_TRACK=0 is not an opt-out", map[string]string{EnvDoNotTrack: "0"}, nil, "", true, SourceDefault},
		{"DO_NOT_TRACK=false is not an opt-out", map[string]string{EnvDoNotTrack: "false"}, nil, "", true, SourceDefault},
		{"OTEL_SDK_DISABLED=false", map[string]string{EnvOTelDisabled: "false"}, nil, "", true, SourceDefault},
		{"unusable file", nil, nil, "\x00garbage: [", false, SourceConfigInvalid},
		{"unusable file beats env on", map[string]string{EnvEnabled: "true"}, nil, "user_id: not-a-uuid\n", false, SourceConfigInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgHome := isolate(t)
			srv := posthogtest.NewServer()
			defer srv.Close()
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(cfgHome, "idun", "config.yaml")
			if tc.file != "" {
				os.MkdirAll(filepath.Dir(path), 0o700)
				os.WriteFile(path, []byte(tc.file), 0o600)
			}
			if d := Decide(tc.opts...); d.Enabled != tc.enabled || d.Source != tc.source {
				t.Errorf("Decide = %+v, want %v by %s", d, tc.enabled, tc.source)
			}
			exp := runOnce(t, map[string]int64{"cli.x.count": 1}, append(tc.opts, WithHost(srv.URL), WithGrace(5*time.Second))...)
			if d := exp.Decision(); d.Enabled != tc.enabled || d.Source != tc.source {
				t.Errorf("Decision = %+v, want %v by %s", d, tc.enabled, tc.source)
			}
			if !tc.enabled {
				if srv.Requests() != 0 {
					t.Error("disabled exporter sent requests")
				}
				if tc.file != "" {
					if b, _ := os.ReadFile(path); string(b) != tc.file {
						t.Errorf("file changed to %q", b)
					}
				}
			}
		})
	}
}

// TestHeartbeatAcrossProcesses: counts from several processes add up into
// one Heartbeat once 24 h have passed, none before; counters reset after.
func TestHeartbeatAcrossProcesses(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	clk := newClock(t0)
	opts := []Option{WithHost(srv.URL), WithClock(clk.Now), WithGrace(5 * time.Second)}

	steps := []struct {
		at     time.Duration
		counts map[string]int64
	}{
		{0, map[string]int64{"cli.version.count": 2, "workflow.langgraph.count": 1}},
		{time.Hour, map[string]int64{"cli.version.count": 3}},
		{23 * time.Hour, map[string]int64{"feature.invoke.count": 4}},
		{23*time.Hour + 59*time.Minute, map[string]int64{"cli.version.count": 1}},
	}
	for _, s := range steps {
		clk.Set(t0.Add(s.at))
		runOnce(t, s.counts, opts...)
	}
	// The first run's counts went at its end; the others wait for the day.
	if n := len(srv.Named(EventHeartbeat)); n != 1 {
		t.Fatalf("%d Heartbeats before 24h, want the first run's", n)
	}
	if st := load(t, path); st.LastHeartbeatAt == nil || !st.LastHeartbeatAt.Equal(t0) {
		t.Fatalf("last_heartbeat_at = %v, want the first run's end", st.LastHeartbeatAt)
	}
	// Two processes at once, past 24h: still one Heartbeat.
	clk.Set(t0.Add(24*time.Hour + time.Minute))
	a, b := start(t, opts...), start(t, opts...)
	a.add(t, "cli.version.count", 10)
	b.add(t, "cli.run.count", 1)
	a.stop(t)
	b.stop(t)
	noRejects(t, srv)
	hb := srv.Unique()
	var beats []posthogtest.Event
	for _, ev := range hb {
		if ev.Event == EventHeartbeat {
			beats = append(beats, ev)
		}
	}
	if len(beats) != 2 {
		t.Fatalf("got %d Heartbeats, want 2: %+v", len(beats), beats)
	}
	st := load(t, path)
	sent := map[string]int64{}
	for _, beat := range beats {
		for k, v := range beat.Properties {
			if f, ok := v.(float64); ok && strings.Contains(k, ".count") {
				sent[k] += int64(f)
			}
		}
	}
	total := func(m map[string]int64, k string) int64 { return m[k] + st.Counters[k] }
	for k, want := range map[string]int64{"cli.version.count": 16, "workflow.langgraph.count": 1, "feature.invoke.count": 4, "cli.run.count": 1} {
		if got := total(sent, k); got != want {
			t.Errorf("%s: sent %d + kept %d, want %d", k, sent[k], st.Counters[k], want)
		}
	}
	if st.LastHeartbeatAt == nil || !st.LastHeartbeatAt.Equal(t0.Add(24*time.Hour+time.Minute)) {
		t.Errorf("last_heartbeat_at = %v", st.LastHeartbeatAt)
	}
	// The next day's counts start from what the Heartbeat left (a count
	// added after it was built) and wait for the next window.
	kept := st.Counters["cli.version.count"]
	clk.Set(t0.Add(30 * time.Hour))
	runOnce(t, map[string]int64{"cli.version.count": 7}, opts...)
	st = load(t, path)
	if n := len(srv.Named(EventHeartbeat)); n != 2 || st.Counters["cli.version.count"] != kept+7 {
		t.Errorf("Heartbeats = %d, cli.version.count = %d, want 2 and %d kept + 7", n, st.Counters["cli.version.count"], kept)
	}
	clk.Set(t0.Add(48*time.Hour + 2*time.Minute))
	runOnce(t, nil, opts...)
	if n := len(srv.Named(EventHeartbeat)); n != 3 {
		t.Errorf("second day: %d Heartbeats, want 3", n)
	}
	if st := load(t, path); len(st.Counters) != 0 {
		t.Errorf("counters not reset: %v", st.Counters)
	}
}

// TestFailedSendIsRetriedOnce: a failed send keeps the event; the next run
// delivers it once, with the same UUID and timestamp.
func TestFailedSendIsRetriedOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode posthogtest.Mode
		down bool
		// kind is the failure the schedule records; an attempt that
		// Shutdown cut short keeps the "timeout" recorded before it.
		kind string
	}{
		{"500", posthogtest.Error500, false, "http 500"},
		{"429", posthogtest.TooMany, false, "http 429"},
		{"hang", posthogtest.Hang, false, "timeout"},
		{"reset", posthogtest.Reset, false, "reset"},
		{"garbage", posthogtest.Garbage, false, "error"},
		{"refused", posthogtest.OK, true, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgHome := isolate(t)
			path := filepath.Join(cfgHome, "idun", "config.yaml")
			bad := posthogtest.NewServer()
			bad.SetMode(tc.mode)
			badURL := bad.URL
			if tc.down {
				bad.Close()
			}
			clk := newClock(t0)
			runOnce(t, map[string]int64{"cli.version.count": 1}, WithHost(badURL), WithClock(clk.Now), WithGrace(150*time.Millisecond))
			if !tc.down {
				bad.Close()
			}
			// The First run, and the first Heartbeat queued at the run's end.
			st := load(t, path)
			if len(st.Pending) != 2 || st.Pending[0].Event != EventFirstRun || st.Pending[1].Event != EventHeartbeat {
				t.Fatalf("outbox after failure: %+v", st.Pending)
			}
			// One attempt (the First run, sent from New), then the first
			// delay: 45 to 60 s (a minute, less up to a quarter of jitter),
			// 60 s where the host asked so. The Heartbeat queued at the end
			// waits for it.
			d := st.Delivery
			if d.Failures != 1 || d.LastFailure != tc.kind || d.NextAttemptAt == nil ||
				d.NextAttemptAt.Before(t0.Add(45*time.Second)) || d.NextAttemptAt.After(t0.Add(time.Minute)) {
				t.Errorf("schedule after one failed attempt: %+v (next %v), want 1 failure %q, next in 45-60 s", d, d.NextAttemptAt, tc.kind)
			}
			// posthog-go must not retry: each event goes in one request.
			if !tc.down && len(bad.Bodies()) > len(st.Pending) {
				t.Errorf("%d requests for %d events, want one each at most", len(bad.Bodies()), len(st.Pending))
			}
			for _, ev := range st.Pending {
				n := 0
				for _, b := range bad.Bodies() {
					n += strings.Count(string(b), ev.UUID)
				}
				if n > 1 {
					t.Errorf("%s sent %d times in one run", ev.Event, n)
				}
			}

			good := posthogtest.NewServer()
			defer good.Close()
			clk.Set(t0.Add(time.Minute))
			runOnce(t, nil, WithHost(good.URL), WithClock(clk.Now), WithGrace(5*time.Second))
			runOnce(t, nil, WithHost(good.URL), WithClock(clk.Now), WithGrace(5*time.Second))
			noRejects(t, good)
			for _, queued := range st.Pending {
				got := good.Named(queued.Event)
				if len(got) != 1 {
					t.Fatalf("%s delivered %d times, want once", queued.Event, len(got))
				}
				if got[0].UUID != queued.UUID {
					t.Errorf("%s: uuid changed: %s -> %s", queued.Event, queued.UUID, got[0].UUID)
				}
				if ts, _ := time.Parse(time.RFC3339Nano, got[0].Timestamp); !ts.Equal(queued.Timestamp) {
					t.Errorf("%s: timestamp changed: %v -> %s", queued.Event, queued.Timestamp, got[0].Timestamp)
				}
			}
			if st := load(t, path); len(st.Pending) != 0 {
				t.Errorf("outbox not emptied: %+v", st.Pending)
			}
		})
	}
}

// TestCanariesNeverSent plants private data in counter names and attribute
// values and checks no request body and no state file carries it.
func TestCanariesNeverSent(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	clk := newClock(t0)
	opts := []Option{WithHost(srv.URL), WithClock(clk.Now), WithGrace(5 * time.Second)}
	// Canaries planted in counter names: what a name can carry that must
	// not leave. A plain word (a host or user name) cannot be told from a
	// feature name, so those are planted as attributes only.
	inNames := []string{"/home/canary-user/secret.txt", "canary@example.com", "https://canary.example.com/x", "10.11.12.13", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "ghp_canary0123456789abcdefABCDEF"}
	canaries := append([]string{"canaryhost", "canary-user-name"}, inNames...)
	if hostname, _ := os.Hostname(); len(hostname) >= 4 && hostname != "localhost" {
		canaries = append(canaries, hostname)
	}
	record := func() {
		p := start(t, opts...)
		for _, c := range inNames {
			p.add(t, "feature."+c+".count", 1)
			p.add(t, "cli."+strings.ReplaceAll(c, ".", "_")+".count", 1)
			p.add(t, c, 1)
		}
		for _, c := range canaries {
			p.add(t, "cli.version.count", 1, attribute.String("user", c), attribute.String(c, "v"))
			p.add(t, "feature.ok.count", 1, attribute.String("path", c))
		}
		p.stop(t)
	}
	record()
	clk.Set(t0.Add(25 * time.Hour))
	record()
	// The first run's Heartbeat and the next day's.
	if n := len(srv.Named(EventHeartbeat)); n != 2 {
		t.Fatalf("%d Heartbeats to inspect, want 2", n)
	}
	state, _ := os.ReadFile(path)
	for _, body := range append(srv.Bodies(), state) {
		for _, c := range canaries {
			if bytes.Contains(bytes.ToLower(body), bytes.ToLower([]byte(c))) {
				t.Errorf("canary %q leaked in %s", c, body)
			}
		}
	}
}

func TestShutdownBoundedAndSilentWhenHostHangs(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	srv.SetMode(posthogtest.Hang)
	defer srv.Close()

	stderr := captureStderr(t)
	grace := 200 * time.Millisecond
	p := start(t, WithHost(srv.URL), WithGrace(grace))
	p.add(t, "cli.version.count", 1)
	begin := time.Now()
	p.stop(t)
	took := time.Since(begin)
	if took > grace+150*time.Millisecond {
		t.Errorf("Shutdown took %v with a grace of %v", took, grace)
	}
	if out := stderr(); out != "" {
		t.Errorf("printed on stderr: %q", out)
	}
	if len(handled) != 0 {
		t.Errorf("errors reached the OTel error handler: %v", handled)
	}
}

func TestShutdownHonoursContext(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	srv.SetMode(posthogtest.Hang)
	defer srv.Close()
	p := start(t, WithHost(srv.URL), WithGrace(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_ = p.mp.Shutdown(ctx)
	if took := time.Since(begin); took > time.Second {
		t.Errorf("Shutdown took %v with a 100ms context", took)
	}
}

// captureStderr redirects os.Stderr until the returned function is called,
// which returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	restore := func() string {
		os.Stderr = old
		w.Close()
		return <-done
	}
	t.Cleanup(func() {
		if os.Stderr == w {
			restore()
		}
	})
	return restore
}

func TestDebugModePrintsAndSendsNothing(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	var buf syncBuffer
	runOnce(t, map[string]int64{"cli.version.count": 1}, WithHost(srv.URL), WithDebugWriter(&buf), WithGrace(5*time.Second))
	if srv.Requests() != 0 {
		t.Errorf("debug mode sent %d requests", srv.Requests())
	}
	// The First run, and the first Heartbeat queued at the run's end.
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// The decision line first, then the First run and the first Heartbeat
	// queued at the run's end.
	if want := `{"telemetry":"decision","enabled":true,"source":"default","reason":"on by default"}`; len(lines) == 0 || lines[0] != want {
		t.Fatalf("first debug line %q, want the decision %s", lines, want)
	}
	lines = lines[1:]
	st := load(t, filepath.Join(cfgHome, "idun", "config.yaml"))
	if len(lines) != 2 || len(st.Pending) != 2 {
		t.Fatalf("debug printed %d lines for %d queued events: %q", len(lines), len(st.Pending), buf.String())
	}
	for i, want := range []string{EventFirstRun, EventHeartbeat} {
		var ev map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if ev["event"] != want || ev["distinct_id"] != st.UserID || ev["uuid"] != st.Pending[i].UUID {
			t.Errorf("debug line %v does not match the outbox %+v", ev, st.Pending[i])
		}
	}
}

func TestDebugEnvWritesStderr(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	t.Setenv(EnvDebug, "1")
	stderr := captureStderr(t)
	runOnce(t, nil, WithHost(srv.URL), WithGrace(5*time.Second))
	out := stderr()
	if !strings.Contains(out, `"event":"First run"`) || srv.Requests() != 0 {
		t.Errorf("stderr %q, requests %d", out, srv.Requests())
	}
}

func TestFutureHeartbeatTimeDoesNotSilence(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncreated_at: 2026-01-01T00:00:00Z\nlast_heartbeat_at: 2036-01-01T00:00:00Z\ncounters:\n  cli.version.count: 2\n"), 0o600)
	clk := newClock(t0)
	opts := []Option{WithHost(srv.URL), WithClock(clk.Now), WithGrace(5 * time.Second)}
	runOnce(t, nil, opts...)
	if st := load(t, path); st.LastHeartbeatAt == nil || !st.LastHeartbeatAt.Equal(t0) {
		t.Fatalf("future last_heartbeat_at not repaired: %v", st.LastHeartbeatAt)
	}
	clk.Set(t0.Add(24 * time.Hour))
	runOnce(t, nil, opts...)
	if n := len(srv.Named(EventHeartbeat)); n != 1 {
		t.Errorf("%d Heartbeats a day after the repair, want 1", n)
	}
}

func TestDueHeartbeatSentAtStart(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncreated_at: 2026-11-01T00:00:00Z\ncounters:\n  cli.version.count: 2\n"), 0o600)
	p := start(t, WithHost(srv.URL), WithClock(newClock(t0).Now), WithGrace(5*time.Second))
	// Sent in the background while the host runs, before any export.
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Named(EventHeartbeat)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.stop(t)
	hb := srv.Named(EventHeartbeat)
	if len(hb) != 1 || hb[0].Properties["cli.version.count"] != float64(2) {
		t.Fatalf("Heartbeats: %+v", hb)
	}
}

func TestNothingDueStartsNoGoroutineAndWritesNothing(t *testing.T) {
	cfgHome := isolate(t)
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	content := "user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncreated_at: 2026-11-24T00:00:00Z\nlast_heartbeat_at: null\npending: []\nsent: []\n"
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte(content), 0o600)
	before := goleak.IgnoreCurrent()
	exp, _ := New(WithHost("http://127.0.0.1:1"), WithClock(newClock(t0).Now))
	if err := goleak.Find(before); err != nil {
		t.Errorf("New started a goroutine: %v", err)
	}
	if !exp.Enabled() {
		t.Fatal("not enabled")
	}
	if exists(path + ".lock") {
		t.Error("New took the lock with nothing to do")
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Error("New rewrote the file")
	}
	_ = exp.Shutdown(context.Background())
}

func TestExportKeepsOnlyCounters(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	established(t, filepath.Join(cfgHome, "idun", "config.yaml"), time.Now())
	p := start(t, WithHost(srv.URL), WithGrace(5*time.Second))
	ctx := context.Background()
	h, _ := p.m.Int64Histogram("feature.hist.count")
	h.Record(ctx, 5)
	ud, _ := p.m.Int64UpDownCounter("feature.updown.count")
	ud.Add(ctx, 5)
	fc, _ := p.m.Float64Counter("feature.float.count")
	fc.Add(ctx, 5)
	p.add(t, "http.server.requests", 3)
	p.add(t, "feature.ok.count", 2, attribute.String("a", "1"))
	p.add(t, "feature.ok.count", 3, attribute.String("a", "2"))
	p.add(t, "Feature.Upper.Count", 1)
	p.stop(t)
	st := load(t, filepath.Join(cfgHome, "idun", "config.yaml"))
	want := map[string]int64{"feature.ok.count": 5, "feature.upper.count": 1}
	if len(st.Counters) != len(want) {
		t.Errorf("counters = %v, want %v", st.Counters, want)
	}
	for k, v := range want {
		if st.Counters[k] != v {
			t.Errorf("%s = %d, want %d", k, st.Counters[k], v)
		}
	}
}

func TestUnusableFileMidRunTurnsOff(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	p := start(t, WithHost(srv.URL), WithGrace(5*time.Second))
	_ = p.exp.ForceFlush(context.Background())
	garbage := []byte("telemetry_enabled: false\n\x00}}}")
	os.WriteFile(path, garbage, 0o600)
	p.add(t, "cli.version.count", 1)
	p.stop(t)
	if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
		t.Errorf("unusable file overwritten: %q", b)
	}
	if p.exp.Enabled() || p.exp.Decision().Source != SourceConfigInvalid {
		t.Errorf("decision after an unusable file: %+v", p.exp.Decision())
	}
}

func TestUserDisablesMidRun(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	p := start(t, WithHost(srv.URL), WithGrace(5*time.Second))
	_ = p.exp.ForceFlush(context.Background())
	if err := state.New(path).Update(context.Background(), func(st *state.State) error { st.SetEnabled(false); return nil }); err != nil {
		t.Fatal(err)
	}
	p.add(t, "cli.version.count", 1)
	p.stop(t)
	if st := load(t, path); len(st.Counters) != 0 {
		t.Errorf("counted after the user opted out: %v", st.Counters)
	}
}

func TestShutdownTwiceAndExportAfter(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	exp, _ := New(WithHost(srv.URL), WithGrace(5*time.Second))
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestNewReaderInterval(t *testing.T) {
	isolate(t)
	t.Setenv(EnvEnabled, "false")
	exp, _ := New()
	if _, ok := NewReader(exp).(*sdkmetric.ManualReader); !ok {
		t.Error("disabled exporter got a reader with a goroutine")
	}
	if _, ok := NewReader(nil).(*sdkmetric.ManualReader); !ok {
		t.Error("nil exporter got a PeriodicReader")
	}
}

// syncBuffer is a bytes.Buffer safe for the flush goroutine and the test.
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

func TestRelativeConfigPathIsOff(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	t.Chdir(dir)
	exp := runOnce(t, map[string]int64{"cli.x.count": 1}, WithConfigPath(filepath.Join("rel", "config.yaml")), WithHost("http://127.0.0.1:1"))
	if exp.Enabled() || exp.Decision().Source != SourceConfigInvalid {
		t.Errorf("decision %+v", exp.Decision())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("created %v in the working folder", entries)
	}
}
