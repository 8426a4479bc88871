//go:build unix

package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// TestReliabilityWindows runs the Windows builds of hostprog and
// examples/cli under wine (wine_test.go), driven from this process: where
// the state file lives, concurrent runs on one file, the opt-out, bad
// state files, a failing host and SIGKILLs of a write-heavy program.
//
// The scenario that shows the Windows store's count losses, alone:
//
//	go test ./exporter/reliability -run 'ReliabilityWindows/concurrency' -count=1 -v
//
// (-long runs 10 rounds of each kind instead of 2.) It needs Debian's
// wine64 and gcc-mingw-w64-x86-64-win32; without them it is skipped, except
// with CI=true, and it is skipped under -race.
func TestReliabilityWindows(t *testing.T) {
	begin := time.Now()
	w := startWine(t)
	t.Run("location", func(t *testing.T) { windowsLocation(t, w) })
	t.Run("concurrency", func(t *testing.T) { windowsConcurrency(t, w) })
	t.Run("opt-out", func(t *testing.T) { windowsOptOut(t, w) })
	t.Run("bad-files", func(t *testing.T) { windowsBadFiles(t, w) })
	t.Run("failing-host", func(t *testing.T) { windowsFailingHost(t, w) })
	t.Run("kill", func(t *testing.T) { windowsKill(t, w) })
	figure(t, "the Windows suite under wine took %s; %d lines of wine's own diagnostics taken off the programs' stderr", ms(time.Since(begin)), w.noise.Load())
	if len(w.noiseSeen) > 0 {
		t.Logf("wine's diagnostics seen, first kinds: %q", w.noiseSeen)
	}
}

// storedCounts is every count an installation holds that is not in an
// event yet, the journal's included.
func storedCounts(t *testing.T, path string) map[string]int64 {
	t.Helper()
	c, err := state.New(path).Counts()
	if err != nil {
		t.Fatalf("counts: %v", err)
	}
	return c
}

// cliStatus is the part of `cli telemetry status --json` the suite reads.
type cliStatus struct {
	Enabled    bool   `json:"enabled"`
	Source     string `json:"source"`
	ConfigPath string `json:"config_path"`
}

// status runs `cli telemetry status --json` in s; unsetXDG runs it
// without XDG_CONFIG_HOME.
func status(t *testing.T, s *sandbox, unsetXDG bool) cliStatus {
	t.Helper()
	r := s.runCmd(wineCmd(s, unsetXDG, cliBin, "telemetry", "status", "--json"))
	var st cliStatus
	if r.code != 0 || len(r.stderr) != 0 || json.Unmarshal(r.stdout, &st) != nil {
		t.Errorf("cli telemetry status --json: %v", r)
	}
	return st
}

// wineCmd is s.command, without XDG_CONFIG_HOME when unsetXDG: the Windows
// program then uses its default folder, LocalAppData.
func wineCmd(s *sandbox, unsetXDG bool, bin string, args ...string) *exec.Cmd {
	cmd := s.command(bin, args...)
	if unsetXDG {
		cmd.Env = withoutXDG(cmd.Env)
	}
	return cmd
}

// wineHostprog is s.hostprog, without XDG_CONFIG_HOME when unsetXDG.
func wineHostprog(s *sandbox, unsetXDG bool, args ...string) result {
	s.t.Helper()
	rep := filepath.Join(s.root, "reports", fmt.Sprintf("r%d.json", reportSeq.next()))
	r := s.runCmd(wineCmd(s, unsetXDG, hostBin, append([]string{"-report", rep}, args...)...))
	if b, err := os.ReadFile(rep); err == nil {
		_ = json.Unmarshal(b, &r.report)
	}
	return r
}

