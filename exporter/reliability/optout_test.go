//go:build unix

package reliability

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// disabling lists, for each variable, values that must turn telemetry off.
// IDUN_TELEMETRY_ENABLED: anything but true|1|yes|on (typos included);
// DO_NOT_TRACK: anything but empty, 0 or false; OTEL_SDK_DISABLED: true.
var disabling = map[string][]string{
	"IDUN_TELEMETRY_ENABLED": {"false", "0", "no", "off", "FALSE", "False", " false ", "flase", "disabled", "n", "-1", "nope"},
	"DO_NOT_TRACK":           {"1", "true", "yes", "TRUE", "on", "2", "anything", " 1 "},
	"OTEL_SDK_DISABLED":      {"true", "TRUE", " True "},
}

// strace finds strace: in CI it must be there (.ci/run installs it).
func strace(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("strace is not installed; CI must install it (apt-get install -y strace)")
		}
		t.Skip("strace is not installed")
	}
	return p
}

// TestReliabilityOptOut runs the programs under strace -f with every
// disabling value of the opt-out variables: no system call names anything
// under HOME (so nothing under the config folder is opened, created or even
// looked at), no socket is made and no connect() happens, and HOME stays
// empty.
func TestReliabilityOptOut(t *testing.T) {
	st := strace(t)
	type variant struct {
		name string
		xdg  bool // XDG_CONFIG_HOME set, else the default ~/.config
		env  []string
	}
	var variants []variant
	for _, name := range []string{"IDUN_TELEMETRY_ENABLED", "DO_NOT_TRACK", "OTEL_SDK_DISABLED"} {
		for i, v := range disabling[name] {
			variants = append(variants, variant{name: name + "=" + v, xdg: i%2 == 0, env: []string{name + "=" + v}})
		}
	}
	variants = append(variants,
		variant{name: "both", xdg: true, env: []string{"IDUN_TELEMETRY_ENABLED=false", "DO_NOT_TRACK=1"}},
		variant{name: "enabled-typo-beats-dnt-0", xdg: false, env: []string{"IDUN_TELEMETRY_ENABLED=treu", "DO_NOT_TRACK=0"}},
	)
	programs := []struct {
		name string
		bin  string
		args []string
		want int
	}{
		{"hostprog", hostBin, []string{"-exit", "7", "-add", perProcess}, hostExit},
		{"cli-version", cliBin, []string{"version"}, 0},
		{"cli-status", cliBin, []string{"telemetry", "status", "--json"}, 0},
	}
	syscalls := 0
	runs := 0
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			sink := newSink(t)
			s := newSandbox(t, sink.URL, v.env...)
			for _, p := range programs {
				trace := filepath.Join(s.root, "trace-"+p.name)
				cmd := s.command(st, append([]string{"-f", "-qq", "-e", "trace=%file,%network", "-o", trace, p.bin}, p.args...)...)
				if !v.xdg {
					cmd.Env = withoutXDG(cmd.Env)
				}
				r := s.runCmd(cmd)
				runs++
				if r.code != p.want || len(r.stderr) != 0 || (p.name == "hostprog" && len(r.stdout) != 0) {
					t.Errorf("%s: %v", p.name, r)
				}
				if p.name == "cli-status" && !bytes.Contains(r.stdout, []byte(`"enabled": false`)) {
					t.Errorf("status does not say off: %s", r.stdout)
				}
				n, bad := scanTrace(t, trace, s.home)
				syscalls += n
				for _, line := range bad {
					t.Errorf("%s: %s", p.name, line)
				}
			}
			if e := s.homeEntries(); len(e) != 0 {
				t.Errorf("created under HOME: %v", e)
			}
			if n := sink.Requests(); n != 0 {
				t.Errorf("%d requests reached the sink", n)
			}
		})
	}
	// The control: with telemetry on, the same trace does see the config
	// folder and the connection, so the checks above can fail.
	t.Run("control-enabled", func(t *testing.T) {
		sink := newSink(t)
		s := newSandbox(t, sink.URL)
		trace := filepath.Join(s.root, "trace")
		r := s.runCmd(s.command(st, "-f", "-qq", "-e", "trace=%file,%network", "-o", trace, hostBin, "-grace", "5s", "-add", perProcess))
		r.silent(t, "hostprog, telemetry on", 0)
		_, seen := scanTrace(t, trace, s.home)
		var home, connect bool
		for _, line := range seen {
			home = home || strings.Contains(line, s.home)
			connect = connect || strings.Contains(line, " connect(")
		}
		if !home || !connect || sink.Requests() == 0 {
			t.Errorf("the trace of an enabled run shows HOME %v, connect %v (%d requests)", home, connect, sink.Requests())
		}
	})
	figure(t, "%d opt-out settings x %d programs = %d runs under strace -f: %d file and network system calls traced, 0 under HOME, 0 socket(), 0 connect(), 0 files created, 0 requests", len(variants), len(programs), runs, syscalls)
}

// scanTrace returns how many system calls the trace holds and the ones
// that touch home or the network.
func scanTrace(t *testing.T, path, home string) (int, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	var bad []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		n++
		if strings.Contains(line, home) || strings.Contains(line, " socket(") || strings.Contains(line, " connect(") {
			bad = append(bad, line)
		}
	}
	return n, bad
}

func withoutXDG(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			out = append(out, kv)
		}
	}
	return out
}
