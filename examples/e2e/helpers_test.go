package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// The example binaries, built once by TestMain.
var cliBin, serverBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "idun-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	cliBin = filepath.Join(dir, "cli"+exe)
	serverBin = filepath.Join(dir, "server"+exe)

	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceBuild {
		args = append(args, "-race")
	}
	args = append(args,
		"github.com/Idun-Group/idun-telemetry-go/examples/cli",
		"github.com/Idun-Group/idun-telemetry-go/examples/server",
	)
	build := exec.Command(goTool(), args...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the examples: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// goTool finds the go command: go test puts its own on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	// runtime.GOROOT is deprecated; without go on PATH, running "go"
	// fails with an error that says so.
	return "go"
}

// sandbox is one test's world: a fresh HOME and XDG_CONFIG_HOME, a PostHog
// stand-in, and an environment built from scratch so that the developer's
// telemetry variables cannot leak in.
type sandbox struct {
	t      *testing.T
	home   string
	config string
	sink   *posthogtest.Server
	env    []string
}

func newSandbox(t *testing.T, env ...string) *sandbox {
	t.Helper()
	home := t.TempDir()
	sink := posthogtest.NewServer()
	t.Cleanup(sink.Close)
	return &sandbox{t: t, home: home, config: filepath.Join(home, "config"), sink: sink, env: env}
}

func (s *sandbox) environ() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.home,
		"XDG_CONFIG_HOME=" + s.config,
		"IDUN_TELEMETRY_HOST=" + s.sink.URL,
	}
	if raceBuild {
		// A race-instrumented binary otherwise sleeps a second before
		// exiting 0, which would hide how long shutdown really takes.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return append(env, s.env...)
}

func (s *sandbox) statePath() string { return filepath.Join(s.config, "idun", "config.yaml") }

// load reads the state file, which must exist and be usable.
func (s *sandbox) load() *state.State {
	s.t.Helper()
	store := state.New(s.statePath())
	st, err := store.Load()
	if err != nil {
		s.t.Fatalf("state file: %v", err)
	}
	// Counters: every count not yet sent, the journal's included.
	if st.Counters, err = store.Counts(); err != nil {
		s.t.Fatalf("counts: %v", err)
	}
	return st
}

// homeEntries lists everything under HOME, which an opt-out must leave empty.
func (s *sandbox) homeEntries() []string {
	s.t.Helper()
	var found []string
	err := filepath.WalkDir(s.home, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != s.home {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return found
}

// result is how a finished process behaved.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout: %q\nstderr: %q", r.code, r.took, r.stdout, r.stderr)
}

// cli runs the CLI to completion.
func (s *sandbox) cli(args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin, args...)
	cmd.Env = s.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var exitErr *exec.ExitError
	if (err != nil && !errors.As(err, &exitErr)) || ctx.Err() != nil {
		s.t.Fatalf("cli %q: %v\n%v", args, err, r)
	}
	return r
}

// ok checks that a CLI run succeeded silently on stderr.
func (s *sandbox) ok(r result, wantStdout string) {
	s.t.Helper()
	if r.code != 0 || r.stderr != "" || (wantStdout != "" && r.stdout != wantStdout) {
		s.t.Fatalf("want exit 0, stdout %q, empty stderr; got %v", wantStdout, r)
	}
}

// status is the part of "telemetry status --json" the tests read.
type status struct {
	Enabled         bool             `json:"enabled"`
	Source          string           `json:"source"`
	Reason          string           `json:"reason"`
	ConfigPath      string           `json:"config_path"`
	UserID          *string          `json:"user_id"`
	Counters        map[string]int64 `json:"counters"`
	LastHeartbeatAt *time.Time       `json:"last_heartbeat_at"`
	Pending         []state.Event    `json:"pending"`
	Sent            []state.Event    `json:"sent"`
}

// status runs "cli telemetry status --json" and checks that every documented
// field is there.
func (s *sandbox) status() status {
	s.t.Helper()
	r := s.cli("telemetry", "status", "--json")
	s.ok(r, "")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &fields); err != nil {
		s.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"enabled", "reason", "source", "config_path", "user_id", "counters", "last_heartbeat_at", "pending", "sent"} {
		if _, ok := fields[k]; !ok {
			s.t.Errorf("status --json lacks %q:\n%s", k, r.stdout)
		}
	}
	var st status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		s.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if st.ConfigPath != s.statePath() {
		s.t.Errorf("config_path = %q, want %q", st.ConfigPath, s.statePath())
	}
	return st
}

// proc is a running server.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

func (s *sandbox) startServer(args ...string) *proc {
	s.t.Helper()
	cmd := exec.Command(serverBin, args...)
	cmd.Env = s.environ()
	p := &proc{t: s.t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	s.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// listening waits for the "listening on HOST:PORT" line and returns the
// address.
func (p *proc) listening() string {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if line, ok := p.stdout.firstLine(); ok {
			addr, found := strings.CutPrefix(line, "listening on ")
			if !found {
				p.t.Fatalf("first line %q, want listening on HOST:PORT", line)
			}
			return addr
		}
		select {
		case <-p.done:
			p.t.Fatalf("server exited before listening: code %d\nstderr: %s", p.cmd.ProcessState.ExitCode(), p.stderr)
		case <-deadline:
			p.t.Fatalf("server did not print its address within 10s; stderr: %s", p.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop sends sig and waits for the exit.
func (p *proc) stop(sig os.Signal) result {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("server still running 10s after %v; stderr: %s", sig, p.stderr)
	}
	return result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String(), took: time.Since(start)}
}

// syncBuffer is a bytes.Buffer the process's copying goroutine and the test
// may use at once.
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

func (b *syncBuffer) firstLine() (string, bool) {
	line, _, found := strings.Cut(b.String(), "\n")
	return line, found
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// uniqueNamed returns the distinct events called name the sink accepted, as
// PostHog counts them after deduplication.
func uniqueNamed(sink *posthogtest.Server, name string) []posthogtest.Event {
	var out []posthogtest.Event
	for _, ev := range sink.Unique() {
		if ev.Event == name {
			out = append(out, ev)
		}
	}
	return out
}

// delivered sums, by counter, the distinct Heartbeats the sink accepted.
func delivered(sink *posthogtest.Server) map[string]int64 {
	got := map[string]int64{}
	for _, ev := range uniqueNamed(sink, "Heartbeat") {
		for k, v := range ev.Properties {
			if f, ok := v.(float64); ok && strings.HasSuffix(k, ".count") {
				got[k] += int64(f)
			}
		}
	}
	return got
}
