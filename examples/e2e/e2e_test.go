package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

const versionLine = "idun 0.1.0\n"

// A new installation gets a user_id and sends one First run, however many
// times it runs; its first run's counts go in its first Heartbeat, at that
// run's end, and the next runs' add up in the state file.
func TestFirstRun(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)

	s.ok(s.cli("version"), versionLine)
	id, err := uuid.Parse(s.load().UserID)
	if err != nil || id.Version() != 4 {
		t.Fatalf("user_id %q is not a random UUID: %v", s.load().UserID, err)
	}
	s.ok(s.cli("version"), versionLine)

	// The first run sends in the background and its exit waits for the send
	// up to the grace; an event cut off there goes out with the next run.
	// PostHog deduplicates by uuid, so that is what counts.
	first := uniqueNamed(s.sink, "First run")
	if len(first) != 1 {
		t.Fatalf("%d distinct First run events after two runs, want 1: %+v", len(first), s.sink.Events())
	}
	st := s.load()
	if first[0].DistinctID != st.UserID {
		t.Errorf("First run distinct_id %q, want the user_id %q", first[0].DistinctID, st.UserID)
	}
	if got := first[0].Properties["libraries.idun"]; got != "0.1.0" {
		t.Errorf("libraries.idun = %v, want 0.1.0", got)
	}
	if n, sent := st.Counters["cli.version.count"], delivered(s.sink)["cli.version.count"]; n != 1 || sent != 1 {
		t.Errorf("cli.version.count: %d left, %d delivered; want 1 and 1 (counters %v)", n, sent, st.Counters)
	}
	if rej := s.sink.Rejected(); len(rej) > 0 {
		t.Errorf("the sink rejected requests: %q", rej)
	}

	// status shows the last acknowledged event of each name exactly as it
	// was sent.
	sent := s.status().Sent
	if len(sent) != 2 || sent[0].UUID != first[0].UUID || sent[0].Event != "First run" || sent[1].Event != "Heartbeat" {
		t.Errorf("status sent = %+v, want the First run %s and the Heartbeat", sent, first[0].UUID)
	}
}

// The first run's counts go at its end; a day after that Heartbeat, the next
// run sends the counts kept since as one Heartbeat and starts counting
// afresh.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.ok(s.cli("version"), versionLine)
	s.ok(s.cli("run"), "")
	if beats := uniqueNamed(s.sink, "Heartbeat"); len(beats) != 1 || beats[0].Properties["cli.version.count"] != float64(1) {
		t.Fatalf("Heartbeats after two runs %+v, want the first run's", beats)
	}
	// Age the installation instead of waiting a day.
	err := state.New(s.statePath()).Update(context.Background(), func(st *state.State) error {
		st.CreatedAt = st.CreatedAt.Add(-25 * time.Hour)
		past := st.LastHeartbeatAt.Add(-25 * time.Hour)
		st.LastHeartbeatAt = &past
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ok(s.cli("version"), versionLine)

	beats := uniqueNamed(s.sink, "Heartbeat")
	if len(beats) != 2 {
		t.Fatalf("%d Heartbeats, want 2: %+v", len(beats), s.sink.Events())
	}
	props := beats[1].Properties
	if props["cli.run.count"] != float64(1) || props["cli.version.count"] != nil {
		t.Errorf("Heartbeat properties %v, want cli.run.count 1 alone", props)
	}
	st := s.load()
	if beats[1].DistinctID != st.UserID || st.LastHeartbeatAt == nil {
		t.Errorf("distinct_id %q, user_id %q, last_heartbeat_at %v", beats[1].DistinctID, st.UserID, st.LastHeartbeatAt)
	}
	// The run that sent the Heartbeat counts into the next one.
	if len(st.Counters) != 1 || st.Counters["cli.version.count"] != 1 {
		t.Errorf("counters %v, want cli.version.count 1", st.Counters)
	}
	if rej := s.sink.Rejected(); len(rej) > 0 {
		t.Errorf("the sink rejected requests: %q", rej)
	}
}

// An environment opt-out touches neither the disk nor the network, and
// status still says why telemetry is off and where the file would be.
func TestOptOutCreatesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ env, source string }{
		{"IDUN_TELEMETRY_ENABLED=false", "IDUN_TELEMETRY_ENABLED"},
		{"IDUN_TELEMETRY_ENABLED=flase", "IDUN_TELEMETRY_ENABLED"},
		{"DO_NOT_TRACK=1", "DO_NOT_TRACK"},
		{"OTEL_SDK_DISABLED=true", "OTEL_SDK_DISABLED"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t, tc.env)
			s.ok(s.cli("version"), versionLine)
			s.ok(s.cli("run", "hello"), "agent: read 5 characters\n")
			st := s.status()
			if st.Enabled || st.Source != tc.source || st.Reason == "" {
				t.Errorf("status: enabled %v, source %q, reason %q; want off by %s", st.Enabled, st.Source, st.Reason, tc.source)
			}
			if found := s.homeEntries(); len(found) > 0 {
				t.Errorf("opt-out created %q", found)
			}
			if n := s.sink.Requests(); n != 0 {
				t.Errorf("opt-out sent %d requests", n)
			}
		})
	}
}

