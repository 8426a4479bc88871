//go:build unix

package reliability

// Running the Windows builds under wine, from this (Linux) test process.
//
// Why from here and not as a Windows test binary under wine: Go 1.26's
// os.RemoveAll on Windows uses a delete call that wine 8 does not implement,
// so every Windows test that uses t.TempDir fails at cleanup, whatever it
// tested. Here the Windows programs run under wine as real processes, and
// the Linux side makes their folders, reads their files and cleans up.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wine is one wine prefix, set up for one test run, with the Windows builds
// of the programs under test.
type wine struct {
	loader, server string // wine64 and wineserver
	prefix         string // WINEPREFIX
	home           string // HOME of the wine processes that are not a sandbox's
	hostExe        string // testdata/hostprog, GOOS=windows
	cliExe         string // examples/cli, GOOS=windows
	user           string // the prefix's user folder: drive_c/users/<user>
	// noise counts the lines of wine's own diagnostics taken off the
	// programs' stderr; noiseSeen keeps the first few, for the log.
	noise     atomic.Int64
	noiseMu   sync.Mutex
	noiseSeen []string
}

// Where Debian's wine64 package puts the loader and the server. The loader
// is called directly: /usr/bin/wine is a wrapper that prints a notice about
// a missing 32-bit wine.
var (
	wineLoaders = []string{"/usr/lib/wine/wine64", "wine64"}
	wineServers = []string{"/usr/lib/wine/wineserver", "/usr/lib/wine/wineserver64", "wineserver"}
)

const mingwGCC = "x86_64-w64-mingw32-gcc"

// wineInstall is what to run when the tools are missing.
const wineInstall = "apt-get install -y --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32"

func findTool(names []string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// startWine builds the Windows programs and a wine prefix to run them in,
// stopped and removed at the end of t. It skips t when wine64 or mingw is
// missing, except in CI (CI=true), where that is a failure: .ci/run installs
// them.
func startWine(t *testing.T) *wine {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the Windows checks run under Debian's wine64, on linux/amd64 (this is %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	if raceBuild {
		// The Windows builds are not race-instrumented (that needs cgo):
		// under -race this would run the same checks twice for minutes.
		t.Skip("the Windows checks run in the non-race go test: the Windows builds are not race-instrumented")
	}
	w := &wine{loader: findTool(wineLoaders), server: findTool(wineServers)}
	gcc := findTool([]string{mingwGCC})
	var missing []string
	for name, p := range map[string]string{"wine64 (" + wineLoaders[0] + ")": w.loader, "wineserver (" + wineServers[0] + ")": w.server, mingwGCC: gcc} {
		if p == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		msg := fmt.Sprintf("the Windows checks need %s, not found; install with %s", strings.Join(missing, ", "), wineInstall)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (.ci/run does)")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	w.prefix = filepath.Join(dir, "prefix")
	w.home = filepath.Join(dir, "home")
	must(t, os.Mkdir(w.home, 0o700))

	begin := time.Now()
	w.hostExe = filepath.Join(dir, "hostprog.exe")
	w.cliExe = filepath.Join(dir, "cli.exe")
	for _, b := range []struct{ out, pkg string }{{w.hostExe, "./testdata/hostprog"}, {w.cliExe, "../../examples/cli"}} {
		cmd := exec.Command(goTool(), "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s for Windows: %v\n%s", b.pkg, err, out)
		}
	}
	dll := filepath.Join(dir, "bcryptprimitives.dll")
	if out, err := exec.Command(gcc, "-shared", "-O2", "-o", dll, "testdata/wine/bcryptprimitives.c", "-lbcrypt").CombinedOutput(); err != nil {
		t.Fatalf("building the ProcessPrng stand-in: %v\n%s", err, out)
	}
	built := time.Since(begin)

	// A new prefix, the stand-in in its system32, then one wineserver kept
	// running for the whole test (-p): without it every group of processes
	// would pay for a new server and wine's services starting again.
	begin = time.Now()
	w.admin(t, w.loader, "wineboot", "-i")
	b, err := os.ReadFile(dll)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(w.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll"), b, 0o644))
	w.admin(t, w.server, "-w")
	w.admin(t, w.server, "-p")
	t.Cleanup(func() {
		// Stop the server (and every wine process left) before the
		// prefix is removed.
		_ = w.adminCmd(w.server, "-k").Run()
		_ = w.adminCmd(w.server, "-w").Run()
	})
	// The first program on a new server starts wine's services, which
	// inherit its stdout and stderr: a warm-up run whose output is a file.
	w.admin(t, w.loader, w.cliExe, "version")
	users, _ := os.ReadDir(filepath.Join(w.prefix, "drive_c", "users"))
	for _, u := range users {
		if u.IsDir() && u.Name() != "Public" {
			w.user = u.Name()
		}
	}
	if w.user == "" {
		t.Fatalf("no user folder in the new prefix's drive_c/users: %v", users)
	}
	figure(t, "Windows builds and the DLL built in %s; wine prefix made in %s", ms(built), ms(time.Since(begin)))
	return w
}

// environ is the environment of every wine process, built from scratch.
func (w *wine) environ(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"WINEPREFIX=" + w.prefix,
		// Wine's own diagnostics off; what is left is filtered off
		// stderr by programStderr.
		"WINEDEBUG=-all",
		// No desktop menus, no offer to install Mono or Gecko.
		"WINEDLLOVERRIDES=winemenubuilder.exe=d;mscoree=d;mshtml=d",
	}
}

