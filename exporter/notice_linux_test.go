package exporter

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
)

// openPTY opens a pseudo-terminal: what a user's shell gives a program as
// its stderr.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// drain returns what was written to the terminal up to now: it writes a
// marker after it and reads up to the marker, so no timing is involved.
func drain(t *testing.T, master, slave *os.File) string {
	t.Helper()
	const marker = "--end of output--"
	if _, err := slave.WriteString(marker + "\n"); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r := bufio.NewReader(master)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the terminal: %v (read %q)", err, out.String())
		}
		line = strings.TrimRight(line, "\r\n")
		if line == marker {
			return out.String()
		}
		out.WriteString(line + "\n")
	}
}

func TestTerminal(t *testing.T) {
	_, slave := openPTY(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"pty", slave, true},
		{"pipe", w, false},
		{"buffer", &bytes.Buffer{}, false},
		{"os.Stdout", os.Stdout, false},
		{"nil file", (*os.File)(nil), false},
		{"nil", nil, false},
	} {
		if got := terminal(tc.w); got != tc.want {
			t.Errorf("terminal(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A terminal that is standard output is refused too.
	stdout := os.Stdout
	os.Stdout = slave
	defer func() { os.Stdout = stdout }()
	if terminal(slave) {
		t.Error("terminal(os.Stdout on a terminal) = true")
	}
}

// The notice is shown once, by the run that creates the installation, on a
// terminal; that run sends nothing, and the next one sends the First run
// and shows no notice. CI is tested on the CLI in examples/e2e, since the
// CI detector reads the environment once per process.
func TestNoticeOnTerminal(t *testing.T) {
	if runInCI() {
		t.Skip("this process runs in CI, where no notice is shown (see examples/e2e)")
	}
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	master, slave := openPTY(t)
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	opts := []Option{WithHost(srv.URL), WithNotice(slave), WithGrace(5 * time.Second)}

	runOnce(t, map[string]int64{"cli.version.count": 1}, opts...)
	got := drain(t, master, slave)
	want := `idun collects anonymous usage statistics: which of its commands and features
run and how often, with its version and the operating system. No names, paths,
arguments or content. Nothing has been sent yet; the first report leaves with
the next run. To turn it off, run "idun telemetry disable" or set
IDUN_TELEMETRY_ENABLED=false. Settings: ` + path + "\n"
	if got != want {
		t.Errorf("notice:\n%s\nwant:\n%s", got, want)
	}
	if n := srv.Requests(); n != 0 {
		t.Errorf("the run that showed the notice sent %d requests", n)
	}
	// The First run and the first Heartbeat (with the run's count) wait.
	if st := load(t, path); len(st.Pending) != 2 || st.Pending[0].Event != EventFirstRun || st.Pending[1].Properties["cli.version.count"] != 1 {
		t.Errorf("after the notice run: pending %+v, counters %v; want the First run and the Heartbeat with the count queued", st.Pending, st.Counters)
	}

	runOnce(t, map[string]int64{"cli.version.count": 1}, opts...)
	if got := drain(t, master, slave); got != "" {
		t.Errorf("the second run printed %q", got)
	}
	if evs := srv.Named(EventFirstRun); len(evs) != 1 {
		t.Errorf("the second run sent %d First run events, want 1", len(evs))
	}
	noRejects(t, srv)
}

// On anything but a terminal the notice is not shown, and the run sends as
// it would without WithNotice.
func TestNoNoticeOffTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]*os.File{"pipe": w, "stdout": os.Stdout} {
		t.Run(name, func(t *testing.T) {
			isolate(t)
			srv := posthogtest.NewServer()
			defer srv.Close()
			runOnce(t, nil, WithHost(srv.URL), WithNotice(out), WithGrace(5*time.Second))
			if evs := srv.Named(EventFirstRun); len(evs) != 1 {
				t.Errorf("%d First run events sent, want 1", len(evs))
			}
		})
	}
	w.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r)
	if buf.Len() != 0 {
		t.Errorf("the pipe got %q", buf.String())
	}
}

// An opt-out shows no notice: nothing is created.
func TestNoNoticeWhenOff(t *testing.T) {
	isolate(t)
	t.Setenv(EnvDoNotTrack, "1")
	master, slave := openPTY(t)
	runOnce(t, nil, WithNotice(slave))
	if got := drain(t, master, slave); got != "" {
		t.Errorf("printed %q", got)
	}
}
