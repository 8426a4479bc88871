//go:build unix

package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// later moves an installation's clock forward by d through its state file:
// every time the schedule and the Heartbeat cadence count from moves back
// by d. Events keep their timestamps, which are part of their identity.
func later(t *testing.T, s *sandbox, d time.Duration) {
	t.Helper()
	err := state.New(s.statePath()).Update(context.Background(), func(st *state.State) error {
		st.CreatedAt = st.CreatedAt.Add(-d)
		if st.LastHeartbeatAt != nil {
			b := st.LastHeartbeatAt.Add(-d)
			st.LastHeartbeatAt = &b
		}
		if st.Delivery.NextAttemptAt != nil {
			n := st.Delivery.NextAttemptAt.Add(-d)
			st.Delivery.NextAttemptAt = &n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReliabilityBackoff runs `cli version` every 20 minutes of a faked
// day (12 hours without -long) against a host that fails in each way: the
// exit time the failures add, summed over the runs, is a handful of graces,
// not one per run; then the host heals, and after one delay every queued
// event arrives exactly once.
func TestReliabilityBackoff(t *testing.T) {
	runs := 36
	if *long {
		runs = 72
	}
	grace := exporter.DefaultGrace
	off := newSandbox(t, "", "IDUN_TELEMETRY_ENABLED=false")
	var offRuns []time.Duration
	for range 5 {
		offRuns = append(offRuns, off.cli("version").took)
	}
	base := median(offRuns)
	for _, f := range failures() {
		if f.name == "slow-100ms" || f.name == "reset-mid-body" {
			continue // the event arrives: not a failure here
		}
		t.Run(f.name, func(t *testing.T) {
			url, _ := f.start(t)
			s := newSandbox(t, url)
			var added time.Duration
			attempts := 0
			for i := range runs {
				if i > 0 {
					later(t, s, 20*time.Minute)
				}
				before := 0
				if i > 0 {
					before = s.load().Delivery.Failures
				}
				r := s.cli("version")
				cliOK(t, "cli version", r)
				added += max(r.took-base, 0)
				if st := s.load(); st.Delivery.Failures > before || st.Delivery.Failures == 0 && len(st.Pending) == 0 {
					attempts++
				}
			}
			st := s.load()
			// A day of runs every 20 minutes meets about 11 attempts (the
			// schedule's own test pins them); each costs a grace at most.
			if attempts > 13 {
				t.Errorf("%d attempts in %d runs", attempts, runs)
			}
			if limit := time.Duration(attempts+2) * (grace + 100*time.Millisecond); added > limit {
				t.Errorf("the failures added %v over %d runs (%d attempts), more than %v", added, runs, attempts, limit)
			}
			if len(st.Pending) == 0 || st.Delivery.LastFailure == "" || st.Delivery.NextAttemptAt == nil {
				t.Errorf("after a day of failures: outbox %d, schedule %+v", len(st.Pending), st.Delivery)
			}
			queued := map[string]bool{}
			for _, ev := range st.Pending {
				queued[ev.UUID] = true
			}
			// The host heals: within one delay, every queued event arrives
			// once.
			good := newSink(t)
			if st.Delivery.NextAttemptAt != nil {
				later(t, s, time.Until(*st.Delivery.NextAttemptAt)+time.Second)
			}
			for range 2 {
				cmd := s.command(hostBin, "-grace", "5s")
				cmd.Env = append(cmd.Env, "IDUN_TELEMETRY_HOST="+good.URL)
				s.runCmd(cmd).silent(t, "run after healing", 0)
			}
			noRejects(t, good)
			got := map[string]int{}
			for _, ev := range good.Events() {
				got[ev.UUID]++
			}
			for id := range queued {
				if got[id] != 1 {
					t.Errorf("queued event %s arrived %d times after healing", id, got[id])
				}
			}
			if st := s.load(); len(st.Pending) != 0 || st.Delivery.Failures != 0 {
				t.Errorf("after healing: outbox %d, schedule %+v", len(st.Pending), st.Delivery)
			}
			figure(t, "%s: %d runs of `cli version` 20 min apart: %d attempts, %s added in all (%s a run; grace %s); last failure %q; after healing %d queued events delivered once each",
				f.name, runs, attempts, ms(added), ms(added/time.Duration(runs)), ms(grace), st.Delivery.LastFailure, len(queued))
		})
	}
}