func (w *wine) adminCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	// Telemetry off: the warm-up run must leave no state file.
	cmd.Env = append(w.environ(w.home), "IDUN_TELEMETRY_ENABLED=false")
	cmd.Dir = w.home
	return cmd
}

// admin runs a wine tool that sets the prefix up. Its output goes to a
// file, not a pipe: wine starts its server and services as daemons that
// inherit it, and a pipe would stay open as long as they run.
func (w *wine) admin(t *testing.T, bin string, args ...string) {
	t.Helper()
	log, err := os.CreateTemp(w.home, "wine-*.log")
	must(t, err)
	defer log.Close()
	cmd := w.adminCmd(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("still running after 3 minutes")
	}
	if err != nil {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("%s %q: %v\n%s", bin, args, err, out)
	}
}

// newWineSandbox is a sandbox whose programs are the Windows builds, run
// under w. Its state file is where XDG_CONFIG_HOME, set to the Windows path
// of s.config, puts it.
func newWineSandbox(t *testing.T, w *wine, host string, env ...string) *sandbox {
	t.Helper()
	s := newSandbox(t, host, env...)
	s.wine = w
	return s
}

// command prepares the Windows build of bin (hostBin or cliBin) to run
// under wine in s. Arguments that are absolute Linux paths (a report or
// progress file) are handed over as the Windows paths of the same files.
func (w *wine) command(s *sandbox, bin string, args ...string) *exec.Cmd {
	exe := map[string]string{hostBin: w.hostExe, cliBin: w.cliExe}[bin]
	if exe == "" {
		s.t.Fatalf("no Windows build of %s", bin)
	}
	winArgs := []string{exe}
	for _, a := range args {
		if strings.HasPrefix(a, "/") {
			a = winPath(a)
		}
		winArgs = append(winArgs, a)
	}
	cmd := exec.Command(w.loader, winArgs...)
	cmd.Env = append(w.environ(s.home), "XDG_CONFIG_HOME="+winPath(s.config))
	if s.host != "" {
		cmd.Env = append(cmd.Env, "IDUN_TELEMETRY_HOST="+s.host)
	}
	cmd.Env = append(cmd.Env, s.env...)
	cmd.Dir = s.root
	return cmd
}

// winPath is the path under which a Windows program under wine sees the
// Linux file p: wine maps the Linux root to drive Z:.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// defaultAppDir is the Linux path of the app folder a Windows program uses
// when XDG_CONFIG_HOME does not name a Windows absolute path: idun in the
// LocalAppData known folder of the prefix's user.
func (w *wine) defaultAppDir() string {
	return filepath.Join(w.prefix, "drive_c", "users", w.user, "AppData", "Local", "idun")
}

// wineNoise matches a line of wine's own diagnostics: a 4-digit hex thread
// id and a debug class, or wine's loader and server-client messages.
var wineNoise = regexp.MustCompile(`^(?:[0-9a-f]{4}:(?:fixme|err|warn|trace):|wine: |wine client error)`)

// programStderr is what the program itself wrote on stderr: under wine, the
// lines of wine's own diagnostics are taken off (and counted); everything
// else is the program's.
func (s *sandbox) programStderr(b []byte) []byte {
	if s.wine == nil || len(b) == 0 {
		return b
	}
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if wineNoise.Match(line) {
			s.wine.sawNoise(string(line))
			continue
		}
		out = append(out, line...)
	}
	return out
}

func (w *wine) sawNoise(line string) {
	w.noise.Add(1)
	w.noiseMu.Lock()
	defer w.noiseMu.Unlock()
	if len(w.noiseSeen) < 5 && !slices.Contains(w.noiseSeen, line) {
		w.noiseSeen = append(w.noiseSeen, line)
	}
}

// TestWineNoiseFilter pins the rule that tells wine's own diagnostics from
// the program's output, without wine: only the first kind of line is
// taken off.
func TestWineNoiseFilter(t *testing.T) {
	for _, tc := range []struct {
		line string
		wine bool
	}{
		{"0024:fixme:ntdll:NtQuerySystemInformation info_class SYSTEM_PERFORMANCE_INFORMATION\n", true},
		{"00f8:err:module:import_dll Library bcryptprimitives.dll not found\n", true},
		{"0130:warn:file:CreateFileW Unable to create file\n", true},
		{"wine: configuration in L\"/tmp/p\" has been updated.\n", true},
		{"wine client error:870: sendmsg: Bad file descriptor\n", true},
		{`{"event":"First run","distinct_id":"x"}` + "\n", false},
		{"panic: runtime error: index out of range\n", false},
		{"goroutine 1 [running]:\n", false},
		{"0024 fixme: not wine's form\n", false},
		{" 0024:fixme:ntdll: indented\n", false},
		{"00G4:fixme:ntdll: not hex\n", false},
		{"fixme:no thread id\n", false},
		{"winery: a word that starts with wine\n", false},
		{"0024:fixme:no newline at the end", true},
		{"the program's last line, no newline", false},
	} {
		s := &sandbox{wine: &wine{}}
		got := string(s.programStderr([]byte(tc.line)))
		if want := map[bool]string{true: "", false: tc.line}[tc.wine]; got != want {
			t.Errorf("%q: kept %q, want %q", tc.line, got, want)
		}
	}
	s := &sandbox{wine: &wine{}}
	mixed := "0024:fixme:ntdll:x\nprogram line\nwine: something\nlast"
	if got := string(s.programStderr([]byte(mixed))); got != "program line\nlast" {
		t.Errorf("mixed: kept %q", got)
	}
	if n := s.wine.noise.Load(); n != 2 {
		t.Errorf("%d wine lines counted, want 2", n)
	}
}