// cliVersion is what `cli version` prints: the same under wine as on Linux.
const cliVersion = "idun 0.1.0\n"

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// windowsLocation checks where the Windows build keeps its file: the
// LocalAppData known folder, unless XDG_CONFIG_HOME is a Windows absolute
// path. It also times a run under wine, for the figures.
func windowsLocation(t *testing.T, w *wine) {
	off := newWineSandbox(t, w, "", "IDUN_TELEMETRY_ENABLED=false")
	var took []time.Duration
	for range 5 {
		r := off.cli("version")
		if r.code != 0 || len(r.stderr) != 0 || string(r.stdout) != cliVersion {
			t.Fatalf("cli.exe version, telemetry off: %v", r)
		}
		took = append(took, r.took)
	}
	figure(t, "one `cli.exe version` under wine, telemetry off: %s (median of 5, wine's process start included)", ms(median(took)))

	app := w.defaultAppDir()
	if exists(app) {
		t.Fatalf("%s exists before any run", app)
	}
	// The other scenarios check that nothing appears here.
	t.Cleanup(func() { os.RemoveAll(app) })
	sink := newSink(t)
	s := newWineSandbox(t, w, sink.URL)
	// Unset, a Unix absolute path and a relative one: none is a Windows
	// absolute path, so none moves the file.
	unixXDG := filepath.Join(s.root, "unix-xdg")
	for _, xdg := range []string{"", unixXDG, `relative\xdg`} {
		cmd := wineCmd(s, true, cliBin, "version")
		if xdg != "" {
			cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+xdg)
		}
		if r := s.runCmd(cmd); r.code != 0 || len(r.stderr) != 0 || string(r.stdout) != cliVersion {
			t.Errorf("cli.exe version, XDG_CONFIG_HOME=%q: %v", xdg, r)
		}
	}
	if _, err := state.New(filepath.Join(app, "config.yaml")).Load(); err != nil {
		t.Fatalf("no state file in LocalAppData: %v", err)
	}
	// The first run's count went in the installation's first Heartbeat.
	appState, err := state.New(filepath.Join(app, "config.yaml")).Load()
	if err != nil {
		t.Fatal(err)
	}
	appKept := storedCounts(t, filepath.Join(app, "config.yaml"))["cli.version.count"]
	if sent := inHeartbeats(sink, appState, "cli.version.count"); appKept+sent != 3 {
		t.Errorf("LocalAppData's installation counts %d kept + %d in Heartbeats, want 3", appKept, sent)
	}
	for _, p := range []string{unixXDG, filepath.Join(s.root, "relative"), s.config} {
		if exists(p) {
			t.Errorf("%s created: XDG_CONFIG_HOME that is not a Windows absolute path moved the file", p)
		}
	}
	want := `C:\users\` + w.user + `\AppData\Local\idun\config.yaml`
	if got := status(t, s, true).ConfigPath; got != want {
		t.Errorf("status says the file is %q, want %q", got, want)
	}

	// XDG_CONFIG_HOME a Windows absolute path (Z:\ is the Linux root).
	if r := s.cli("version"); r.code != 0 || len(r.stderr) != 0 {
		t.Errorf("cli.exe version, XDG_CONFIG_HOME=%s: %v", winPath(s.config), r)
	}
	if got, want := status(t, s, false).ConfigPath, winPath(s.config)+`\idun\config.yaml`; got != want {
		t.Errorf("status says the file is %q, want %q", got, want)
	}
	if n, sent := storedCounts(t, s.statePath())["cli.version.count"], inHeartbeats(sink, s.load(), "cli.version.count"); n+sent != 1 {
		t.Errorf("XDG_CONFIG_HOME's installation counts %d kept + %d in Heartbeats, want 1", n, sent)
	}
	if n := storedCounts(t, filepath.Join(app, "config.yaml"))["cli.version.count"]; n != appKept {
		t.Errorf("LocalAppData's file changed by a run with XDG_CONFIG_HOME set")
	}
	figure(t, "state file in %s with XDG_CONFIG_HOME unset, a Unix path or a relative one (3 of 3 runs there); in %s\\idun with XDG_CONFIG_HOME=%s", want, winPath(s.config), winPath(s.config))
}

// windowsConcurrency runs rounds of 20 and 50 concurrent hostprog and
// `cli version` processes, each round on an installation of its own.
func windowsConcurrency(t *testing.T, w *wine) {
	rounds := 2
	if *long {
		rounds = 10
	}
	for _, n := range []int{20, 50} {
		for round := range rounds {
			t.Run(fmt.Sprintf("hostprog-fresh-%d/%d", n, round), func(t *testing.T) { windowsHostRound(t, w, n, false) })
			t.Run(fmt.Sprintf("hostprog-heartbeat-due-%d/%d", n, round), func(t *testing.T) { windowsHostRound(t, w, n, true) })
			t.Run(fmt.Sprintf("cli-%d/%d", n, round), func(t *testing.T) { windowsCLIRound(t, w, n) })
		}
	}
}

// windowsHostRound starts n hostprog processes held at a start line,
// releases them together once all are there, and checks that every count
// each added is in the file, sent or queued, that no run had telemetry
// turned off, and that the installation has one user_id and one First run
// (a new winInstallation) or one Heartbeat (due: the file holds 15 counts and
// its last Heartbeat is 25 hours old).
func windowsHostRound(t *testing.T, w *wine, n int, due bool) {
	sink := newSink(t)
	s := newWineSandbox(t, w, sink.URL)
	stored := map[string]int64{}
	if due {
		now := time.Now().UTC()
		stored = map[string]int64{"cli.version.count": 11, "feature.memory.count": 4}
		s.writeState(map[string]any{
			"user_id":           uuid.NewString(),
			"created_at":        now.Add(-72 * time.Hour),
			"last_heartbeat_at": now.Add(-25 * time.Hour),
			"counters":          stored,
			"pending":           []any{},
			"sent":              []any{},
		})
	}
	results, spread := releaseTogether(t, s, n, "-add", perProcess)
	off := map[string]int{}
	offRuns := 0
	for i, r := range results {
		r.silent(t, fmt.Sprintf("process %d", i), 0)
		if !r.report.Enabled {
			off[r.report.Source]++
			offRuns++
		}
	}
	if offRuns != 0 {
		t.Errorf("telemetry off in %d of %d runs, decided by %v: another run's write must never turn a run off", offRuns, n, off)
	}
	added := int64(n*countsPerProcess) + sum(stored)
	// A new installation also sends its first Heartbeat at the end of its
	// first runs.
	want := winInstallation{firstRuns: 1, heartbeats: 1}
	if due {
		want = winInstallation{heartbeats: 1}
	}
	kept := checkInstallation(t, s, sink, added, want)
	figure(t, "%d hostprog.exe released together (the last exited %s after the release): %d of %d counts kept (%d stored before); telemetry off in %d runs %v",
		n, ms(spread), kept, added, sum(stored), offRuns, off)
}

// windowsCLIRound runs `cli version` once, then n times at once (wine's
// process start spreads them over a second or more: `cli` has no start
// line), and checks every run was counted.
func windowsCLIRound(t *testing.T, w *wine, n int) {
	sink := newSink(t)
	s := newWineSandbox(t, w, sink.URL)
	if r := s.cli("version"); r.code != 0 || len(r.stderr) != 0 || string(r.stdout) != cliVersion {
		t.Fatalf("cli.exe version: %v", r)
	}
	begin := time.Now()
	results := make([]result, n)
	var wg sync.WaitGroup
	var restarts atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.runCmdNoFatal(s.command(cliBin, "version"))
			// Failed with nothing on stdout and nothing of the program's on
			// stderr: wine did not start it (the version is printed before
			// any count is kept). Run it again, 3 times a round at most.
			for r := results[i]; r.code != 0 && len(r.stdout) == 0 && len(s.programStderr(r.stderr)) == 0 && restarts.Add(1) <= 3; r = results[i] {
				t.Logf("cli %d: wine did not start it (%v): run again", i, r)
				results[i] = s.runCmdNoFatal(s.command(cliBin, "version"))
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	for i, r := range results {
		if r.code != 0 || len(r.stderr) != 0 || string(r.stdout) != cliVersion {
			t.Errorf("cli %d: %v", i, r)
		}
	}
	kept := checkInstallation(t, s, sink, int64(n+1), winInstallation{firstRuns: 1, heartbeats: 1})
	figure(t, "%d cli.exe version at once (+1 before), all done in %s: %d of %d counts kept",
		n, ms(took), kept, n+1)
}

// installation is how many distinct events of each kind an installation
// must have sent after a round.
type winInstallation struct{ firstRuns, heartbeats int }

// checkInstallation drains what the runs left queued, then checks counts
// persisted + sent + queued = added, exactly, the distinct events sent, one
// user_id, and that telemetry is still on. It returns the counts kept.
func checkInstallation(t *testing.T, s *sandbox, sink *posthogtest.Server, added int64, want winInstallation) int64 {
	t.Helper()
	var userID string
	if st, err := loadIfExists(s.statePath()); err == nil && st != nil {
		userID = st.UserID
	}
	// A last run with a long grace delivers what the runs left queued,
	// once the delay of sends cut off at exit has run out (faked
	// through the file's delivery.next_attempt_at).
	expireDelay(t, s)
	noise := s.wine.noise.Load()
	s.hostprog("-grace", "5s").silent(t, "drain run", 0)
	if s.wine.noise.Load() != noise && len(pendingNamed(s.load(), "Heartbeat")) > 0 {
		// Wine printed a client error during the drain (seen once in CI:
		// "sendmsg: Bad file descriptor"), which ends the thread that hit
		// it: the send may have died with it, silently, as telemetry does.
		// The same check again, with a drain that ran.
		t.Logf("wine printed a client error during the drain run and a Heartbeat is still queued: drained again")
		expireDelay(t, s)
		s.hostprog("-grace", "5s").silent(t, "second drain run", 0)
	}
	noRejects(t, sink)
	st := s.load()
	if userID != "" && st.UserID != userID {
		t.Errorf("user_id changed by the drain run: %s -> %s", userID, st.UserID)
	}
	persisted := sum(storedCounts(t, s.statePath()))
	heartbeats := eventsNamed(sink.Unique(), "Heartbeat")
	sent := eventCounts(heartbeats)
	var queued int64
	for _, ev := range pendingNamed(st, "Heartbeat") {
		queued += counterSum(ev.Properties)
	}
	kept := persisted + sent + queued
	if kept != added {
		t.Errorf("counts: %d added != %d persisted + %d sent + %d queued (%d lost)", added, persisted, sent, queued, added-kept)
	}
	got := winInstallation{firstRuns: len(eventsNamed(sink.Unique(), "First run")), heartbeats: len(heartbeats)}
	if got != want {
		t.Errorf("distinct events sent: %+v, want %+v", got, want)
	}
	for _, ev := range sink.Events() {
		if ev.DistinctID != st.UserID {
			t.Errorf("%s sent with distinct_id %s, the file's user_id is %s", ev.Event, ev.DistinctID, st.UserID)
		}
	}
	if got := status(t, s, false); !got.Enabled || got.Source != "default" {
		t.Errorf("after the round, status says enabled %v (source %q), want on by default", got.Enabled, got.Source)
	}
	return kept
}

// releaseTogether starts n hostprog processes in s, each waiting at its
// start line (stdin), waits until every one is there (each creates a file
// when it is), releases them together and waits for all. It returns their
// results, with their reports, and how long the last took to exit after the
// release.
//
// A process that never reaches its start line did nothing yet (it writes
// its file before exporter.New): wine failed to start it (seen once in CI,
// with "wine client error: sendmsg: Socket operation on non-socket"). It is
// killed and started again, up to 3 times in a round; that is wine's
// doing, not the program's.
func releaseTogether(t *testing.T, s *sandbox, n int, args ...string) ([]result, time.Duration) {
	t.Helper()
	readyDir := filepath.Join(s.root, "ready")
	must(t, os.Mkdir(readyDir, 0o700))
	type proc struct {
		cmd      *exec.Cmd
		stdin    io.WriteCloser
		out, err syncBuffer
		report   string
		done     chan struct{}
	}
	procs := make([]*proc, n)
	start := func(i int) {
		p := &proc{report: filepath.Join(s.root, "reports", fmt.Sprintf("together-%d.json", i)), done: make(chan struct{})}
		p.cmd = s.command(hostBin, append([]string{"-barrier", "-ready", filepath.Join(readyDir, fmt.Sprint(i)), "-report", p.report}, args...)...)
		in, err := p.cmd.StdinPipe()
		must(t, err)
		p.stdin = in
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
		go func() { _ = p.cmd.Wait(); close(p.done) }()
	}
	killAll := func() {
		for _, p := range procs {
			if p != nil {
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
	defer func() {
		if t.Failed() {
			killAll()
		}
	}()
	for i := range n {
		start(i)
	}
	restarts := 0
	retry := func(i int, why string) {
		if restarts++; restarts > 3 {
			t.Fatalf("process %d %s, after %d restarts this round", i, why, restarts-1)
		}
		t.Logf("process %d %s (stderr %q): started again", i, why, procs[i].err.Bytes())
		_ = procs[i].cmd.Process.Kill()
		<-procs[i].done
		start(i)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ready := 0
		for i, p := range procs {
			if _, err := os.Stat(filepath.Join(readyDir, fmt.Sprint(i))); err == nil {
				ready++
				continue
			}
			select {
			case <-p.done:
				retry(i, "exited before its start line")
			default:
				if time.Now().After(deadline) {
					retry(i, "did not reach its start line in a minute")
					deadline = time.Now().Add(time.Minute)
				}
			}
		}
		if ready == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	release := time.Now()
	for _, p := range procs {
		p.stdin.Close()
	}
	timeout := time.After(2 * time.Minute)
	for i, p := range procs {
		select {
		case <-p.done:
		case <-timeout:
			t.Fatalf("process %d still running 2 minutes after the release", i)
		}
	}
	spread := time.Since(release)
	results := make([]result, n)
	for i, p := range procs {
		r := result{code: p.cmd.ProcessState.ExitCode(), stdout: p.out.Bytes(), stderr: s.programStderr(p.err.Bytes())}
		if b, err := os.ReadFile(p.report); err == nil {
			_ = json.Unmarshal(b, &r.report)
		}
		results[i] = r
	}
	return results, spread
}

// windowsOptOut runs the programs with each opt-out variable, with the
// file's folder from XDG_CONFIG_HOME and from LocalAppData: the app folder
// is never created and nothing is sent.
func windowsOptOut(t *testing.T, w *wine) {
	runs := 0
	for _, setting := range []string{"IDUN_TELEMETRY_ENABLED=false", "DO_NOT_TRACK=1", "OTEL_SDK_DISABLED=true"} {
		for _, unsetXDG := range []bool{false, true} {
			where := "XDG_CONFIG_HOME"
			if unsetXDG {
				where = "LocalAppData"
			}
			t.Run(setting+"/"+where, func(t *testing.T) {
				sink := newSink(t)
				s := newWineSandbox(t, w, sink.URL, setting)
				// The config folder exists, as on a machine in use.
				must(t, os.MkdirAll(s.config, 0o700))
				r := wineHostprog(s, unsetXDG, "-exit", "7", "-add", perProcess)
				r.silent(t, "hostprog", hostExit)
				if r.report.Enabled {
					t.Errorf("hostprog: telemetry on (%s)", r.report.Source)
				}
				c := s.runCmd(wineCmd(s, unsetXDG, cliBin, "version"))
				if c.code != 0 || len(c.stderr) != 0 || string(c.stdout) != cliVersion {
					t.Errorf("cli version: %v", c)
				}
				if st := status(t, s, unsetXDG); st.Enabled {
					t.Errorf("status says on (%s)", st.Source)
				}
				runs += 3
				if e, _ := os.ReadDir(s.config); len(e) != 0 {
					t.Errorf("created under XDG_CONFIG_HOME: %v", e)
				}
				if exists(w.defaultAppDir()) {
					t.Errorf("%s created", w.defaultAppDir())
				}
				if n := sink.Requests(); n != 0 {
					t.Errorf("%d requests reached the sink", n)
				}
			})
		}
	}
	figure(t, "3 opt-out variables x 2 folders (XDG_CONFIG_HOME, LocalAppData) x 3 programs = %d runs: app folder never created, 0 requests, exit codes kept, silent", runs)
}

// windowsBadFiles runs the programs on some of the bad state files of
// TestReliabilityBadStateFiles: each is left byte-for-byte, telemetry is
// off, nothing is printed or sent.
func windowsBadFiles(t *testing.T, w *wine) {
	kinds := []string{"empty", "binary", "truncated", "not-a-mapping", "100MB"}
	var slowest time.Duration
	tried := 0
	for _, bf := range badFiles() {
		if !slices.Contains(kinds, bf.name) {
			continue
		}
		tried++
		t.Run(bf.name, func(t *testing.T) {
			sink := newSink(t)
			s := newWineSandbox(t, w, sink.URL)
			s.timeout = 30 * time.Second
			bf.setup(t, s)
			before := snapshot(t, s.config)
			r := s.hostprog("-exit", "7", "-add", perProcess)
			r.silent(t, "hostprog", hostExit)
			if r.report.Enabled || r.report.Source != "config-unusable" {
				t.Errorf("hostprog: telemetry on %v, decided by %q; want off, by config-unusable", r.report.Enabled, r.report.Source)
			}
			c := s.cli("version")
			if c.code != 0 || len(c.stderr) != 0 || string(c.stdout) != cliVersion {
				t.Errorf("cli version: %v", c)
			}
			if st := status(t, s, false); st.Enabled || st.Source != "config-unusable" {
				t.Errorf("status: enabled %v, source %q; want off, by config-unusable", st.Enabled, st.Source)
			}
			slowest = max(slowest, r.took, c.took)
			if after := snapshot(t, s.config); !reflect.DeepEqual(before, after) {
				t.Errorf("the files changed:\nbefore %v\nafter  %v", before, after)
			}
			if n := sink.Requests(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
	if tried != len(kinds) {
		t.Errorf("%d of the %d bad-file kinds found in badFiles()", tried, len(kinds))
	}
	figure(t, "%d kinds of bad state file (%s): left byte-for-byte, telemetry off (config-unusable), 0 requests, silent, exit codes kept; slowest run %s",
		len(kinds), strings.Join(kinds, ", "), ms(slowest))
}

// windowsFailingHost runs new installations (a First run in flight at exit)
// against a host that refuses connections and one that never answers: the
// exit waits at most the grace and a margin, nothing is printed, exit
// codes are kept.
func windowsFailingHost(t *testing.T, w *wine) {
	// The documented default grace, and margins for wine's process start
	// and a loaded 2-core machine: Shutdown is timed inside the process,
	// the exit from here.
	const grace = 250 * time.Millisecond
	const shutdownSlack, exitSlack = 250 * time.Millisecond, 750 * time.Millisecond
	off := newWineSandbox(t, w, "", "IDUN_TELEMETRY_ENABLED=false")
	var offHost, offCLI []time.Duration
	for range 5 {
		r := off.hostprog("-exit", "7", "-add", perProcess)
		r.silent(t, "hostprog, telemetry off", hostExit)
		offHost = append(offHost, r.took)
		offCLI = append(offCLI, off.cli("version").took)
	}
	baseHost, baseCLI := median(offHost), median(offCLI)
	figure(t, "telemetry off under wine: hostprog.exe %s, cli.exe version %s (medians of 5)", ms(baseHost), ms(baseCLI))
	for _, f := range failures() {
		if f.name != "refused" && f.name != "hang" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			url, _ := f.start(t)
			sh, sc := newWineSandbox(t, w, url), newWineSandbox(t, w, url)
			r := sh.hostprog("-exit", "7", "-add", perProcess)
			r.silent(t, "hostprog", hostExit)
			if !r.report.Enabled {
				t.Fatalf("telemetry off: %+v", r.report)
			}
			c := sc.cli("version")
			if c.code != 0 || len(c.stderr) != 0 || string(c.stdout) != cliVersion {
				t.Errorf("cli version: %v", c)
			}
			shutdown := time.Duration(r.report.ShutdownNS)
			if shutdown > grace+shutdownSlack {
				t.Errorf("hostprog's Shutdown took %v (grace %v)", shutdown, grace)
			}
			addHost, addCLI := r.took-baseHost, c.took-baseCLI
			for what, d := range map[string]time.Duration{"hostprog": addHost, "cli version": addCLI} {
				if d > grace+exitSlack {
					t.Errorf("%s: exit %v later than with telemetry off (grace %v)", what, d, grace)
				}
			}
			if n := len(sh.load().Pending) + len(sc.load().Pending); n != 4 {
				t.Errorf("%d events queued by the two new installations, want their 2 First run and 2 first Heartbeats", n)
			}
			figure(t, "exit codes kept, 0 bytes on stdout/stderr; hostprog.exe's Shutdown %s; added exit time: hostprog.exe %s, cli.exe version %s", ms(shutdown), ms(addHost), ms(addCLI))
		})
	}
}

// windowsKill SIGKILLs write-heavy hostprog processes (add 1, flush,
// forever), two at a time on one file, at random moments once they are
// writing: the file always parses and keeps its user_id, and no count a
// flush returned is lost.
func windowsKill(t *testing.T, w *wine) {
	rounds := 12 // two kills each
	if *long {
		rounds = 50
	}
	const perRound = 2
	const maxDelay = 300 * time.Millisecond
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x1d0))
	t.Logf("seed %d", seed)
	sink := newSink(t)
	s := newWineSandbox(t, w, sink.URL)
	progressDir := filepath.Join(s.root, "progress")
	must(t, os.MkdirAll(progressDir, 0o700))
	var (
		userID, firstSeen string
		acked, offAcked   int64
		kills             int
		flushes           []int64
		off               = map[string]int{} // runs with telemetry off, by source
	)
	for round := range rounds {
		var procs []*chanResult
		var progress, reports []string
		for p := range perRound {
			prog := filepath.Join(progressDir, fmt.Sprintf("p%d", round*perRound+p))
			rep := filepath.Join(progressDir, fmt.Sprintf("r%d.json", round*perRound+p))
			progress, reports = append(progress, prog), append(reports, rep)
			procs = append(procs, startAsync(s, s.command(hostBin, "-loop", "-progress", prog, "-report", rep)))
		}
		for i, p := range procs {
			delay := time.Duration(rng.Int64N(int64(maxDelay)))
			go func() {
				// Kill once it is writing: wine's start takes longer
				// than the window.
				for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if fi, err := os.Stat(progress[i]); err == nil && fi.Size() > 0 {
						break
					}
				}
				time.Sleep(delay)
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
			}()
		}
		for i, p := range procs {
			r := p.wait()
			r.stderr = s.programStderr(r.stderr)
			if !r.signaled {
				t.Fatalf("round %d: the write-heavy program ended by itself: %v", round, r)
			}
			if len(r.stdout) != 0 || len(r.stderr) != 0 {
				t.Errorf("round %d: output before the kill: %v", round, r)
			}
			kills++
			var rep report
			if b, err := os.ReadFile(reports[i]); err == nil {
				_ = json.Unmarshal(b, &rep)
			}
			if fi, err := os.Stat(progress[i]); err == nil {
				acked += fi.Size()
				flushes = append(flushes, fi.Size())
				if !rep.Enabled {
					off[rep.Source]++
					offAcked += fi.Size()
				}
			}
		}
		st, err := loadIfExists(s.statePath())
		if err != nil {
			t.Fatalf("round %d: state file unusable after SIGKILL: %v", round, err)
		}
		if st == nil || st.UserID == "" {
			continue
		}
		if userID == "" {
			userID = st.UserID
		} else if st.UserID != userID {
			t.Fatalf("round %d: user_id changed: %s -> %s", round, userID, st.UserID)
		}
		for _, ev := range pendingNamed(st, "First run") {
			if firstSeen == "" {
				firstSeen = ev.UUID
			} else if ev.UUID != firstSeen {
				t.Fatalf("round %d: a second First run was queued: %s, then %s", round, firstSeen, ev.UUID)
			}
		}
	}
	expireDelay(t, s)
	r := s.hostprog("-grace", "5s", "-add", "raw:cli.after.count=1")
	r.silent(t, "run after the kills", 0)
	st := s.load()
	if userID != "" && st.UserID != userID {
		t.Fatalf("user_id changed: %s -> %s", userID, st.UserID)
	}
	offRuns := 0
	for _, n := range off {
		offRuns += n
	}
	if offRuns != 0 {
		t.Errorf("telemetry off in %d of %d runs, decided by %v: another run's write must never turn a run off", offRuns, kills, off)
	}
	// The installation's first Heartbeat took its first flushes' counts:
	// they count as persisted, delivered or still queued.
	persisted := storedCounts(t, s.statePath())["cli.crash.count"] + inHeartbeats(sink, st, "cli.crash.count")
	if persisted < acked {
		t.Errorf("lost flushed counts: %d flushed before the kills, %d persisted (%d lost)", acked, persisted, acked-persisted)
	}
	if persisted > acked+int64(kills) {
		t.Errorf("counted twice: %d persisted > %d flushed + %d in flight at the kills", persisted, acked, kills)
	}
	// The next fold writes over what the kills left (the test folds: runs
	// with nothing due do not write the file).
	foldLeavesNothing(t, s)
	noRejects(t, sink)
	if first := eventsNamed(sink.Unique(), "First run"); len(first) != 1 || (firstSeen != "" && first[0].UUID != firstSeen) {
		t.Errorf("First run: %d delivered (queued as %s), want exactly that one", len(first), firstSeen)
	}
	sort.Slice(flushes, func(i, j int) bool { return flushes[i] < flushes[j] })
	onAcked := acked - offAcked
	figure(t, "%d SIGKILLs of hostprog.exe -loop, 0-%s after its first flush: file parsed after %d/%d rounds, user_id changed 0 times; telemetry off in %d runs %v; %d counts flushed before the kills (%d-%d per process), %d of them by runs that were on and %d by runs that were off; %d persisted: %d lost in all, %d of the on runs' (%d in-flight counts kept)",
		kills, ms(maxDelay), rounds, rounds, offRuns, off, acked, flushes[0], flushes[len(flushes)-1], onAcked, offAcked, persisted, max(0, acked-persisted), max(0, onAcked-persisted), max(0, persisted-onAcked))
}
