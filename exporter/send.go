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

// leaseFor is how long a process may hold outbox events while sending them;
// longer than one posthog-go request can take (its client times out at 10 s).
const leaseFor = 30 * time.Second

// flushOutbox sends what the outbox holds and records what PostHog
// acknowledged. Errors only mean "try again next time": the events stay.
func (e *Exporter) flushOutbox() {
	if e.cfg.debug != nil {
		e.printOutbox()
		return
	}
	batch, err := e.claim()
	if err != nil || len(batch) == 0 {
		return
	}
	acked := e.send(batch)
	if len(acked) == 0 && e.sendCtx.Err() != nil {
		// Shutdown aborted the send and is about to return: a write now
		// could outlive it. The leases expire on their own.
		return
	}
	// Not sendCtx: after an abort the acknowledgements must still be
	// written.
	_ = e.store.Update(context.Background(), func(st *state.State) error {
		acknowledge(st, acked)
		release(st, batch)
		return nil
	})
}

// claim leases the outbox events no other process is sending.
func (e *Exporter) claim() ([]state.Event, error) {
	var batch []state.Event
	err := e.store.Update(e.sendCtx, func(st *state.State) error {
		batch = batch[:0]
		now := e.cfg.now()
		until := now.Add(leaseFor).UTC()
		dropUnsendable(st)
		trimPending(st)
		for i := range st.Pending {
			ev := &st.Pending[i]
			if ev.LeaseUntil != nil && ev.LeaseUntil.After(now) && ev.LeaseUntil.Before(until.Add(time.Second)) {
				continue
			}
			ev.LeaseUntil = &until
			c := *ev
			c.LeaseUntil = nil
			batch = append(batch, c)
		}
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

// release frees the leases of the batch's events still in the outbox.
func release(st *state.State, batch []state.Event) {
	mine := make(map[string]bool, len(batch))
	for _, ev := range batch {
		mine[ev.UUID] = true
	}
	for i := range st.Pending {
		if mine[st.Pending[i].UUID] {
			st.Pending[i].LeaseUntil = nil
		}
	}
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

// send delivers batch through a posthog-go client made for this batch alone
// and closed right away: Close flushes at once, and a failed request is not
// retried in this process (the event stays in the outbox instead). It
// returns the events PostHog acknowledged, exactly as they were sent.
func (e *Exporter) send(batch []state.Event) []state.Event {
	cb := &callback{}
	client, err := posthog.NewWithConfig(e.cfg.apiKey, posthog.Config{
		Endpoint:  e.cfg.host,
		Logger:    silentLogger{},
		Callback:  cb,
		Transport: e.transport(),
		BatchSize: MaxPending,
		Interval:  time.Hour, // Close flushes; no timer needed
	})
	if err != nil {
		return nil
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
	return cb.acked()
}

// transport cancels every request when the exporter gives up on sending (at
// Shutdown past the grace), so posthog-go's Close, which takes no context,
// returns and leaves no goroutine behind. Keep-alives are off so no idle
// connection outlives the send.
func (e *Exporter) transport() http.RoundTripper {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: e.cfg.sendTimout,
		DisableKeepAlives:     true,
		ForceAttemptHTTP2:     true,
	}
	return cancelTransport{ctx: e.sendCtx, next: t}
}

type cancelTransport struct {
	ctx  context.Context
	next http.RoundTripper
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

// callback collects what PostHog acknowledged.
type callback struct {
	mu   sync.Mutex
	done []state.Event
}

// Success records the event exactly as posthog-go sent it, $lib included.
func (c *callback) Success(m posthog.APIMessage) {
	ev, ok := m.(posthog.CaptureInApi)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = append(c.done, state.Event{
		UUID:       ev.Uuid,
		Event:      ev.Event,
		DistinctID: ev.DistinctId,
		Timestamp:  ev.Timestamp.UTC(),
		Properties: map[string]any(ev.Properties),
	})
}

// Failure needs nothing: the event is still in the outbox.
func (c *callback) Failure(posthog.APIMessage, error) {}

func (c *callback) acked() []state.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// silentLogger keeps posthog-go off the host's stderr.
type silentLogger struct{}

func (silentLogger) Logf(string, ...any)   {}
func (silentLogger) Errorf(string, ...any) {}
