package exporter

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// The due rule, as the README's table of installations states it.
func TestHeartbeatDue(t *testing.T) {
	hour := func(h float64) *time.Time {
		at := t0.Add(-time.Duration(h * float64(time.Hour)))
		return &at
	}
	counts := map[string]int64{"cli.version.count": 1}
	for _, tc := range []struct {
		name     string
		counters map[string]int64
		created  float64    // hours before now
		last     *time.Time // last_heartbeat_at
		soon, ci bool
		want     bool
	}{
		{name: "no counts, never sent, CI", created: 48, soon: true, ci: true, want: false},
		{name: "never sent: due at the first Export with counts", counters: counts, created: 0, soon: true, want: true},
		{name: "never sent, not at Export (New)", counters: counts, created: 1, soon: false, want: false},
		{name: "never sent, a day after creation", counters: counts, created: 24, soon: false, want: true},
		{name: "sent an hour ago", counters: counts, created: 48, last: hour(1), soon: true, want: false},
		{name: "sent an hour ago, CI", counters: counts, created: 48, last: hour(1), soon: true, ci: true, want: true},
		{name: "sent an hour ago, CI, not at Export (New)", counters: counts, created: 48, last: hour(1), ci: true, want: false},
		{name: "sent 23h59 ago", counters: counts, created: 48, last: hour(23 + 59.0/60), want: false},
		{name: "sent 24h ago", counters: counts, created: 48, last: hour(24), want: true},
		{name: "sent in the future (clock moved back)", counters: counts, created: 48, last: hour(-5), soon: true, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &state.State{UserID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", CreatedAt: t0.Add(-time.Duration(tc.created * float64(time.Hour))), LastHeartbeatAt: tc.last, Counters: tc.counters}
			if got := heartbeatDue(st.Brief(), t0, tc.soon, tc.ci); got != tc.want {
				t.Errorf("heartbeatDue = %v, want %v", got, tc.want)
			}
		})
	}
}

// In CI every run's counts go at its end, tagged with the vendor, and
// nothing is left in a file that dies with the job.
func TestCIRunsSendEveryRunsCounts(t *testing.T) {
	cfgHome := isolate(t)
	inCI(t, "GitHub Actions")
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	clk := newClock(t0)
	opts := []Option{WithHost(srv.URL), WithClock(clk.Now), WithGrace(5 * time.Second)}
	for i, cmd := range []string{"cli.build.count", "cli.test.count", "cli.deploy.count"} {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		runOnce(t, map[string]int64{cmd: 1}, opts...)
		if st := load(t, path); len(st.Counters) != 0 || len(st.Pending) != 0 {
			t.Fatalf("after %s: counters %v, %d events queued", cmd, st.Counters, len(st.Pending))
		}
	}
	noRejects(t, srv)
	beats := srv.Named(EventHeartbeat)
	if len(beats) != 3 || len(srv.Named(EventFirstRun)) != 1 {
		t.Fatalf("%d Heartbeats and %d First run, want 3 and 1", len(beats), len(srv.Named(EventFirstRun)))
	}
	for i, cmd := range []string{"cli.build.count", "cli.test.count", "cli.deploy.count"} {
		if beats[i].Properties[cmd] != float64(1) {
			t.Errorf("Heartbeat %d: %v, want %s 1", i, beats[i].Properties, cmd)
		}
	}
	for _, ev := range srv.Events() {
		if ev.Properties["ci"] != true || ev.Properties["ci.vendor"] != "GitHub Actions" {
			t.Errorf("%s: ci %v, ci.vendor %v", ev.Event, ev.Properties["ci"], ev.Properties["ci.vendor"])
		}
	}
}

// Outside CI every event says so: ci false, no vendor.
func TestEventsSayNotCI(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	runOnce(t, map[string]int64{"cli.version.count": 1}, WithHost(srv.URL), WithGrace(5*time.Second))
	evs := srv.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events, want First run and Heartbeat", len(evs))
	}
	for _, ev := range evs {
		v, ok := ev.Properties["ci.vendor"]
		if ev.Properties["ci"] != false || !ok || v != nil {
			t.Errorf("%s: ci %v, ci.vendor %v (present %v); want false and null", ev.Event, ev.Properties["ci"], v, ok)
		}
	}
}

