//go:build unix

package reliability

import (
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// procs is how many processes start at once.
const procs = 50

// perProcess is what each process adds: 7 counts over four counters, through
// a raw OTel counter and the instrument helpers.
const perProcess = "raw:cli.version.count=3,cli:run=2,feature:memory=1,workflow:LANGGRAPH=1"

const countsPerProcess = 7

// startTogether starts n copies of hostprog held at a start line (their
// stdin), releases them all at once and waits for every one.
func (s *sandbox) startTogether(n int, args ...string) []result {
	s.t.Helper()
	cmds := make([]*exec.Cmd, n)
	stdins := make([]io.WriteCloser, n)
	results := make([]result, n)
	var wg sync.WaitGroup
	var startErr error
	var mu sync.Mutex
	for i := range n {
		cmd := s.command(hostBin, append([]string{"-barrier"}, args...)...)
		in, err := cmd.StdinPipe()
		if err != nil {
			s.t.Fatal(err)
		}
		cmds[i], stdins[i] = cmd, in
	}
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					startErr = fmt.Errorf("%v", r)
					mu.Unlock()
				}
			}()
			<-ready
			results[i] = s.runCmdNoFatal(cmds[i])
		}()
	}
	close(ready)
	// Let every process reach its start line, then release them together.
	time.Sleep(300 * time.Millisecond)
	for _, in := range stdins {
		in.Close()
	}
	wg.Wait()
	if startErr != nil {
		s.t.Fatal(startErr)
	}
	return results
}

// runCmdNoFatal is runCmd for use off the test's goroutine.
func (s *sandbox) runCmdNoFatal(cmd *exec.Cmd) result {
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{code: -100, stderr: []byte(err.Error())}
	}
	_ = cmd.Wait()
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.Bytes(), stderr: s.programStderr(errb.Bytes()), took: time.Since(start)}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

// TestReliabilityConcurrency starts 50 processes at once on one state file,
// each adding 7 counts: counts persisted + counts sent = counts added,
// exactly; one First run per installation, one Heartbeat per 24 h window,
// and the user_id never changes.
func TestReliabilityConcurrency(t *testing.T) {
	rounds := 1
	if *long {
		rounds = 10
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("fresh/%d", round), func(t *testing.T) { concurrent(t, nil) })
		t.Run(fmt.Sprintf("heartbeat-due/%d", round), func(t *testing.T) {
			concurrent(t, map[string]int64{"cli.version.count": 11, "feature.memory.count": 4})
		})
		t.Run(fmt.Sprintf("heartbeat-due-no-counts/%d", round), func(t *testing.T) { concurrent(t, map[string]int64{}) })
	}
	t.Run("examples-cli", concurrentCLI)
}

// concurrent runs the scenario; before nil is a new installation, otherwise
// an existing one with those counts whose Heartbeat is due.
func concurrent(t *testing.T, before map[string]int64) {
	sink := newSink(t)
	s := newSandbox(t, sink.URL)
	var userID string
	now := time.Now().UTC()
	if before != nil {
		userID = uuid.NewString()
		s.writeState(map[string]any{
			"user_id":           userID,
			"created_at":        now.Add(-72 * time.Hour),
			"last_heartbeat_at": now.Add(-25 * time.Hour),
			"counters":          before,
			"pending":           []any{},
			"sent":              []any{},
		})
	}
	begin := time.Now()
	results := s.startTogether(procs, "-add", perProcess)
	took := time.Since(begin)
	for i, r := range results {
		r.silent(t, fmt.Sprintf("process %d", i), 0)
	}
	// A last run with a long grace delivers whatever the 50 left queued,
	// after the delay of sends cut off at exit has run out (faked through
	// the file's delivery.next_attempt_at).
	cutOff := cutOffUUIDs(s)
	delays := expireDelay(t, s)
	s.hostprog("-grace", "5s").silent(t, "drain run", 0)
	noRejects(t, sink)
	rawDuplicates(t, sink, cutOff)

	st := s.load()
	if userID == "" {
		userID = st.UserID
	}
	if st.UserID != userID {
		t.Fatalf("user_id changed: %s -> %s", userID, st.UserID)
	}
	added := int64(procs*countsPerProcess) + sum(before)
	persisted := sum(st.Counters)
	heartbeats := eventsNamed(sink.Unique(), "Heartbeat")
	queued := pendingNamed(st, "Heartbeat")
	sent := eventCounts(heartbeats)
	inOutbox := int64(0)
	for _, ev := range queued {
		inOutbox += counterSum(ev.Properties)
	}
	if persisted+sent+inOutbox != added {
		t.Errorf("counts: %d added != %d persisted + %d sent + %d queued; counters %v", added, persisted, sent, inOutbox, st.Counters)
	}
	for _, ev := range sink.Events() {
		if ev.DistinctID != userID {
			t.Errorf("%s sent with distinct_id %s, want %s", ev.Event, ev.DistinctID, userID)
		}
	}
	// PostHog keeps one event per UUID: that is what "sent once" means. A
	// process whose exit cut off the write of the acknowledgement leaves
	// the event queued, and a later run resends it with the same UUID;
	// those raw resends are counted in the figure.
	firstRuns := len(eventsNamed(sink.Unique(), "First run"))
	rawFirst := len(eventsNamed(sink.Events(), "First run"))
	rawBeats := len(eventsNamed(sink.Events(), "Heartbeat"))
	// A new installation: one First run, and its first Heartbeat from
	// whichever process exported its counts first.
	wantFirst, wantBeats := 1, 1
	if before != nil {
		wantFirst, wantBeats = 0, 1
	}
	if firstRuns != wantFirst {
		t.Errorf("%d distinct First run events, want %d", firstRuns, wantFirst)
	}
	if len(heartbeats) != wantBeats {
		t.Errorf("%d distinct Heartbeat events (raw %d), want %d", len(heartbeats), rawBeats, wantBeats)
	}
	if len(st.Pending) != 0 {
		t.Errorf("outbox not empty after the drain run: %+v", st.Pending)
	}
	if before != nil && (st.LastHeartbeatAt == nil || !st.LastHeartbeatAt.After(now.Add(-time.Minute))) {
		t.Errorf("last_heartbeat_at not moved to now: %v", st.LastHeartbeatAt)
	}
	figure(t, "%d processes x %d counts in %s: %d added (incl. %d already stored) = %d persisted + %d sent + %d queued; %d First run (raw %d), %d Heartbeat (raw %d); user_id unchanged; %d requests; %d send delays left by sends cut off at exit",
		procs, countsPerProcess, ms(took), added, sum(before), persisted, sent, inOutbox, firstRuns, rawFirst, len(heartbeats), rawBeats, sink.Requests(), delays)
}

