// Package posthogtest is a PostHog capture endpoint on loopback, for tests:
// it checks each /batch/ request as PostHog's capture service does, records
// the events it accepts, and can be told to fail in the ways real networks
// fail. Tests never reach the internet.
package posthogtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Mode is how the server answers.
type Mode int

// The modes.
const (
	// OK checks the request and answers 200 {"status":"Ok"} or a 4xx.
	OK Mode = iota
	// Error500 answers 500.
	Error500
	// TooMany answers 429 with Retry-After: 60.
	TooMany
	// Hang never answers until the server is closed or the client gives up.
	Hang
	// Slow answers OK after the delay set with SetDelay.
	Slow
	// Reset closes the connection without an answer.
	Reset
	// Garbage answers bytes that are not HTTP.
	Garbage
	// Status answers the status code, and Retry-After header, set with
	// SetStatus, whatever the request.
	Status
)

// Event is one accepted event as PostHog would store it.
type Event struct {
	UUID       string         `json:"uuid"`
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Timestamp  string         `json:"timestamp"`
	Properties map[string]any `json:"properties"`
}

// Server is a PostHog stand-in on loopback.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	mode     Mode
	delay    time.Duration
	status   int
	after    string
	events   []Event
	bodies   [][]byte
	requests int
	rejected []string
	hang     chan struct{}
}

// NewServer starts a server in mode OK. Close it when done.
func NewServer() *Server {
	s := &Server{hang: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// SetMode changes how the server answers from now on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetDelay sets the delay of mode Slow.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetStatus sets the answer of mode Status: the code and, when not empty,
// a Retry-After header.
func (s *Server) SetStatus(code int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.after = code, retryAfter
}

// Events returns every accepted event, duplicates included, in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Unique returns the accepted events with PostHog's deduplication applied:
// one per (uuid, event, distinct_id, timestamp).
func (s *Server) Unique() []Event {
	seen := map[[4]string]bool{}
	var out []Event
	for _, ev := range s.Events() {
		k := [4]string{ev.UUID, ev.Event, ev.DistinctID, ev.Timestamp}
		if !seen[k] {
			seen[k] = true
			out = append(out, ev)
		}
	}
	return out
}

// Named returns the accepted events called name, duplicates included.
func (s *Server) Named(name string) []Event {
	var out []Event
	for _, ev := range s.Events() {
		if ev.Event == name {
			out = append(out, ev)
		}
	}
	return out
}

// Bodies returns the raw body of every request received, in any mode.
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// Requests counts the requests received, in any mode.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Rejected lists why requests were refused with a 4xx: a test that expects
// none should check it is empty.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 20<<20))
	s.mu.Lock()
	s.requests++
	s.bodies = append(s.bodies, body)
	mode, delay, hang, status, after := s.mode, s.delay, s.hang, s.status, s.after
	s.mu.Unlock()

	switch mode {
	case Status:
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		http.Error(w, `{"error":"as set"}`, status)
		return
	case Error500:
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	case TooMany:
		w.Header().Set("Retry-After", "60")
		http.Error(w, `{"error":"rate limited"}`, http.StatusTooManyRequests)
		return
	case Hang:
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	case Slow:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	case Reset, Garbage:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if mode == Garbage {
			_, _ = buf.WriteString("\x00\xffnot http at all\r\n\r\n")
			_ = buf.Flush()
		}
		_ = conn.Close()
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/batch/" {
		s.reject(w, http.StatusNotFound, "not POST /batch/: "+r.Method+" "+r.URL.Path)
		return
	}
	events, code, why := check(body)
	if code != http.StatusOK {
		s.reject(w, code, why)
		return
	}
	s.mu.Lock()
	s.events = append(s.events, events...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"Ok"}`))
}

func (s *Server) reject(w http.ResponseWriter, code int, why string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, why)
	s.mu.Unlock()
	http.Error(w, why, code)
}

// check applies the rules of PostHog's capture service to a /batch/ body.
// One bad event rejects the whole request.
func check(body []byte) ([]Event, int, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, http.StatusBadRequest, "empty body"
	}
	var req struct {
		APIKey *string           `json:"api_key"`
		Batch  []json.RawMessage `json:"batch"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, http.StatusBadRequest, "invalid JSON: " + err.Error()
	}
	if req.APIKey == nil || !validKey(*req.APIKey) {
		return nil, http.StatusUnauthorized, "bad api_key"
	}
	if len(req.Batch) == 0 {
		return nil, http.StatusBadRequest, "empty batch"
	}
	out := make([]Event, 0, len(req.Batch))
	for _, raw := range req.Batch {
		ev, why := checkEvent(raw)
		if why != "" {
			return nil, http.StatusBadRequest, why
		}
		out = append(out, ev)
	}
	return out, http.StatusOK, ""
}

func validKey(k string) bool {
	if k == "" || len(k) > 64 || (len(k) >= 4 && k[:4] == "phx_") {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func checkEvent(raw json.RawMessage) (Event, string) {
	if len(raw) > 1<<20 {
		return Event{}, "event over 1 MB"
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return Event{}, "event is not an object"
	}
	var ev Event
	if err := json.Unmarshal(f["event"], &ev.Event); err != nil || ev.Event == "" {
		return Event{}, "event must be a non-empty string"
	}
	var id any
	if err := json.Unmarshal(f["distinct_id"], &id); err != nil || id == nil || id == "" {
		return Event{}, "distinct_id missing or empty"
	}
	switch v := id.(type) {
	case string:
		ev.DistinctID = v
	case float64:
		ev.DistinctID = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return Event{}, "distinct_id of a wrong type"
	}
	if len(ev.DistinctID) > 200 {
		ev.DistinctID = ev.DistinctID[:200]
	}
	if u, ok := f["uuid"]; ok && string(u) != "null" {
		if err := json.Unmarshal(u, &ev.UUID); err != nil {
			return Event{}, "uuid is not a string"
		}
		if ev.UUID != "" {
			if _, err := uuid.Parse(ev.UUID); err != nil {
				return Event{}, "uuid is not a UUID"
			}
		}
	}
	if ts, ok := f["timestamp"]; ok && string(ts) != "null" {
		if err := json.Unmarshal(ts, &ev.Timestamp); err != nil {
			return Event{}, "timestamp is not a string"
		}
	}
	p, ok := f["properties"]
	if !ok || string(p) == "null" {
		return Event{}, "properties missing or null"
	}
	if err := json.Unmarshal(p, &ev.Properties); err != nil || ev.Properties == nil {
		return Event{}, "properties is not an object"
	}
	return ev, ""
}