// A process sends at most one Heartbeat before the day is up, however often
// it exports: in CI, the counts of a later Export wait.
func TestOneEarlyHeartbeatPerProcess(t *testing.T) {
	cfgHome := isolate(t)
	inCI(t, "")
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	p := start(t, WithHost(srv.URL), WithClock(newClock(t0).Now), WithGrace(5*time.Second))
	for range 3 {
		p.add(t, "feature.invoke.count", 1)
		if err := p.mp.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	p.add(t, "feature.invoke.count", 1)
	p.stop(t)
	evs := srv.Unique()
	if len(evs) != 2 || len(srv.Named(EventHeartbeat)) != 1 {
		t.Fatalf("%d events (%d Heartbeats), want First run and 1 Heartbeat", len(evs), len(srv.Named(EventHeartbeat)))
	}
	if got := srv.Named(EventHeartbeat)[0].Properties["feature.invoke.count"]; got != float64(1) {
		t.Errorf("the Heartbeat carries %v, want the first Export's 1", got)
	}
	if n := load(t, path).Counters["feature.invoke.count"]; n != 3 {
		t.Errorf("%d counts left, want 3", n)
	}
	if v := srv.Named(EventHeartbeat)[0].Properties["ci.vendor"]; v != nil {
		t.Errorf("a CI of unknown vendor sent ci.vendor %v", v)
	}
}

// New with nothing due reads the file and writes nothing, even with counts
// waiting on an installation that never sent a Heartbeat, in CI: those go
// with the run's own counts, at Export.
func TestNewWritesNothingForEarlyRules(t *testing.T) {
	cfgHome := isolate(t)
	inCI(t, "GitLab CI")
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	content := "user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncreated_at: 2026-11-24T17:00:00Z\ncounters:\n    cli.version.count: 2\nlast_heartbeat_at: null\npending: []\nsent: []\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	before := goroutinesCreated(t)
	exp, _ := New(WithHost("http://127.0.0.1:1"), WithClock(newClock(t0).Now))
	if n := goroutinesCreated(t) - before; n != 0 {
		t.Errorf("New started %d goroutines", n)
	}
	if !exp.Enabled() {
		t.Fatal("not enabled")
	}
	if exists(path + ".lock") {
		t.Error("New took the lock with nothing due")
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("New rewrote the file:\n%s", b)
	}
	_ = exp.Shutdown(context.Background())
}

// A go test binary is off unless IDUN_TELEMETRY_ENABLED=true: no file, no
// request, no goroutine, decided before the disk.
func TestGoTestIsOffByDefault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		opts   []Option
		on     bool
		source Source
	}{
		{name: "no variable", source: SourceGoTest},
		{name: "IDUN_TELEMETRY_ENABLED=true", env: map[string]string{EnvEnabled: "true"}, on: true, source: SourceEnvEnabled},
		{name: "IDUN_TELEMETRY_ENABLED=1 beats DO_NOT_TRACK", env: map[string]string{EnvEnabled: "1", EnvDoNotTrack: "1"}, on: true, source: SourceEnvEnabled},
		{name: "DO_NOT_TRACK=1", env: map[string]string{EnvDoNotTrack: "1"}, source: SourceDoNotTrack},
		{name: "WithEnabled(false)", opts: []Option{WithEnabled(false)}, source: SourceOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			for _, k := range []string{EnvEnabled, EnvDoNotTrack, EnvOTelDisabled, EnvDebug} {
				t.Setenv(k, tc.env[k])
			}
			// A file that says on: under go test it is not even read.
			path := filepath.Join(home, ".config", "idun", "config.yaml")
			srv := posthogtest.NewServer()
			t.Setenv(EnvHost, srv.URL)
			before := goroutinesCreated(t)
			p := start(t, append([]Option{WithGrace(5 * time.Second)}, tc.opts...)...)
			p.add(t, "cli.version.count", 1)
			p.stop(t)
			after := goroutinesCreated(t)
			srv.Close()
			if d := p.exp.Decision(); d.Enabled != tc.on || d.Source != tc.source {
				t.Fatalf("decision %+v, want on %v by %s", d, tc.on, tc.source)
			}
			if d := Decide(tc.opts...); d.Enabled != tc.on || d.Source != tc.source {
				t.Errorf("Decide %+v, want on %v by %s", d, tc.on, tc.source)
			}
			if tc.on {
				// The control: the checks below can fail.
				first := srv.Named(EventFirstRun)
				if len(first) != 1 || first[0].Properties["libraries.gotest"] != true || !exists(path) || after == before {
					t.Errorf("on: %d First run (%v), file %v, %d goroutines", len(first), first, exists(path), after-before)
				}
				return
			}
			if entries, _ := os.ReadDir(home); len(entries) != 0 {
				t.Errorf("HOME holds %v", entries)
			}
			if n := srv.Requests(); n != 0 {
				t.Errorf("%d requests", n)
			}
			if after != before {
				t.Errorf("%d goroutines started", after-before)
			}
		})
	}
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

