package exporter

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// WithNotice asks New to write a short first-run notice to w: what is
// collected, how to turn it off (the environment variable and "<app>
// telemetry disable", the command package telemetrycmd provides) and where
// the state file is. The library itself never prints: the notice is the
// host's choice.
//
// The notice is written by the run that creates the installation (the one
// that gives the state file its user_id and queues the First run), and only
// when w is a terminal and the run is not in CI; that run then sends
// nothing, so that the user can turn telemetry off before the first event
// leaves: its events stay queued and the next run sends them. A first run
// whose w is not a terminal (a pipe, a file, a script) or that runs in CI
// shows no notice and sends as usual; no later run shows one. Telemetry that
// is off shows none either.
//
// Give os.Stderr. The notice never goes to standard output, where it would
// corrupt the output of a program whose stdout is read by another (a --json
// command): os.Stdout, and any file on the same descriptor, is treated as
// not a terminal. A w that is not an *os.File is not a terminal either.
func WithNotice(w io.Writer) Option {
	return optionFunc(func(c *config) { c.notice = w })
}

// holdForNotice decides, before New's first write, whether this run may
// show the notice: if it does, it must not send. looksNew says the file
// read has no user_id yet; showNotice settles it once the write tells
// whether this run made the installation.
func (e *Exporter) holdForNotice(looksNew bool) {
	if e.cfg.notice == nil || !looksNew || !terminal(e.cfg.notice) || runInCI() {
		return
	}
	e.notice = e.cfg.notice
	e.hold.Store(true)
}

// showNotice writes the notice when this run created the installation, and
// otherwise (another process created it first, or the file turned out to
// say off) lets the run send after all.
func (e *Exporter) showNotice() {
	if !e.hold.Load() {
		return
	}
	if !e.madeID.Load() || !e.Enabled() {
		e.hold.Store(false)
		if e.Enabled() {
			e.kick()
		}
		return
	}
	_, _ = io.WriteString(e.notice, noticeText(e.cfg.app, e.cfg.path))
}

// noticeText is the notice itself: short, and every way out named.
func noticeText(app App, path string) string {
	return fmt.Sprintf(`%[1]s collects anonymous usage statistics: which of its commands and features
run and how often, with its version and the operating system. No names, paths,
arguments or content. Nothing has been sent yet; the first report leaves with
the next run. To turn it off, run "%[1]s telemetry disable" or set
%[2]s=false. Settings: %[3]s
`, app.Name, app.EnvEnabled, path)
}

// terminal reports whether w is a terminal the notice may go to: an
// *os.File, not standard output, on a terminal. The descriptor is read
// through SyscallConn, since os.File.Fd would switch a non-blocking file to
// blocking mode for good.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil || f == os.Stdout {
		return false
	}
	fd, ok := descriptor(f)
	if !ok {
		return false
	}
	if out, ok := descriptor(os.Stdout); ok && out == fd {
		return false
	}
	return term.IsTerminal(int(fd))
}

func descriptor(f *os.File) (fd uintptr, ok bool) {
	if f == nil {
		return 0, false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	if rc.Control(func(d uintptr) { fd = d }) != nil {
		return 0, false
	}
	return fd, true
}

// runInCI reports whether the run is in a CI system, where nobody reads a
// notice: the detection every event reports (see ciProbe).
func runInCI() bool { isCI, _ := ciProbe(); return isCI }
