package exporter

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
)

// The documented schedule, in literals: 1 minute after the first failure,
// doubling, at most 24 hours, less up to a quarter of jitter.
func TestBackoffSchedule(t *testing.T) {
	for _, tc := range []struct {
		n        int
		max      time.Duration
		lessThan time.Duration // the quarter of jitter
	}{
		{1, time.Minute, 15 * time.Second},
		{2, 2 * time.Minute, 30 * time.Second},
		{3, 4 * time.Minute, time.Minute},
		{6, 32 * time.Minute, 8 * time.Minute},
		{11, 1024 * time.Minute, 256 * time.Minute},
		{12, 24 * time.Hour, 6 * time.Hour},
		{40, 24 * time.Hour, 6 * time.Hour},
		{1 << 30, 24 * time.Hour, 6 * time.Hour},
	} {
		lo, hi := tc.max, time.Duration(0)
		for range 200 {
			d := backoff(tc.n)
			lo, hi = min(lo, d), max(hi, d)
		}
		if hi > tc.max || lo < tc.max-tc.lessThan {
			t.Errorf("backoff(%d) in [%v, %v], want within [%v, %v]", tc.n, lo, hi, tc.max-tc.lessThan, tc.max)
		}
		if hi == lo {
			t.Errorf("backoff(%d) = %v every time: no jitter", tc.n, lo)
		}
	}
}

// A day against a host that refuses connections, one run every 20 minutes
// (faked clock): runs the schedule holds back make no request and write
// nothing, attempts come at the documented delays, and when the host heals
// the event arrives once and the schedule resets.
func TestScheduleAgainstARefusingHost(t *testing.T) {
	cfgHome := isolate(t)
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	down := posthogtest.NewServer()
	downURL := down.URL
	down.Close()
	clk := newClock(t0)
	runOnce(t, nil, WithHost(downURL), WithClock(clk.Now), WithGrace(2*time.Second))
	attempts := []time.Duration{0}
	for step := 1; step <= 72; step++ {
		now := t0.Add(time.Duration(step) * 20 * time.Minute)
		clk.Set(now)
		before, _ := os.ReadFile(path)
		st := load(t, path)
		due := !st.Delivery.NextAttemptAt.After(now)
		runOnce(t, nil, WithHost(downURL), WithClock(clk.Now), WithGrace(2*time.Second))
		after, _ := os.ReadFile(path)
		if !due {
			if string(before) != string(after) {
				t.Fatalf("step %d: a run the schedule held back wrote the state file", step)
			}
			continue
		}
		attempts = append(attempts, now.Sub(t0))
		got := load(t, path).Delivery
		if got.Failures != len(attempts) || got.LastFailure != "refused" {
			t.Fatalf("step %d: schedule %+v after %d attempts", step, got, len(attempts))
		}
	}
	// 0, 20 min, 40, 60, 80, 2 h 20 (the 32 min of the fifth delay end
	// after 1 h 40 at the earliest), ...: a handful of attempts a day, not 73.
	if n := len(attempts); n < 8 || n > 13 {
		t.Errorf("%d attempts over a day at a run every 20 minutes: %v", n, attempts)
	}
	t.Logf("attempts at %v", attempts)

	good := posthogtest.NewServer()
	defer good.Close()
	last := load(t, path).Delivery.NextAttemptAt
	clk.Set(last.Add(time.Second))
	runOnce(t, nil, WithHost(good.URL), WithClock(clk.Now), WithGrace(5*time.Second))
	noRejects(t, good)
	if n := len(good.Named(EventFirstRun)); n != 1 || good.Requests() != 1 {
		t.Errorf("after healing: %d First run in %d requests, want 1 in 1", n, good.Requests())
	}
	st := load(t, path)
	if len(st.Pending) != 0 || st.Delivery.Failures != 0 || st.Delivery.NextAttemptAt != nil || st.Delivery.LastFailure != "" {
		t.Errorf("after a success: outbox %d, schedule %+v; want empty and reset", len(st.Pending), st.Delivery)
	}
}

// What each answer does to the schedule and the outbox.
func TestScheduleAnswers(t *testing.T) {
	for _, tc := range []struct {
		name        string
		code        int
		retryAfter  string
		next        time.Duration // from the attempt; 0: the first delay (45-60 s)
		kept        int           // events left in the outbox
		rejected    int
		lastFailure string
	}{
		{"server error", http.StatusInternalServerError, "", 0, 1, 0, "http 500"},
		{"rate limited", http.StatusTooManyRequests, "3600", time.Hour, 1, 0, "http 429"},
		{"unavailable", http.StatusServiceUnavailable, "120", 2 * time.Minute, 1, 0, "http 503"},
		{"key refused", http.StatusUnauthorized, "", 24 * time.Hour, 1, 0, "http 401"},
		{"malformed", http.StatusBadRequest, "", -1, 0, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgHome := isolate(t)
			path := filepath.Join(cfgHome, "idun", "config.yaml")
			srv := posthogtest.NewServer()
			defer srv.Close()
			srv.SetMode(posthogtest.Status)
			srv.SetStatus(tc.code, tc.retryAfter)
			runOnce(t, nil, WithHost(srv.URL), WithClock(newClock(t0).Now), WithGrace(5*time.Second))
			st := load(t, path)
			d := st.Delivery
			if len(st.Pending) != tc.kept || d.Rejected != tc.rejected || d.LastFailure != tc.lastFailure {
				t.Errorf("outbox %d, schedule %+v; want %d kept, %d rejected, last failure %q", len(st.Pending), d, tc.kept, tc.rejected, tc.lastFailure)
			}
			switch {
			case tc.next < 0:
				if d.NextAttemptAt != nil || d.Failures != 0 {
					t.Errorf("schedule %+v, want reset: nothing is left to send", d)
				}
			case tc.next == 0:
				if d.NextAttemptAt == nil || d.NextAttemptAt.Before(t0.Add(45*time.Second)) || d.NextAttemptAt.After(t0.Add(time.Minute)) {
					t.Errorf("next attempt %v, want 45-60 s after %v", d.NextAttemptAt, t0)
				}
			default:
				if d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(t0.Add(tc.next)) {
					t.Errorf("next attempt %v, want %v", d.NextAttemptAt, t0.Add(tc.next))
				}
			}
			if srv.Requests() != 1 {
				t.Errorf("%d requests, want 1: posthog-go must not retry", srv.Requests())
			}
		})
	}
}
