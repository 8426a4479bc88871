package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"
	"go.uber.org/goleak"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// TestMain fails the package if a run leaves a goroutine behind: the CLI
// exits right after run returns, and telemetry must be done by then.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// home gives the test a fresh HOME and XDG_CONFIG_HOME, clears the telemetry
// variables, points telemetry at a loopback PostHog stand-in and returns it
// with the state file's path. Telemetry is off by default in a go test
// binary such as this one: home turns it on with IDUN_TELEMETRY_ENABLED=true,
// which env may clear ("IDUN_TELEMETRY_ENABLED="). What a user's setting in
// the file does when nothing outranks it is tested by examples/e2e, on
// programs built with go build.
func home(t *testing.T, env ...string) (sink *posthogtest.Server, path, dir string) {
	t.Helper()
	// Registered first so that it runs last, once t.Setenv restored the
	// environment: xdg reads it only when told to.
	t.Cleanup(xdg.Reload)
	dir = t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for _, k := range []string{exporter.EnvDoNotTrack, exporter.EnvOTelDisabled, exporter.EnvDebug} {
		t.Setenv(k, "")
	}
	t.Setenv(exporter.EnvEnabled, "true")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	sink = posthogtest.NewServer()
	t.Cleanup(sink.Close)
	t.Setenv(exporter.EnvHost, sink.URL)
	xdg.Reload()
	path = filepath.Join(dir, "config", "idun", "config.yaml")
	if r, _ := exporter.Status(telemetryOptions(io.Discard)...); r.ConfigPath != path {
		t.Fatalf("the CLI's state file is %q, want %q", r.ConfigPath, path)
	}
	return sink, path, dir
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// onByEnv is what status says with IDUN_TELEMETRY_ENABLED=true.
const onByEnv = "IDUN_TELEMETRY_ENABLED enables telemetry"

// delivered sums, by counter, the Heartbeats the sink got (one per uuid, as
// PostHog counts them).
func delivered(sink *posthogtest.Server) map[string]int64 {
	got := map[string]int64{}
	for _, ev := range sink.Unique() {
		if ev.Event != "Heartbeat" {
			continue
		}
		for k, v := range ev.Properties {
			if f, ok := v.(float64); ok && strings.HasSuffix(k, ".count") {
				got[k] += int64(f)
			}
		}
	}
	return got
}

func load(t *testing.T, path string) *state.State {
	t.Helper()
	s := state.New(path)
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Counters: every count not yet sent, the journal's included.
	if st.Counters, err = s.Counts(); err != nil {
		t.Fatal(err)
	}
	return st
}

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

func TestExitCodesAndOutput(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string // prefix of stdout
		stderr     string // substring of stderr
		createsDir bool   // the command starts telemetry
	}{
		{args: []string{"version"}, stdout: "idun 0.1.0\n", createsDir: true},
		{args: []string{"run", "hello", "you"}, stdout: "agent: read 9 characters\n", createsDir: true},
		{args: []string{"help"}, stdout: "Usage: idun <command>", createsDir: true},
		{args: []string{"help", "telemetry", "reset"}, stdout: "Usage: idun telemetry reset", createsDir: true},
		{args: []string{"-h"}, stdout: "Usage: idun <command>"},
		{args: []string{"--help"}, stdout: "Usage: idun <command>"},
		{args: []string{"version", "-h"}, stdout: "Usage: idun version"},
		{args: []string{"telemetry", "-h"}, stdout: "Usage: idun telemetry <command>"},
		{args: []string{"telemetry", "status", "--help"}, stdout: "Usage: idun telemetry status"},
		{args: []string{"telemetry", "status"}, stdout: "Telemetry:       on (" + onByEnv + ")"},

		{args: nil, code: 2, stderr: "idun: no command given\n\nUsage: idun <command>"},
		{args: []string{"bogus"}, code: 2, stderr: "idun: unknown command \"bogus\"\n\nUsage: idun <command>"},
		{args: []string{"--bogus"}, code: 2, stderr: "flag provided but not defined: -bogus"},
		{args: []string{"version", "now"}, code: 2, stderr: "unexpected argument \"now\"\n\nUsage: idun version"},
		{args: []string{"run", "--fast"}, code: 2, stderr: "Usage: idun run"},
		{args: []string{"help", "bogus"}, code: 2, stderr: "no help for \"bogus\""},
		{args: []string{"telemetry"}, code: 2, stderr: "no telemetry command given\n\nUsage: idun telemetry <command>"},
		{args: []string{"telemetry", "bogus"}, code: 2, stderr: "unknown telemetry command \"bogus\""},
		{args: []string{"telemetry", "status", "--yaml"}, code: 2, stderr: "Usage: idun telemetry status"},
		{args: []string{"telemetry", "reset", "now"}, code: 2, stderr: "Usage: idun telemetry reset"},
	} {
		name := strings.Join(tc.args, " ")
		if name == "" {
			name = "no arguments"
		}
		t.Run(name, func(t *testing.T) {
			sink, _, dir := home(t)
			code, stdout, stderr := runCLI(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.HasPrefix(stdout, tc.stdout) || (tc.code != 0 && stdout != "") {
				t.Errorf("stdout %q, want it to start with %q", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) || (tc.code == 0 && stderr != "") {
				t.Errorf("stderr %q, want it to hold %q", stderr, tc.stderr)
			}
			if got := entries(t, dir); (len(got) > 0) != tc.createsDir {
				t.Errorf("HOME holds %q; want something: %v", got, tc.createsDir)
			}
			if !tc.createsDir && sink.Requests() != 0 {
				t.Errorf("%d requests sent", sink.Requests())
			}
		})
	}
}

func TestCountedCommands(t *testing.T) {
	sink, path, _ := home(t)
	for _, args := range [][]string{{"version"}, {"version"}, {"run"}, {"help"}, {"telemetry", "status"}} {
		if code, _, stderr := runCLI(args...); code != 0 || stderr != "" {
			t.Fatalf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
	// The first run's count went in the installation's first Heartbeat, at
	// its end; the others wait in the file (or, when this test runs in CI,
	// went at each run's end too).
	want := map[string]int64{"cli.version.count": 2, "cli.run.count": 1, "cli.help.count": 1}
	st := load(t, path)
	sent := delivered(sink)
	if sent["cli.version.count"] < 1 {
		t.Errorf("delivered %v, want the first run's cli.version.count", sent)
	}
	for k, n := range want {
		if got := sent[k] + st.Counters[k]; got != n {
			t.Errorf("%s: %d delivered + %d left, want %d", k, sent[k], st.Counters[k], n)
		}
	}
	for k := range st.Counters {
		if want[k] == 0 {
			t.Errorf("counted %s", k)
		}
	}
	// PostHog drops duplicates by uuid: a send cut off at exit may be
	// repeated by the next run.
	first := map[string]bool{}
	for _, ev := range sink.Named("First run") {
		first[ev.UUID] = true
	}
	if len(first) != 1 {
		t.Errorf("%d distinct First run events, want 1", len(first))
	}
}

// statusJSON runs "telemetry status --json" and decodes it.
func statusJSON(t *testing.T) map[string]any {
	t.Helper()
	code, stdout, stderr := runCLI("telemetry", "status", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("status --json: exit %d, stderr %q", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	return m
}

func TestStatusJSON(t *testing.T) {
	_, path, dir := home(t)

	fresh := statusJSON(t)
	want := map[string]any{
		"enabled": true, "source": "IDUN_TELEMETRY_ENABLED", "reason": onByEnv, "config_path": path,
		"config_state": "missing", "telemetry_enabled": nil, "user_id": nil, "created_at": nil,
		"counters": map[string]any{}, "last_heartbeat_at": nil, "pending": []any{}, "sent": []any{},
		"delivery": map[string]any{},
	}
	if len(fresh) != len(want) {
		t.Errorf("status --json has %d keys, want %d: %v", len(fresh), len(want), fresh)
	}
	for k, v := range want {
		if got, _ := json.Marshal(fresh[k]); string(got) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	if got := entries(t, dir); len(got) > 0 {
		t.Fatalf("status created %q", got)
	}

	// status shows what the file holds.
	runCLI("version")
	if err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.Counters = map[string]int64{"cli.version.count": 4}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := load(t, path)
	got := statusJSON(t)
	if got["config_state"] != "present" || got["user_id"] != st.UserID || got["last_heartbeat_at"] == nil {
		t.Errorf("config_state %v, user_id %v, last_heartbeat_at %v; want present, %s, a time", got["config_state"], got["user_id"], got["last_heartbeat_at"], st.UserID)
	}
	if c, _ := got["counters"].(map[string]any); c["cli.version.count"] != float64(4) || len(c) != 1 {
		t.Errorf("counters %v", got["counters"])
	}
	// The First run and the first Heartbeat are each either still queued
	// or already acknowledged.
	pending, _ := got["pending"].([]any)
	sent, _ := got["sent"].([]any)
	if len(pending)+len(sent) != 2 {
		t.Errorf("pending %v, sent %v: want the First run and the Heartbeat in them", pending, sent)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatusUnderEnvOptOutReadsNothing(t *testing.T) {
	for _, env := range []string{"DO_NOT_TRACK=1", "IDUN_TELEMETRY_ENABLED=0", "OTEL_SDK_DISABLED=true"} {
		t.Run(env, func(t *testing.T) {
			_, path, _ := home(t, "IDUN_TELEMETRY_ENABLED=", env)
			// Even an unusable file is not read: the environment decides.
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("{not yaml"), 0o600); err != nil {
				t.Fatal(err)
			}
			got := statusJSON(t)
			source, _, _ := strings.Cut(env, "=")
			if got["enabled"] != false || got["source"] != source || got["config_state"] != "not-read" || got["config_path"] != path {
				t.Errorf("status %v; want off by %s, not read", got, source)
			}
			code, stdout, _ := runCLI("telemetry", "status")
			if code != 0 || !strings.Contains(stdout, "(not read: the environment turns telemetry off)") {
				t.Errorf("status text: %q", stdout)
			}
			if got := entries(t, filepath.Dir(path)); len(got) != 1 {
				t.Errorf("the folder holds %q; want only the file", got)
			}
		})
	}
}

// disable and enable write the user's setting; here IDUN_TELEMETRY_ENABLED
// outranks it, and disable says so. That a disabled run then counts and
// sends nothing is tested by examples/e2e (TestTelemetryCommands), on the
// CLI built with go build, where nothing outranks the file.
func TestDisableEnable(t *testing.T) {
	sink, path, _ := home(t)

	code, stdout, stderr := runCLI("telemetry", "disable")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "telemetry_enabled: false saved in "+path) ||
		!strings.Contains(stdout, "Note: telemetry stays on for now: "+onByEnv+".") {
		t.Fatalf("disable: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	st := load(t, path)
	if on, set := st.Enabled(); on || !set || st.UserID != "" {
		t.Fatalf("after disable: enabled %v set %v, user_id %q", on, set, st.UserID)
	}
	if got := statusJSON(t); got["enabled"] != true || got["source"] != "IDUN_TELEMETRY_ENABLED" || got["telemetry_enabled"] != false {
		t.Errorf("status after disable: %v", got)
	}
	if sink.Requests() != 0 {
		t.Errorf("disable and status sent %d requests", sink.Requests())
	}

	code, stdout, stderr = runCLI("telemetry", "enable")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "telemetry_enabled: true saved in "+path) || strings.Contains(stdout, "Note") {
		t.Fatalf("enable: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if st := load(t, path); st.UserID != "" {
		t.Errorf("enable created user_id %q", st.UserID)
	}
	runCLI("version")
	if st := load(t, path); st.Counters["cli.version.count"]+delivered(sink)["cli.version.count"] != 1 || st.UserID == "" {
		t.Errorf("an enabled run: counters %v, delivered %v, user_id %q", st.Counters, delivered(sink), st.UserID)
	}
}

// The environment outranks the file, and enable says so.
func TestEnableUnderEnvOptOut(t *testing.T) {
	_, path, _ := home(t, "IDUN_TELEMETRY_ENABLED=", "DO_NOT_TRACK=1")
	code, stdout, stderr := runCLI("telemetry", "enable")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "Note: telemetry stays off for now: DO_NOT_TRACK is set.") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if on, set := load(t, path).Enabled(); !on || !set {
		t.Errorf("telemetry_enabled not saved as true")
	}
}

func TestReset(t *testing.T) {
	_, path, dir := home(t)

	code, stdout, stderr := runCLI("telemetry", "reset")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "Nothing to reset") {
		t.Errorf("reset without a file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := entries(t, dir); len(got) > 0 {
		t.Fatalf("reset without a file created %q", got)
	}

	runCLI("version")
	// Counts not sent yet, whatever the cadence.
	if err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.Counters = map[string]int64{"cli.version.count": 2}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	runCLI("telemetry", "disable")
	old := load(t, path)
	if old.UserID == "" || len(old.Counters) == 0 {
		t.Fatalf("setup: %+v", old)
	}
	code, stdout, stderr = runCLI("telemetry", "reset")
	st := load(t, path)
	if code != 0 || stderr != "" || !strings.Contains(stdout, "new user_id "+st.UserID) {
		t.Errorf("reset: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if st.UserID == "" || st.UserID == old.UserID || !st.CreatedAt.After(old.CreatedAt) {
		t.Errorf("user_id %q (created %v), was %q (created %v)", st.UserID, st.CreatedAt, old.UserID, old.CreatedAt)
	}
	if len(st.Counters) != 0 || st.LastHeartbeatAt != nil || len(st.Pending) != 0 || len(st.Sent) != 0 {
		t.Errorf("reset kept data: %+v", st)
	}
	if on, set := st.Enabled(); on || !set {
		t.Errorf("reset changed the user's telemetry_enabled: false")
	}
}

// An unusable state file may hold the user's opt-out: nothing overwrites it.
func TestUnusableStateFile(t *testing.T) {
	_, path, _ := home(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("telemetry_enabled: [oops\n")
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"enable", "disable", "reset"} {
		code, stdout, stderr := runCLI("telemetry", sub)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "idun: telemetry "+sub+": state file "+path+" unusable") ||
			!strings.Contains(stderr, "was left as it is") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", sub, code, stdout, stderr)
		}
	}
	got := statusJSON(t)
	if got["enabled"] != false || got["source"] != string(exporter.SourceConfigInvalid) || got["config_state"] != "unusable" {
		t.Errorf("status: %v", got)
	}
	if code, stdout, stderr := runCLI("version"); code != 0 || stdout != "idun 0.1.0\n" || stderr != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, garbage) {
		t.Errorf("the file changed: %q, %v", b, err)
	}
}

func TestStatusText(t *testing.T) {
	_, path, _ := home(t)
	runCLI("version")
	if err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.Counters = map[string]int64{"cli.version.count": 1}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := load(t, path)
	code, stdout, stderr := runCLI("telemetry", "status")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"Telemetry:       on (" + onByEnv + ")\n",
		"Decided by:      IDUN_TELEMETRY_ENABLED\n",
		"State file:      " + path + "\n",
		"User ID:         " + st.UserID + "\n",
		"Counters:        cli.version.count=1\n",
		"Last heartbeat:  " + st.LastHeartbeatAt.UTC().Format(time.RFC3339) + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
}

// A host's own go test, which this test binary is, gets no telemetry unless
// it asks: no file, no request.
func TestGoTestIsOffByDefault(t *testing.T) {
	sink, _, dir := home(t, "IDUN_TELEMETRY_ENABLED=")
	if code, stdout, stderr := runCLI("version"); code != 0 || stdout != "idun 0.1.0\n" || stderr != "" {
		t.Fatalf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("HOME holds %q", got)
	}
	if n := sink.Requests(); n != 0 {
		t.Errorf("%d requests", n)
	}
	if got := statusJSON(t); got["enabled"] != false || got["source"] != string(exporter.SourceGoTest) {
		t.Errorf("status: %v", got)
	}
}