// The server counts its workflow once and each invocation, answers its
// routes, and exits 0 soon after SIGTERM.
func TestServer(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM cannot be sent on Windows")
	}
	s := newSandbox(t)
	p := s.startServer("--addr", "127.0.0.1:0")
	addr := p.listening()
	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	resp, body := do(t, client, http.MethodGet, base+"/healthz", "")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("GET /healthz: %d %q", resp.StatusCode, body)
	}
	for range 2 {
		resp, body := do(t, client, http.MethodPost, base+"/invoke", `{"input": "hello"}`)
		var out struct{ Output string }
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal([]byte(body), &out) != nil || out.Output == "" {
			t.Errorf("POST /invoke: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, _ := do(t, client, http.MethodGet, base+"/invoke", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /invoke: %d, want 405", resp.StatusCode)
	}

	r := p.stop(syscall.SIGTERM)
	if r.code != 0 || r.stderr != "" || r.stdout != "listening on "+addr+"\n" || r.took > 2*time.Second {
		t.Errorf("after SIGTERM: want exit 0 within 2s, only the listening line, empty stderr; got %v", r)
	}
	t.Logf("shutdown took %v", r.took)
	// A new installation's first run: its counts went at its end, nothing
	// is left in a file that may die with the container.
	counters, sent := s.load().Counters, delivered(s.sink)
	if len(counters) != 0 || sent["workflow.langgraph.count"] != 1 || sent["feature.invoke.count"] != 2 {
		t.Errorf("counters %v left, %v delivered; want none left, workflow.langgraph.count 1 and feature.invoke.count 2 delivered", counters, sent)
	}
}

// A telemetry host that never answers does not hold the server's shutdown:
// the First run in flight and the Heartbeat queued at the end stay in the
// outbox for the next run.
func TestServerShutdownWithHangingHost(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM cannot be sent on Windows")
	}
	s := newSandbox(t)
	s.sink.SetMode(posthogtest.Hang)
	p := s.startServer("--addr", "127.0.0.1:0", "--framework", "adk")
	p.listening()
	// A fresh state file queues a First run: wait until its send hangs.
	waitFor(t, 5*time.Second, "the First run to be in flight", func() bool { return s.sink.Requests() > 0 })

	r := p.stop(syscall.SIGTERM)
	if r.code != 0 || r.stderr != "" || r.took > 1500*time.Millisecond {
		t.Errorf("after SIGTERM: want exit 0 within 1.5s and empty stderr; got %v", r)
	}
	t.Logf("shutdown took %v", r.took)
	st := s.load()
	if len(st.Pending) != 2 || st.Pending[0].Event != "First run" || st.Pending[1].Event != "Heartbeat" || len(st.Sent) != 0 {
		t.Errorf("pending %+v, sent %+v: want the unacknowledged First run and Heartbeat still queued", st.Pending, st.Sent)
	}
	if n := st.Pending[len(st.Pending)-1].Properties["workflow.adk.count"]; len(st.Counters) != 0 || n != 1 {
		t.Errorf("counters %v, queued workflow.adk.count %v; want the count queued", st.Counters, n)
	}
}

// A CLI command does not wait on a telemetry host that never answers
// either: its exit gives the send the grace, then leaves the event queued.
func TestCLIExitWithHangingHost(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.sink.SetMode(posthogtest.Hang)
	r := s.cli("version")
	s.ok(r, versionLine)
	if r.took > time.Second {
		t.Errorf("cli version took %v with a hanging host, want under 1s", r.took)
	}
	t.Logf("cli version took %v", r.took)
	if st := s.load(); len(st.Pending) != 2 || st.Pending[0].Event != "First run" || st.Pending[1].Event != "Heartbeat" {
		t.Errorf("pending %+v, want the First run and the Heartbeat still queued", st.Pending)
	}
}

