package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: what a user's shell gives a program.
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
	return m, s
}

// cliOnTerminal runs the CLI with its stderr on a terminal and its stdout
// on a pipe, as "idun version | cat" in a shell, and returns what each got.
func (s *sandbox) cliOnTerminal(args ...string) (code int, stdout, terminal string) {
	s.t.Helper()
	master, slave := openPTY(s.t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin, args...)
	cmd.Env = s.environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, slave
	read := make(chan string)
	go func() {
		// Ends with EIO once every copy of the slave is closed.
		b, _ := io.ReadAll(master)
		read <- strings.ReplaceAll(string(b), "\r\n", "\n")
	}()
	err := cmd.Start()
	slave.Close() // the child holds its own copy
	if err != nil {
		s.t.Fatal(err)
	}
	_ = cmd.Wait()
	return cmd.ProcessState.ExitCode(), out.String(), <-read
}

// examples/cli shows the first-run notice on stderr when it is a terminal:
// once, in the run that creates the installation, which sends nothing; the
// next run sends the First run. Never on stdout, never in CI.
func TestFirstRunNotice(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	code, stdout, term := s.cliOnTerminal("version")
	if code != 0 || stdout != versionLine {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{
		"idun collects anonymous usage statistics",
		`To turn it off, run "idun telemetry disable" or set`,
		"IDUN_TELEMETRY_ENABLED=false. Settings: " + s.statePath() + "\n",
	} {
		if !strings.Contains(term, want) {
			t.Errorf("the terminal got %q; want it to hold %q", term, want)
		}
	}
	if n := s.sink.Requests(); n != 0 {
		t.Errorf("the run that showed the notice sent %d requests", n)
	}
	// The First run and the first Heartbeat wait for the next run.
	if st := s.load(); len(st.Pending) != 2 || st.Pending[0].Event != "First run" || st.Pending[1].Event != "Heartbeat" {
		t.Errorf("pending %+v, want the First run and the Heartbeat queued", st.Pending)
	}

	code, stdout, term = s.cliOnTerminal("version")
	if code != 0 || stdout != versionLine || term != "" {
		t.Errorf("second run: exit %d, stdout %q, terminal %q; want no notice", code, stdout, term)
	}
	if n := len(s.sink.Named("First run")); n != 1 {
		t.Errorf("%d First run events after the second run, want 1", n)
	}

	// A user who read the notice and opted out: nothing more is sent.
	u := newSandbox(t)
	u.cliOnTerminal("version")
	s.ok(u.cli("telemetry", "disable"), "")
	u.cliOnTerminal("version")
	if n := u.sink.Requests(); n != 0 {
		t.Errorf("after the notice and telemetry disable: %d requests", n)
	}
}

func TestNoNoticeInCI(t *testing.T) {
	t.Parallel()
	for _, env := range []string{"CI=true", "GITHUB_ACTIONS=true", "BUILD_NUMBER=12"} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t, env)
			code, stdout, term := s.cliOnTerminal("version")
			if code != 0 || stdout != versionLine || term != "" {
				t.Errorf("exit %d, stdout %q, terminal %q; want no notice in CI", code, stdout, term)
			}
			if n := len(s.sink.Named("First run")); n != 1 {
				t.Errorf("%d First run events, want 1: CI sends in its first run", n)
			}
		})
	}
}
