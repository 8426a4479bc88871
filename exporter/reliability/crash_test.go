//go:build unix

package reliability

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// TestReliabilityCrash SIGKILLs a write-heavy program (add 1, flush to the
// journal, forever; one of the two also folds the journal into the state
// file after each flush) at random moments, two processes at a time on one
// file: the file always parses, the user_id never changes, no lock is left
// held, and the counts lost are at most the killed processes' unflushed
// deltas (one count each), none of what a flush had returned.
func TestReliabilityCrash(t *testing.T) {
	rounds := 10 // two kills each
	if *long {
		rounds = 110
	}
	const perRound = 2
	maxDelay := 400 * time.Millisecond
	if raceBuild {
		maxDelay = 800 * time.Millisecond
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x1d0))
	t.Logf("seed %d", seed)

	sink := newSink(t)
	s := newSandbox(t, sink.URL)
	progressDir := filepath.Join(s.root, "progress")
	if err := os.MkdirAll(progressDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var (
		userID     string
		acked      int64
		kills      int
		tmpSeen    = map[string]bool{}
		foldsCut   int // rounds that ended with a folding file left
		firstSeen  string
		progressOf = func(i int) string { return filepath.Join(progressDir, fmt.Sprintf("p%d", i)) }
	)
	for round := range rounds {
		type running struct {
			cmd   *chanResult
			delay time.Duration
		}
		var procs []running
		for p := range perRound {
			args := []string{"-loop", "-progress", progressOf(round*perRound + p)}
			if p == 0 {
				args = append(args, "-fold")
			}
			cmd := s.command(hostBin, args...)
			procs = append(procs, running{cmd: startAsync(s, cmd), delay: time.Duration(rng.Int64N(int64(maxDelay)))})
		}
		for _, p := range procs {
			p := p
			go func() {
				time.Sleep(p.delay)
				_ = p.cmd.cmd.Process.Signal(syscall.SIGKILL)
			}()
		}
		for _, p := range procs {
			r := p.cmd.wait()
			if !r.signaled {
				t.Fatalf("round %d: the write-heavy program ended by itself: %v", round, r)
			}
			if len(r.stdout) != 0 || len(r.stderr) != 0 {
				t.Errorf("round %d: output before the kill: %v", round, r)
			}
			kills++
		}

		// The file, if any, parses and keeps its user_id.
		st, err := loadIfExists(s.statePath())
		if err != nil {
			t.Fatalf("round %d: state file unusable after SIGKILL: %v", round, err)
		}
		if st != nil && st.UserID != "" {
			if userID == "" {
				userID = st.UserID
			} else if st.UserID != userID {
				t.Fatalf("round %d: user_id changed: %s -> %s", round, userID, st.UserID)
			}
			for _, ev := range st.Pending {
				if ev.Event == "First run" {
					if firstSeen == "" {
						firstSeen = ev.UUID
					} else if ev.UUID != firstSeen {
						t.Fatalf("round %d: a second First run was queued: %s, then %s", round, firstSeen, ev.UUID)
					}
				}
			}
		}
		// No lock is left held.
		if _, err := os.Stat(s.statePath() + ".lock"); err == nil {
			l := flock.New(s.statePath() + ".lock")
			ok, err := l.TryLock()
			if err != nil || !ok {
				t.Fatalf("round %d: lock still held after the kill (%v)", round, err)
			}
			_ = l.Unlock()
		}
		left, _ := filepath.Glob(filepath.Join(s.config, "idun", ".*.tmp"))
		for _, f := range left {
			tmpSeen[f] = true
		}
		// A fold cut short leaves folding files behind; the next fold
		// takes them.
		if f, _ := filepath.Glob(filepath.Join(s.config, "idun", "counts.*.folding")); len(f) > 0 {
			foldsCut++
		}
		for p := range perRound {
			fi, err := os.Stat(progressOf(round*perRound + p))
			if err == nil {
				acked += fi.Size()
			}
		}
	}

	// The next run proceeds normally and, once the killed senders' delay
	// has run out (faked through the file), delivers what is queued.
	delays := expireDelay(t, s)
	r := s.hostprog("-grace", "5s", "-add", "raw:cli.after.count=1")
	r.silent(t, "run after the kills", 0)
	if r.took > 10*time.Second {
		t.Errorf("run after the kills took %v", r.took)
	}
	st := s.load()
	if userID != "" && st.UserID != userID {
		t.Fatalf("user_id changed: %s -> %s", userID, st.UserID)
	}
	// A new installation's first Heartbeat took the first flush's counts:
	// they count as persisted, delivered or still queued.
	stored := st.Counters["cli.crash.count"]
	persisted := stored + inHeartbeats(sink, st, "cli.crash.count")
	if persisted < acked {
		t.Errorf("lost flushed counts: %d flushed before the kills, %d persisted", acked, persisted)
	}
	if persisted > acked+int64(kills) {
		t.Errorf("counted twice: %d persisted > %d flushed + %d in flight at the kills", persisted, acked, kills)
	}
	// The next fold writes the file, and its brief, over what the kills
	// left, and moves no count.
	foldLeavesNothing(t, s)
	if again := s.load().Counters["cli.crash.count"]; again != stored {
		t.Errorf("the fold after the kills changed the count: %d, was %d", again, stored)
	}
	noRejects(t, sink)
	first := eventsNamed(sink.Unique(), "First run")
	if len(first) > 1 {
		t.Errorf("%d distinct First run events delivered", len(first))
	}
	if len(first) == 1 && firstSeen != "" && first[0].UUID != firstSeen {
		t.Errorf("First run delivered as %s, queued as %s", first[0].UUID, firstSeen)
	}
	queued := pendingNamed(st, "First run")
	if len(first) != 1 || len(queued) != 0 {
		t.Errorf("First run: %d delivered + %d queued, want exactly 1 delivered", len(first), len(queued))
	}
	figure(t, "%d SIGKILLs at 0-%s: file parsed after %d/%d, user_id changed 0 times, lock free after %d/%d; %d counts flushed before the kills, %d persisted (lost 0 flushed, %d in-flight counts of %d killed processes kept); kills inside a write (temp file found) %d, temp or folding files left after the next fold 0, rounds ending with a fold cut short %d; First run %d delivered (%d raw, same UUID) + %d queued after %d send delays of killed senders ran out",
		kills, ms(maxDelay), rounds, rounds, rounds, rounds, acked, persisted, persisted-acked, kills, len(tmpSeen), foldsCut, len(first), len(eventsNamed(sink.Events(), "First run")), len(queued), delays)
}

// chanResult is a started process whose result arrives later.
type chanResult struct {
	cmd  *exec.Cmd
	done chan result
}

func startAsync(s *sandbox, cmd *exec.Cmd) *chanResult {
	s.t.Helper()
	c := &chanResult{cmd: cmd, done: make(chan result, 1)}
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		r := result{code: cmd.ProcessState.ExitCode(), stdout: out.Bytes(), stderr: errb.Bytes(), took: time.Since(start)}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signaled = true
		}
		c.done <- r
	}()
	return c
}

func (c *chanResult) wait() result { return <-c.done }

// loadIfExists loads the state file, with every count not yet sent in
// Counters; a missing file gives nil, nil.
func loadIfExists(path string) (*state.State, error) {
	store := state.New(path)
	st, err := store.Load()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st.Counters, err = store.Counts()
	return st, err
}