// detectCI reports what ciinfo found in the environment the process started
// with; each case is a child process with an environment built from scratch.
func TestDetectCI(t *testing.T) {
	if os.Getenv("IDUN_DETECT_CI_CHILD") == "1" {
		isCI, vendor := detectCI()
		os.Stdout.WriteString(strings.Join([]string{"RESULT", boolWord(isCI), vendor}, "|") + "\n")
		return
	}
	for _, tc := range []struct {
		name   string
		env    []string
		isCI   bool
		vendor string
	}{
		{"none", nil, false, ""},
		{"github", []string{"CI=true", "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/secret-repo", "GITHUB_RUN_ID=4242"}, true, "GitHub Actions"},
		{"gitlab", []string{"CI=true", "GITLAB_CI=true", "CI_PROJECT_PATH=acme/secret"}, true, "GitLab CI"},
		{"buildkite", []string{"BUILDKITE=true", "BUILDKITE_REPO=git@example.com:acme/x.git"}, true, "Buildkite"},
		{"circleci", []string{"CI=true", "CIRCLECI=true"}, true, "CircleCI"},
		{"generic", []string{"CI=true"}, true, ""},
		{"CI=false wins", []string{"CI=false", "BUILD_NUMBER=7"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDetectCI$")
			cmd.Env = append([]string{"IDUN_DETECT_CI_CHILD=1"}, tc.env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			want := "RESULT|" + boolWord(tc.isCI) + "|" + tc.vendor + "\n"
			if !strings.Contains(string(out), want) {
				t.Errorf("child said %q, want %q", out, want)
			}
		})
	}
}

func boolWord(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// The Heartbeat the last Export queues is sent within Shutdown's wait even
// when the First run's send is still in flight: a short run's counts must
// not wait for a next run that a container or a CI job never has.
func TestHeartbeatQueuedAtShutdownIsSent(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	srv.SetMode(posthogtest.Slow)
	srv.SetDelay(200 * time.Millisecond)
	runOnce(t, map[string]int64{"cli.version.count": 1}, WithHost(srv.URL), WithGrace(5*time.Second))
	if st := load(t, filepath.Join(cfgHome, "idun", "config.yaml")); len(st.Pending) != 0 || len(st.Counters) != 0 {
		t.Errorf("left %d events queued and counters %v", len(st.Pending), st.Counters)
	}
	if n := len(srv.Named(EventHeartbeat)); n != 1 {
		t.Errorf("%d Heartbeats delivered, want 1", n)
	}
}

// A process whose clock was read before another created the file (it waited
// for the lock) sees a created_at a little in the future: repairing it must
// not make the installation look as if it had sent its first Heartbeat.
func TestFirstHeartbeatSurvivesACreatedAtAhead(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncreated_at: 2026-11-24T18:00:00.004Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runOnce(t, map[string]int64{"cli.version.count": 1}, WithHost(srv.URL), WithClock(newClock(t0).Now), WithGrace(5*time.Second))
	st := load(t, path)
	if n := len(srv.Named(EventHeartbeat)); n != 1 || len(st.Counters) != 0 {
		t.Errorf("%d Heartbeats, counters %v; want the first Heartbeat with the run's count", n, st.Counters)
	}
	if st.CreatedAt.After(t0) {
		t.Errorf("created_at %v still ahead of the clock", st.CreatedAt)
	}
}