// The telemetry commands, as a user runs them.
func TestTelemetryCommands(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)

	// disable creates no identity, and a run then sends and counts nothing.
	s.ok(s.cli("telemetry", "disable"), "")
	if st := s.load(); st.UserID != "" || st.TelemetryEnabled == nil || *st.TelemetryEnabled {
		t.Fatalf("after disable: user_id %q, telemetry_enabled %v", st.UserID, st.TelemetryEnabled)
	}
	if st := s.status(); st.Enabled || st.Source != "config" {
		t.Errorf("status after disable: enabled %v, source %q; want off by config", st.Enabled, st.Source)
	}
	s.ok(s.cli("version"), versionLine)
	if st := s.load(); st.UserID != "" || len(st.Counters) != 0 || len(st.Pending) != 0 {
		t.Errorf("a disabled run changed the state: user_id %q, counters %v, pending %d", st.UserID, st.Counters, len(st.Pending))
	}
	if n := s.sink.Requests(); n != 0 {
		t.Errorf("a disabled run sent %d requests", n)
	}

	// enable creates no identity either; the next run does, and counts.
	s.ok(s.cli("telemetry", "enable"), "")
	if st := s.load(); st.UserID != "" || st.TelemetryEnabled == nil || !*st.TelemetryEnabled {
		t.Fatalf("after enable: user_id %q, telemetry_enabled %v", st.UserID, st.TelemetryEnabled)
	}
	if st := s.status(); !st.Enabled || st.Source != "config" {
		t.Errorf("status after enable: enabled %v, source %q; want on by config", st.Enabled, st.Source)
	}
	s.ok(s.cli("version"), versionLine)
	s.ok(s.cli("version"), versionLine) // the first run's count went at its end
	before := s.load()
	if before.UserID == "" || before.Counters["cli.version.count"] != 1 {
		t.Fatalf("after two enabled runs: user_id %q, counters %v", before.UserID, before.Counters)
	}

	// reset: a new identity and nothing left of the old one.
	r := s.cli("telemetry", "reset")
	s.ok(r, "")
	after := s.load()
	if after.UserID == "" || after.UserID == before.UserID || !strings.Contains(r.stdout, after.UserID) {
		t.Errorf("reset: user_id %q -> %q, output %q", before.UserID, after.UserID, r.stdout)
	}
	if len(after.Counters) != 0 || after.LastHeartbeatAt != nil || len(after.Pending) != 0 || len(after.Sent) != 0 {
		t.Errorf("reset left counters %v, last_heartbeat_at %v, pending %d, sent %d",
			after.Counters, after.LastHeartbeatAt, len(after.Pending), len(after.Sent))
	}
	if after.TelemetryEnabled == nil || !*after.TelemetryEnabled {
		t.Errorf("reset changed telemetry_enabled to %v", after.TelemetryEnabled)
	}
	if st := s.status(); st.UserID == nil || *st.UserID != after.UserID || len(st.Counters) != 0 {
		t.Errorf("status after reset: user_id %v, counters %v", st.UserID, st.Counters)
	}
}

// A usage error prints the usage on stderr, nothing on stdout, exits 2 and
// starts no telemetry.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bin  *string
		args []string
	}{
		{"unknown command", &cliBin, []string{"bogus"}},
		{"no command", &cliBin, nil},
		{"unknown flag", &cliBin, []string{"--bogus"}},
		{"unknown command flag", &cliBin, []string{"version", "--bogus"}},
		{"extra argument", &cliBin, []string{"version", "now"}},
		{"unknown telemetry command", &cliBin, []string{"telemetry", "bogus"}},
		{"unknown status flag", &cliBin, []string{"telemetry", "status", "--yaml"}},
		{"server unknown framework", &serverBin, []string{"--framework", "NOPE"}},
		{"server unknown flag", &serverBin, []string{"--port", "80"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			var r result
			if tc.bin == &cliBin {
				r = s.cli(tc.args...)
			} else {
				p := s.startServer(tc.args...)
				<-p.done
				r = result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
			}
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "Usage:") {
				t.Errorf("want exit 2, usage on stderr, empty stdout; got %v", r)
			}
			if found := s.homeEntries(); len(found) > 0 {
				t.Errorf("a usage error created %q", found)
			}
			if n := s.sink.Requests(); n != 0 {
				t.Errorf("a usage error sent %d requests", n)
			}
		})
	}
}

// help goes to stdout and succeeds.
func TestHelp(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "telemetry"}, {"telemetry", "status", "-h"}} {
		r := s.cli(args...)
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage: idun") {
			t.Errorf("%q: want usage on stdout and exit 0; got %v", args, r)
		}
	}
	p := s.startServer("-h")
	<-p.done
	if code, out := p.cmd.ProcessState.ExitCode(), p.stdout.String(); code != 0 || !strings.HasPrefix(out, "Usage: server") || p.stderr.String() != "" {
		t.Errorf("server -h: exit %d, stdout %q, stderr %q", code, out, p.stderr)
	}
}

// Debug mode prints the events on stderr instead of sending them: a new
// installation's First run and, at its end, its first Heartbeat.
func TestDebugMode(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, "IDUN_TELEMETRY_DEBUG=1")
	r := s.cli("version")
	if r.code != 0 || r.stdout != versionLine {
		t.Fatalf("want exit 0 and the version; got %v", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	// The first line is the decision.
	if len(lines) == 0 || lines[0] != `{"telemetry":"decision","enabled":true,"source":"default","reason":"on by default"}` {
		t.Fatalf("stderr %q: want the decision first", r.stderr)
	}
	lines = lines[1:]
	var ev struct {
		Event      string         `json:"event"`
		DistinctID string         `json:"distinct_id"`
		Properties map[string]any `json:"properties"`
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &ev) != nil || ev.Event != "First run" || !strings.Contains(lines[1], `"event":"Heartbeat"`) {
		t.Fatalf("stderr %q: want two JSON lines, the First run and the Heartbeat", r.stderr)
	}
	if ev.DistinctID != s.load().UserID {
		t.Errorf("distinct_id %q, want the user_id %q", ev.DistinctID, s.load().UserID)
	}
	if n := s.sink.Requests(); n != 0 {
		t.Errorf("debug mode sent %d requests", n)
	}
}

func do(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}
