//go:build unix

package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// hostExit is the exit code hostprog is told to use: telemetry must not
// change it.
const hostExit = 7

// failure is one way the PostHog host can fail.
type failure struct {
	name string
	// start returns the host URL and what it accepted so far (UUIDs, in
	// arrival order, duplicates included).
	start func(t *testing.T) (url string, accepted func() []string)
}

func posthogMode(mode posthogtest.Mode, delay time.Duration) func(t *testing.T) (string, func() []string) {
	return func(t *testing.T) (string, func() []string) {
		srv := newSink(t)
		srv.SetMode(mode)
		srv.SetDelay(delay)
		return srv.URL, func() []string { return uuids(srv.Events()) }
	}
}

func uuids(evs []posthogtest.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.UUID)
	}
	return out
}

func failures() []failure {
	return []failure{
		{"refused", func(t *testing.T) (string, func() []string) {
			// A port that was just listening and is closed now.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "http://" + ln.Addr().String()
			ln.Close()
			return url, func() []string { return nil }
		}},
		{"500", posthogMode(posthogtest.Error500, 0)},
		{"429-retry-after", posthogMode(posthogtest.TooMany, 0)},
		{"hang", posthogMode(posthogtest.Hang, 0)},
		{"slow-2s", posthogMode(posthogtest.Slow, 2*time.Second)},
		{"slow-100ms", posthogMode(posthogtest.Slow, 100*time.Millisecond)},
		{"reset-before-answer", posthogMode(posthogtest.Reset, 0)},
		{"reset-mid-headers", cutServer("HTTP/1.1 200 OK\r\nContent-Ty")},
		{"reset-mid-body", cutServer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"sta")},
		{"garbage", posthogMode(posthogtest.Garbage, 0)},
		{"unresolvable", func(t *testing.T) (string, func() []string) {
			// RFC 6761: .invalid never resolves.
			return "http://idun-telemetry.invalid", func() []string { return nil }
		}},
	}
}

// cutServer accepts each batch (it records the events) and then answers
// with prefix only, resetting the connection mid-response.
func cutServer(prefix string) func(t *testing.T) (string, func() []string) {
	return func(t *testing.T) (string, func() []string) {
		var mu sync.Mutex
		var got []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var req struct {
				Batch []struct {
					UUID string `json:"uuid"`
				} `json:"batch"`
			}
			if json.Unmarshal(body, &req) == nil {
				mu.Lock()
				for _, ev := range req.Batch {
					got = append(got, ev.UUID)
				}
				mu.Unlock()
			}
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString(prefix)
			_ = buf.Flush()
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}))
		t.Cleanup(srv.Close)
		return srv.URL, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), got...)
		}
	}
}

