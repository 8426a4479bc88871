package exporter

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// The send schedule, the one place where sends are retried. It lives in
// the state file (delivery), so every process of an installation follows
// it: after a failed or aborted attempt nobody tries again before a delay
// that starts at MinBackoff and doubles up to MaxBackoff, with jitter, and
// that a success resets. posthog-go makes one attempt per try.
const (
	// MinBackoff is the delay after the first failed attempt.
	MinBackoff = time.Minute
	// MaxBackoff is the longest delay, and the one after PostHog refuses
	// the project key.
	MaxBackoff = 24 * time.Hour
)

// backoff is the delay after the n-th failed attempt in a row (n >= 1):
// MinBackoff doubled n-1 times, at most MaxBackoff, less up to a quarter of
// jitter so that installations that failed together do not come back
// together.
func backoff(n int) time.Duration {
	d := MaxBackoff
	if n < 20 {
		d = min(MinBackoff<<max(n-1, 0), MaxBackoff)
	}
	return d - rand.N(d/4+1)
}

// sendDue reports whether the schedule lets a process try now. A next
// attempt further away than MaxBackoff comes from a clock that moved back,
// and does not count.
func sendDue(b state.Brief, now time.Time) bool {
	next := b.NextAttemptAt
	return next == nil || !next.After(now) || next.Sub(now) > MaxBackoff
}

// startAttempt records an attempt before it is made, as if it were going to
// fail with no answer: a process killed or cut short while sending (a host
// that never answers, past the grace at exit) then leaves the delay and
// "timeout" in place, and no other process tries meanwhile. The answer, if
// one comes, replaces them; a success resets them.
func startAttempt(d *state.Delivery, now time.Time) {
	d.LastFailure = "timeout"
	d.Failures++
	next := now.Add(backoff(d.Failures)).UTC()
	d.NextAttemptAt = &next
}

// outcome is what one attempt came to.
type outcome struct {
	acked    []state.Event
	rejected map[string]bool // UUIDs PostHog refused as malformed
	// failure is the kind of the first failure of an event neither acked
	// nor rejected, "" when there was none.
	failure    string
	retryAfter time.Duration
}

// finishAttempt records o in st: acknowledged events leave the outbox,
// rejected ones are dropped and counted, and the schedule is reset on
// success, pushed to MaxBackoff when the key is refused, and to any
// Retry-After the host asked for.
func finishAttempt(st *state.State, o outcome, now time.Time) {
	// One request per event: the answers come in any order; sent keeps the
	// outbox's.
	at := make(map[string]int, len(st.Pending))
	for i, ev := range st.Pending {
		at[ev.UUID] = i
	}
	slices.SortStableFunc(o.acked, func(a, b state.Event) int { return at[a.UUID] - at[b.UUID] })
	acknowledge(st, o.acked)
	kept := st.Pending[:0]
	for _, ev := range st.Pending {
		if o.rejected[ev.UUID] {
			st.Delivery.Rejected++
			continue
		}
		kept = append(kept, ev)
	}
	st.Pending = kept
	d := &st.Delivery
	switch o.failure {
	case "":
		*d = state.Delivery{Rejected: d.Rejected}
		return
	case "http 401", "http 403":
		next := now.Add(MaxBackoff).UTC()
		d.NextAttemptAt = &next
	}
	d.LastFailure = o.failure
	if o.retryAfter > 0 {
		next := now.Add(min(o.retryAfter, MaxBackoff)).UTC()
		if d.NextAttemptAt == nil || next.After(*d.NextAttemptAt) {
			d.NextAttemptAt = &next
		}
	}
}

// rejectedCode reports the answers that refuse an event for what it is, so
// that sending it again can never succeed.
func rejectedCode(code int) bool {
	return code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity
}

// failureKind names an error of posthog-go's for people, never with its
// message, which may hold a host name or an address.
func failureKind(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return "aborted"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset"
	}
	// posthog-go reports an answer as "<code> <status>".
	if code, ok := statusCode(err); ok {
		return "http " + strconv.Itoa(code)
	}
	return "error"
}

func statusCode(err error) (int, bool) {
	head, _, _ := strings.Cut(err.Error(), " ")
	code, perr := strconv.Atoi(head)
	return code, perr == nil && code >= 100 && code <= 599
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h = strings.TrimSpace(h); h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
