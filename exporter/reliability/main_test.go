//go:build unix

package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// long turns on the long scenarios. The flag exists only in this package, so
// pass it with this package alone:
//
//	go test ./exporter/reliability -run Reliability -long -timeout 60m
var long = flag.Bool("long", false, "run the long reliability scenarios (hundreds of kills, 5-minute fuzzing)")

// The programs under test, built once by TestMain.
var hostBin, cliBin, serverBin string

// binDir holds them; it is readable by every user so that a test can run a
// program as an unprivileged user.
var binDir string

// nobody is the user a test runs a program as when permissions must hold
// and the suite runs as root, which ignores them.
const nobody = 65534

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "idun-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

func buildAll(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	binDir = dir
	hostBin = filepath.Join(dir, "hostprog")
	cliBin = filepath.Join(dir, "cli")
	serverBin = filepath.Join(dir, "server")
	// hostprog is race-instrumented when the suite is, so that a data race
	// in the library shows as bytes on its stderr. The examples are built as
	// they ship: examples/e2e runs them race-instrumented, and here their
	// timings must be those of the real programs (a race build is 5-10
	// times slower, which on a small machine turns 50 processes at once
	// into minutes of lock queue).
	race := []string{}
	if raceBuild {
		race = append(race, "-race")
	}
	builds := [][]string{
		append(append([]string{"build", "-o", dir + string(filepath.Separator)}, race...), "./testdata/hostprog"),
		{"build", "-o", dir + string(filepath.Separator), "../../examples/cli", "../../examples/server"},
	}
	for _, args := range builds {
		out, err := exec.Command(goTool(), args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("building the programs under test: %v\n%s", err, out)
		}
	}
	return nil
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

// figure records a measured figure: logged, and appended to the file named
// by $RELIABILITY_FIGURES when set, from which README.md is written.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("%s: %s", t.Name(), fmt.Sprintf(format, args...))
	t.Log("FIGURE " + line)
	if p := os.Getenv("RELIABILITY_FIGURES"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}

// sandbox is one group of processes' world: its own HOME and XDG_CONFIG_HOME
// and an environment built from scratch.
type sandbox struct {
	t      *testing.T
	root   string
	home   string
	config string
	host   string   // IDUN_TELEMETRY_HOST; "" leaves it unset
	env    []string // added to every process's environment
	uid    int      // run as this user when > 0
	// timeout bounds each process; a minute unless a test sets it.
	timeout time.Duration
	// wine, when set, runs the Windows builds of the programs under wine
	// instead (windows_test.go).
	wine *wine
}

func newSandbox(t *testing.T, host string, env ...string) *sandbox {
	t.Helper()
	root := t.TempDir()
	return makeSandbox(t, root, host, 0, env)
}

// newNobodySandbox is a sandbox whose processes run as an unprivileged user
// when the suite runs as root, so that file permissions hold.
func newNobodySandbox(t *testing.T, host string, env ...string) *sandbox {
	t.Helper()
	if os.Geteuid() != 0 {
		return newSandbox(t, host, env...)
	}
	root, err := os.MkdirTemp("", "idun-reliability-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return makeSandbox(t, root, host, nobody, env)
}

func makeSandbox(t *testing.T, root, host string, uid int, env []string) *sandbox {
	t.Helper()
	s := &sandbox{t: t, root: root, home: filepath.Join(root, "home"), host: host, env: env, uid: uid}
	s.config = filepath.Join(s.home, ".config")
	for _, d := range []string{s.home, filepath.Join(root, "reports")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if uid > 0 {
			if err := os.Chown(d, uid, uid); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// chownAll gives everything under HOME to the sandbox's user.
func (s *sandbox) chownAll() {
	s.t.Helper()
	if s.uid <= 0 {
		return
	}
	err := filepath.WalkDir(s.home, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.uid, s.uid)
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *sandbox) statePath() string { return filepath.Join(s.config, "idun", "config.yaml") }

func (s *sandbox) environ(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.home,
		"XDG_CONFIG_HOME=" + s.config,
	}
	if s.host != "" {
		env = append(env, "IDUN_TELEMETRY_HOST="+s.host)
	}
	if raceBuild {
		// A race-instrumented binary otherwise sleeps a second before
		// exiting, which would hide how long the exit really takes.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	env = append(env, s.env...)
	return append(env, extra...)
}

// command prepares bin with the sandbox's environment and user.
func (s *sandbox) command(bin string, args ...string) *exec.Cmd {
	if s.wine != nil {
		return s.wine.command(s, bin, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = s.environ()
	cmd.Dir = s.root
	if s.uid > 0 {
		setCredential(cmd, s.uid)
	}
	return cmd
}

// result is how a finished process behaved.
type result struct {
	code           int
	signaled       bool
	stdout, stderr []byte
	took           time.Duration
	report         report
}

// report is what hostprog writes with -report.
type report struct {
	NewNS            int64  `json:"new_ns"`
	ShutdownNS       int64  `json:"shutdown_ns"`
	Enabled          bool   `json:"enabled"`
	Source           string `json:"source"`
	Goroutines       int    `json:"goroutines_after_new"`
	GoroutinesBefore int    `json:"goroutines_before"`
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (signaled %v) after %v\nstdout: %q\nstderr: %q", r.code, r.signaled, r.took, r.stdout, r.stderr)
}

// silent checks the process exited with want and printed nothing.
func (r result) silent(t *testing.T, what string, want int) {
	t.Helper()
	if r.code != want || r.signaled || len(r.stdout) != 0 || len(r.stderr) != 0 {
		t.Errorf("%s: want exit %d and no output; got %v", what, want, r)
	}
}

// runCmd runs a prepared command to completion, within s.timeout.
func (s *sandbox) runCmd(cmd *exec.Cmd) result {
	s.t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	timeout := s.timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		s.t.Fatalf("%s %q still running after %v; stderr: %s", cmd.Path, cmd.Args, timeout, stderr.Bytes())
	}
	r := result{stdout: stdout.Bytes(), stderr: s.programStderr(stderr.Bytes()), took: time.Since(start)}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		s.t.Fatalf("%s: %v", cmd.Path, err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.signaled = true
	}
	return r
}

// host runs hostprog with args, adding -report, and reads the report.
func (s *sandbox) hostprog(args ...string) result {
	s.t.Helper()
	rep := filepath.Join(s.root, "reports", fmt.Sprintf("r%d.json", reportSeq.next()))
	r := s.runCmd(s.command(hostBin, append([]string{"-report", rep}, args...)...))
	if b, err := os.ReadFile(rep); err == nil {
		_ = json.Unmarshal(b, &r.report)
	}
	return r
}

// cli runs the example CLI.
func (s *sandbox) cli(args ...string) result {
	s.t.Helper()
	return s.runCmd(s.command(cliBin, args...))
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

var reportSeq counter

// load reads the state file, which must exist and parse.
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

// writeState writes a state file as a user or an older run would have.
func (s *sandbox) writeState(st map[string]any) {
	s.t.Helper()
	b, err := yaml.Marshal(st)
	if err != nil {
		s.t.Fatal(err)
	}
	s.writeRaw(b)
}

func (s *sandbox) writeRaw(b []byte) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Dir(s.statePath()), 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.statePath(), b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.chownAll()
}

// homeEntries lists everything under HOME, relative to it.
func (s *sandbox) homeEntries() []string {
	s.t.Helper()
	var found []string
	_ = filepath.WalkDir(s.home, func(p string, _ fs.DirEntry, err error) error {
		if p != s.home {
			rel, _ := filepath.Rel(s.home, p)
			found = append(found, rel)
		}
		return nil
	})
	sort.Strings(found)
	return found
}

// newSink starts a PostHog stand-in closed at the end of the test.
func newSink(t *testing.T) *posthogtest.Server {
	t.Helper()
	srv := posthogtest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// noRejects checks the stand-in refused no request as malformed.
func noRejects(t *testing.T, srv *posthogtest.Server) {
	t.Helper()
	if r := srv.Rejected(); len(r) != 0 {
		t.Errorf("the PostHog stand-in rejected requests: %q", r)
	}
}

// eventCounts sums the counter properties of events.
func eventCounts(evs []posthogtest.Event) int64 {
	var n int64
	for _, ev := range evs {
		n += counterSum(ev.Properties)
	}
	return n
}

// counterSum sums the counter keys of a property map.
func counterSum(props map[string]any) int64 {
	var n int64
	for k, v := range props {
		if !strings.HasPrefix(k, "cli.") && !strings.HasPrefix(k, "feature.") && !strings.HasPrefix(k, "workflow.") {
			continue
		}
		switch x := v.(type) {
		case float64:
			n += int64(x)
		case int:
			n += int64(x)
		case int64:
			n += x
		case uint64:
			n += int64(x)
		}
	}
	return n
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// median of durations.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// ms formats a duration in whole milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond)/time.Millisecond)
}

// copyDiscard drains r.
func copyDiscard(r io.Reader) { _, _ = io.Copy(io.Discard, r) }

// inHeartbeats sums a counter over the distinct Heartbeats of st's
// installation that the stand-in accepted and those still queued in st,
// each event once (one delivered whose acknowledgement its run did not
// live to write is both): counts an installation moved into events.
func inHeartbeats(sink *posthogtest.Server, st *state.State, name string) int64 {
	var n int64
	seen := map[string]bool{}
	for _, ev := range eventsNamed(sink.Unique(), "Heartbeat") {
		if ev.DistinctID != st.UserID {
			continue // another installation's
		}
		seen[ev.UUID] = true
		n += counterSum(map[string]any{name: ev.Properties[name]})
	}
	for _, ev := range pendingNamed(st, "Heartbeat") {
		if !seen[ev.UUID] {
			n += counterSum(map[string]any{name: ev.Properties[name]})
		}
	}
	return n
}

// foldLeavesNothing folds the journal from the test, as the next run that
// writes the file would, and checks that no temporary or folding file
// stays after it.
func foldLeavesNothing(t *testing.T, s *sandbox) {
	t.Helper()
	if err := state.New(s.statePath()).Fold(context.Background(), func(*state.State) error { return nil }); err != nil {
		t.Fatalf("fold after the kills: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(s.config, "idun", ".*.tmp"))
	folding, _ := filepath.Glob(filepath.Join(s.config, "idun", "counts.*.folding"))
	if len(left) != 0 || len(folding) != 0 {
		t.Errorf("temporary or folding files left after the next fold: %v %v", left, folding)
	}
}