// TestReliabilityNetwork runs the host programs against a PostHog host that
// fails in every way we know: nothing on their stdout or stderr, exit codes
// unchanged, exit delayed by at most the grace; once the host is healthy
// again every queued event arrives exactly once, with the same UUID.
func TestReliabilityNetwork(t *testing.T) {
	grace := exporter.DefaultGrace
	// What the programs take with telemetry off.
	off := newSandbox(t, "", "IDUN_TELEMETRY_ENABLED=false")
	var offHost, offCLI, offServer []time.Duration
	for range 5 {
		r := off.hostprog("-exit", "7", "-add", perProcess)
		r.silent(t, "hostprog, telemetry off", hostExit)
		offHost = append(offHost, r.took)
		c := off.cli("version")
		offCLI = append(offCLI, c.took)
		offServer = append(offServer, serverStop(t, off).took)
	}
	versionOut := string(off.cli("version").stdout)
	baseHost, baseCLI, baseServer := median(offHost), median(offCLI), median(offServer)
	figure(t, "telemetry off: hostprog %s, cli version %s, server SIGTERM->exit %s (medians of 5)", ms(baseHost), ms(baseCLI), ms(baseServer))

	// Slack for scheduling noise on a loaded 2-core machine, on top of the
	// grace and the abort's own bound.
	slack := 250 * time.Millisecond
	if raceBuild {
		slack = 600 * time.Millisecond
	}
	var worst time.Duration
	var worstName string
	for _, f := range append([]failure{{"healthy", posthogMode(posthogtest.OK, 0)}}, failures()...) {
		t.Run(f.name, func(t *testing.T) {
			url, accepted := f.start(t)
			// One new installation per program, so each has a First run
			// in flight when it exits.
			sh, sc, ss := newSandbox(t, url), newSandbox(t, url), newSandbox(t, url)
			r := sh.hostprog("-exit", "7", "-add", perProcess)
			r.silent(t, "hostprog", hostExit)
			if !r.report.Enabled {
				t.Fatalf("telemetry off: %+v", r.report)
			}
			c := sc.cli("version")
			if c.code != 0 || len(c.stderr) != 0 || string(c.stdout) != versionOut {
				t.Errorf("cli version: %v", c)
			}
			sv := serverStop(t, ss)
			addHost, addCLI, addServer := r.took-baseHost, c.took-baseCLI, sv.took-baseServer
			shutdown := time.Duration(r.report.ShutdownNS)
			limit := grace + 50*time.Millisecond + slack
			for what, d := range map[string]time.Duration{"hostprog exit": addHost, "cli exit": addCLI, "server stop": addServer, "hostprog Shutdown": shutdown} {
				if d > limit {
					t.Errorf("%s added %v (grace %v)", what, d, grace)
				}
				if d > worst && f.name != "healthy" {
					worst, worstName = d, f.name+" "+what
				}
			}
			if n := time.Duration(r.report.NewNS); n > 100*time.Millisecond {
				t.Errorf("exporter.New took %v: it must not wait for the network", n)
			}

			// The host heals: the queued events arrive once, same UUIDs.
			queued := map[string]string{}
			delays := 0
			for _, s := range []*sandbox{sh, sc, ss} {
				for _, ev := range s.load().Pending {
					queued[ev.UUID] = ev.Event
				}
				delays += expireDelay(t, s)
			}
			good := newSink(t)
			for _, s := range []*sandbox{sh, sc, ss} {
				for range 2 {
					cmd := s.command(hostBin, "-grace", "5s")
					cmd.Env = append(cmd.Env, "IDUN_TELEMETRY_HOST="+good.URL)
					s.runCmd(cmd).silent(t, "run after healing", 0)
				}
				if st := s.load(); len(st.Pending) != 0 {
					t.Errorf("outbox not empty after healing: %+v", st.Pending)
				}
			}
			noRejects(t, good)
			delivered := map[string]int{}
			for _, id := range uuids(good.Events()) {
				delivered[id]++
			}
			before := map[string]int{}
			for _, id := range accepted() {
				before[id]++
			}
			if f.name != "healthy" && len(queued) == 0 && len(before) == 0 {
				t.Errorf("nothing was queued by the failing host")
			}
			for id, name := range queued {
				if before[id]+delivered[id] == 0 {
					t.Errorf("%s %s never arrived", name, id)
				}
			}
			for id, n := range delivered {
				if n > 1 {
					t.Errorf("%s delivered %d times after healing", id, n)
				}
			}
			// Each new installation: a First run, and the first Heartbeat
			// with its run's counts.
			if n := len(before) + len(delivered) - overlap(before, delivered); n != 6 {
				t.Errorf("%d distinct events arrived from 3 new installations, want 6", n)
			}
			dups := 0
			for id, n := range before {
				dups += n - 1 + delivered[id]
			}
			figure(t, "exit codes kept, 0 bytes stdout/stderr; added exit time: hostprog %s (its Shutdown %s), cli %s, server stop %s; %d events queued (%d send delays of aborted sends, expired through the file), %d accepted before healing, %d after; same-UUID resends %d",
				ms(addHost), ms(shutdown), ms(addCLI), ms(addServer), len(queued), delays, len(before), len(delivered), dups)
		})
	}
	figure(t, "worst added exit time %s (%s) with a %s grace", ms(worst), worstName, ms(grace))
}

// startServer starts the example server in s and waits until it listens:
// it returns the running command, the address it listens on, the rest of
// its stdout and its stderr.
func startServer(t *testing.T, s *sandbox) (*exec.Cmd, string, io.Reader, *syncBuffer) {
	t.Helper()
	cmd := s.command(serverBin, "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &syncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("server: first line %q (%v); stderr %s", line, err, errb.Bytes())
	}
	return cmd, addr, out, errb
}

// serverStop starts the example server, waits until it listens, sends
// SIGTERM and returns how long the exit took from the signal.
func serverStop(t *testing.T, s *sandbox) result {
	t.Helper()
	cmd, _, stdout, errb := startServer(t, s)
	go copyDiscard(stdout)
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("server still running 20s after SIGTERM")
	}
	r := result{code: cmd.ProcessState.ExitCode(), stderr: errb.Bytes(), took: time.Since(start)}
	if r.code != 0 || len(r.stderr) != 0 {
		t.Errorf("server: %v", r)
	}
	return r
}

// expireDelay moves the send schedule's next attempt into the past, as if
// its delay had passed: the clock is faked through the file, not in the
// process. It returns 1 when there was a delay, else 0.
func expireDelay(t *testing.T, s *sandbox) int {
	t.Helper()
	n := 0
	err := state.New(s.statePath()).Update(context.Background(), func(st *state.State) error {
		if st.Delivery.NextAttemptAt != nil {
			past := time.Now().Add(-time.Second).UTC()
			st.Delivery.NextAttemptAt = &past
			n = 1
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func overlap(a, b map[string]int) int {
	n := 0
	for k := range a {
		if b[k] > 0 {
			n++
		}
	}
	return n
}
