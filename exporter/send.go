package exporter

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/posthog/posthog-go"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// flushOutbox sends what the outbox holds when the schedule allows, and
// records what came of it. It reports whether events queued meanwhile by
// other processes wait and may go now.
func (e *Exporter) flushOutbox() (again bool) {
	if e.cfg.debug != nil {
		e.printOutbox()
		return false
	}
	batch, err := e.claim()
	if err != nil || len(batch) == 0 {
		return false
	}
	o := e.send(batch)
	if len(o.acked) == 0 && len(o.rejected) == 0 && e.sendCtx.Err() != nil {
		// Shutdown aborted the send and is about to return: a write now
		// could outlive it. The delay the claim set stands.
		return false
	}
	// Not sendCtx: after an abort the acknowledgements must still be
	// written.
	_ = e.store.Update(context.Background(), func(st *state.State) error {
		finishAttempt(st, o, e.cfg.now())
		again = o.failure == "" && len(st.Pending) > 0
		return nil
	})
	return again
}

// claim takes the outbox for one attempt when the schedule allows it,
// recording the attempt first (see startAttempt).
func (e *Exporter) claim() ([]state.Event, error) {
	var batch []state.Event
	err := e.store.Update(e.sendCtx, func(st *state.State) error {
		batch = nil
		now := e.cfg.now()
		dropUnsendable(st)
		trimPending(st)
		if len(st.Pending) == 0 || !sendDue(st.Brief(), now) {
			return nil
		}
		batch = append(batch, st.Pending...)
		startAttempt(&st.Delivery, now)
		return nil
	})
	return batch, err
}

// dropUnsendable removes the outbox events PostHog would refuse, which
// would otherwise make it reject every batch they are in, forever, and the
// events of another identity: the user_id is the only identifier ever sent.
// Only an edited or damaged file holds such events.
func dropUnsendable(st *state.State) {
	kept := st.Pending[:0]
	for _, ev := range st.Pending {
		if _, err := uuid.Parse(ev.UUID); err == nil && ev.Event != "" && ev.DistinctID != "" && ev.DistinctID == st.UserID {
			kept = append(kept, ev)
		}
	}
	st.Pending = kept
}

// printOutbox is debug mode: each event as one JSON line, once per
// process, and nothing sent.
func (e *Exporter) printOutbox() {
	st, err := e.store.Load()
	if err != nil {
		return
	}
	for _, ev := range st.Pending {
		if e.printed[ev.UUID] {
			continue
		}
		e.printed[ev.UUID] = true
		ev.Properties = e.cfg.policy.Properties(ev.Properties)
		b, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		e.debugMu.Lock()
		_, _ = e.cfg.debug.Write(append(b, '\n'))
		e.debugMu.Unlock()
	}
}

// send makes one attempt at delivering batch, through a posthog-go client
// made for this batch alone and closed right away: one request per event,
// so that an event PostHog refuses is known, and no retry in posthog-go
// (the schedule retries). It returns the events PostHog acknowledged,
// exactly as they were sent, and what became of the others.
func (e *Exporter) send(batch []state.Event) outcome {
	cb := &callback{o: outcome{rejected: map[string]bool{}}}
	client, err := posthog.NewWithConfig(e.cfg.apiKey, posthog.Config{
		Endpoint:  e.cfg.host,
		Logger:    silentLogger{},
		Callback:  cb,
		Transport: e.transport(cb),
		BatchSize: 1,
		Interval:  time.Hour, // Close flushes; no timer needed
		// Close ends posthog-go's wait between attempts at once: one
		// attempt per event.
		RetryAfter: func(int) time.Duration { return time.Hour },
	})
	if err != nil {
		return outcome{failure: "error"}
	}
	for _, ev := range batch {
		_ = client.Enqueue(posthog.Capture{
			Uuid:       ev.UUID,
			DistinctId: ev.DistinctID,
			Event:      ev.Event,
			Timestamp:  ev.Timestamp,
			Properties: posthog.Properties(e.cfg.policy.Properties(ev.Properties)),
		})
	}
	_ = client.Close()
	return cb.outcome()
}

// transport cancels every request when the exporter gives up on sending (at
// Shutdown past the grace), so posthog-go's Close, which takes no context,
// returns and leaves no goroutine behind. Keep-alives are off so no idle
// connection outlives the send.
func (e *Exporter) transport(cb *callback) http.RoundTripper {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: e.cfg.sendTimout,
		DisableKeepAlives:     true,
		ForceAttemptHTTP2:     true,
	}
	return cancelTransport{ctx: e.sendCtx, next: t, cb: cb, now: e.cfg.now}
}

// cancelTransport also reads the Retry-After of the answers that ask the
// client to come back later, which posthog-go does not pass on.
type cancelTransport struct {
	ctx  context.Context
	next http.RoundTripper
	cb   *callback
	now  func() time.Time
}

func (c cancelTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(c.ctx, cancel)
	resp, err := c.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		c.cb.askedToWait(retryAfter(resp.Header.Get("Retry-After"), c.now()))
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, done: func() { stop(); cancel() }}
	return resp, nil
}

// cancelBody ends the request's context with the body, not before: the
// caller still reads it after RoundTrip returns.
type cancelBody struct {
	io.ReadCloser
	done func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

// callback collects what became of each event of an attempt.
type callback struct {
	mu sync.Mutex
	o  outcome
}

// Success records the event exactly as posthog-go sent it, $lib included.
func (c *callback) Success(m posthog.APIMessage) {
	ev, ok := m.(posthog.CaptureInApi)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.o.acked = append(c.o.acked, state.Event{
		UUID:       ev.Uuid,
		Event:      ev.Event,
		DistinctID: ev.DistinctId,
		Timestamp:  ev.Timestamp.UTC(),
		Properties: map[string]any(ev.Properties),
	})
}

// Failure records a refused event as rejected, any other failure by its
// kind; the event stays in the outbox unless rejected.
func (c *callback) Failure(m posthog.APIMessage, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code, ok := statusCode(err); ok && rejectedCode(code) {
		if ev, ok := m.(posthog.CaptureInApi); ok {
			c.o.rejected[ev.Uuid] = true
			return
		}
	}
	if c.o.failure == "" {
		c.o.failure = failureKind(err)
	}
}

func (c *callback) askedToWait(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.o.retryAfter = max(c.o.retryAfter, d)
}

func (c *callback) outcome() outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.o
	if len(o.acked) == 0 && len(o.rejected) == 0 && o.failure == "" {
		// Nothing came back at all (Close returned early).
		o.failure = "aborted"
	}
	return o
}

// silentLogger keeps posthog-go off the host's stderr.
type silentLogger struct{}

func (silentLogger) Logf(string, ...any)   {}
func (silentLogger) Errorf(string, ...any) {}