// concurrentCLI runs the example CLI 50 times at once on a new installation.
func concurrentCLI(t *testing.T) {
	sink := newSink(t)
	s := newSandbox(t, sink.URL)
	want := s.cli("version") // also creates the installation
	if want.code != 0 || len(want.stderr) != 0 {
		t.Fatalf("cli version: %v", want)
	}
	var wg sync.WaitGroup
	results := make([]result, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.runCmdNoFatal(s.command(cliBin, "version"))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || len(r.stderr) != 0 || string(r.stdout) != string(want.stdout) {
			t.Errorf("cli %d: %v", i, r)
		}
	}
	cutOff := cutOffUUIDs(s)
	expireDelay(t, s)
	s.hostprog("-grace", "5s").silent(t, "drain run", 0)
	noRejects(t, sink)
	rawDuplicates(t, sink, cutOff)
	// The first run's count went in the installation's first Heartbeat.
	st := s.load()
	sent := eventCounts(eventsNamed(sink.Unique(), "Heartbeat"))
	if got := st.Counters["cli.version.count"]; got+sent != procs+1 || sent != 1 {
		t.Errorf("cli.version.count = %d left + %d sent, want %d + 1", got, sent, procs)
	}
	if n := len(eventsNamed(sink.Unique(), "First run")); n != 1 {
		t.Errorf("%d distinct First run events, want 1", n)
	}
	figure(t, "%d concurrent `cli version` (+1 before): cli.version.count = %d left + %d sent, %d First run (raw %d)", procs, st.Counters["cli.version.count"], sent, len(eventsNamed(sink.Unique(), "First run")), len(eventsNamed(sink.Events(), "First run")))
}

// cutOffUUIDs are the queued events an attempt may have sent already: those
// of an outbox whose schedule holds a delay (an attempt failed, or was cut
// off at exit after the host got the events).
func cutOffUUIDs(s *sandbox) map[string]bool {
	cut := map[string]bool{}
	st := s.load()
	if st.Delivery.NextAttemptAt == nil {
		return cut
	}
	for _, ev := range st.Pending {
		cut[ev.UUID] = true
	}
	return cut
}

// rawDuplicates checks the sends themselves, before PostHog's
// deduplication: an event is sent once, or twice when its first send was
// cut off at exit (the schedule's delay was left, and the drain run sent
// it again). A claim that ignored the schedule would send the same event
// from many processes at once, which deduplication hides.
func rawDuplicates(t *testing.T, sink *posthogtest.Server, cutOff map[string]bool) {
	t.Helper()
	sends := map[string]int{}
	for _, ev := range sink.Events() {
		sends[ev.UUID]++
	}
	for id, n := range sends {
		if n > 2 || (n == 2 && !cutOff[id]) {
			t.Errorf("event %s received %d times (queued behind a cut-off send: %v)", id, n, cutOff[id])
		}
	}
}

func eventsNamed(evs []posthogtest.Event, name string) []posthogtest.Event {
	var out []posthogtest.Event
	for _, ev := range evs {
		if ev.Event == name {
			out = append(out, ev)
		}
	}
	return out
}

func pendingNamed(st *state.State, name string) []state.Event {
	var out []state.Event
	for _, ev := range st.Pending {
		if ev.Event == name {
			out = append(out, ev)
		}
	}
	return out
}
