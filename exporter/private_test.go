package exporter

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
)

// Found by the reliability suite's privacy scenario: WithVersion was sent as
// given, so a path, an address or a name passed there left the machine.
func TestCleanVersion(t *testing.T) {
	for v, want := range map[string]string{
		"1.2.3": "1.2.3", "v0.1.0": "v0.1.0", "1": "1", "1.2.3-rc.1+build.5": "1.2.3-rc.1+build.5",
		"0.0.0-20261125180000-abcdef123456": "0.0.0-20261125180000-abcdef123456", "devel": "devel", "unknown": "unknown",
		"": "unknown", "10.11.12.13": "unknown", "me@example.com": "unknown", "/home/me/app": "unknown",
		"https://example.com/x": "unknown", "myhost": "unknown", "1.2.3 beta": "unknown", strings.Repeat("1", 65): "unknown",
	} {
		if got := cleanVersion(v); got != want {
			t.Errorf("cleanVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

// Found by the reliability suite's bad-state-file scenario: one event
// PostHog refuses made it reject every batch, forever; a huge outbox was
// sent whole and, leased, grew the file past what it can read back.
func TestOutboxDropsUnsendableAndIsTrimmed(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	path := filepath.Join(cfgHome, "idun", "config.yaml")
	id := uuid.NewString()
	var b strings.Builder
	fmt.Fprintf(&b, "user_id: %s\ncreated_at: 2026-11-24T18:00:00Z\npending:\n", id)
	event := func(uid, name, distinct string) {
		fmt.Fprintf(&b, "  - uuid: %q\n    event: %q\n    distinct_id: %q\n    timestamp: 2026-11-24T18:00:00Z\n    properties: {cli.version.count: 1}\n", uid, name, distinct)
	}
	var newest []string
	for i := range 3 * MaxPending {
		uid := uuid.NewString()
		event(uid, EventHeartbeat, id)
		if i >= 2*MaxPending {
			newest = append(newest, uid)
		}
	}
	// The events PostHog would refuse, and one of another identity, are
	// the newest: the 20-event cap cannot hide them, only the check can.
	event("not-a-uuid", EventHeartbeat, id)
	event(uuid.NewString(), "", id)
	event(uuid.NewString(), EventHeartbeat, "someone@example.com")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runOnce(t, nil, WithHost(srv.URL), WithClock(newClock(t0).Now), WithGrace(5*time.Second))
	noRejects(t, srv)
	if n := len(srv.Events()); n != 20 {
		t.Errorf("%d events sent, want the newest 20", n)
	}
	for _, ev := range srv.Events() {
		if ev.DistinctID != id {
			t.Errorf("sent with distinct_id %q", ev.DistinctID)
		}
		if !slices.Contains(newest, ev.UUID) {
			t.Errorf("sent %s, which is not one of the newest 20 sendable events", ev.UUID)
		}
	}
	if st := load(t, path); len(st.Pending) != 0 {
		t.Errorf("outbox after the send: %d events", len(st.Pending))
	}
}
