package state

import (
	"context"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const richFile = `user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab
telemetry_enabled: true
created_at: 2026-11-24T18:00:00Z
counters:
    cli.version.count: 3
    feature.memory.count: 1
last_heartbeat_at: 2026-11-25T18:00:00Z
pending:
    - uuid: 0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11
      event: Heartbeat
      distinct_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab
      timestamp: 2026-11-25T18:00:00Z
      properties: {cli.version.count: 3, os.containerized: null, nested: {a: [1, {b: c}]}, list: [x, 2.5, true]}
      lease_until: 2026-11-25T18:00:30Z
sent:
    - uuid: 1b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11
      event: First run
      distinct_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab
      timestamp: 2026-11-24T18:00:00Z
      properties: {$lib: posthog-go, go.version: go1.26}
future_key: {nested: [1, 2], 3: three}
another: hello
`

func mustMarshal(t *testing.T, st *State) string {
	t.Helper()
	b, err := yaml.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A clone marshals as the original does and shares nothing with it.
func TestCloneIsDeep(t *testing.T) {
	st, err := parse("rich", []byte(richFile))
	if err != nil {
		t.Fatal(err)
	}
	want := mustMarshal(t, st)
	c, ok := st.clone()
	if !ok {
		t.Fatal("a parsed state cannot be cloned")
	}
	if got := mustMarshal(t, c); got != want {
		t.Fatalf("clone marshals differently:\n%s\n---\n%s", got, want)
	}
	// Change everything reachable from the clone.
	*c.TelemetryEnabled = false
	*c.LastHeartbeatAt = time.Time{}
	c.Counters["cli.version.count"] = 99
	p := c.Pending[0].Properties
	p["cli.version.count"] = 0
	p["nested"].(map[string]any)["a"].([]any)[1].(map[string]any)["b"] = "changed"
	p["list"].([]any)[0] = "changed"
	*c.Pending[0].LeaseUntil = time.Time{}
	c.Pending[0].Event = "changed"
	c.Sent[0].Properties["$lib"] = "changed"
	c.Extra["future_key"].(map[any]any)["nested"].([]any)[0] = "changed" // key 3 makes it map[any]any
	c.Extra["another"] = "changed"
	if got := mustMarshal(t, st); got != want {
		t.Errorf("changing the clone changed the original:\n%s", got)
	}
}

// A value of a type the decoder never makes is not copied, so the state is
// not kept: the next Update parses the file.
func TestCloneRefusesUnknownTypes(t *testing.T) {
	st := &State{Pending: []Event{{Properties: map[string]any{"x": map[string]int{"a": 1}}}}}
	if _, ok := st.clone(); ok {
		t.Error("clone claims to copy a map[string]int")
	}
	s := newStore(t)
	err := s.Update(context.Background(), func(st *State) error {
		st.Pending = []Event{{UUID: "0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11", Event: "e", Properties: map[string]any{"x": []string{"a"}}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.Path())
	if s.lookup(b) != nil {
		t.Error("a state holding a []string was kept")
	}
}

// Load and Update leave the parsed file for the next Update, which takes
// it only when the file still holds the same bytes.
func TestSnapshotFollowsTheFile(t *testing.T) {
	ctx := context.Background()
	a := newStore(t)
	write(t, a.Path(), richFile)
	if _, err := a.Load(); err != nil {
		t.Fatal(err)
	}
	if a.lookup([]byte(richFile)) == nil {
		t.Fatal("Load kept nothing for the next Update")
	}
	if _, err := a.Load(); err != nil {
		t.Fatal(err)
	}
	// Another process changes the file: a's next Update must see it.
	other := New(a.Path())
	if err := other.Update(ctx, func(st *State) error { st.Counters["cli.version.count"] = 4; return nil }); err != nil {
		t.Fatal(err)
	}
	var seen int64
	if err := a.Update(ctx, func(st *State) error {
		seen = st.Counters["cli.version.count"]
		st.Counters["cli.version.count"]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 4 {
		t.Fatalf("Update saw cli.version.count = %d, want the other process's 4", seen)
	}
	// a wrote 5 and kept it; its next Update takes it without a parse and
	// writes what a parse would have given.
	b, _ := os.ReadFile(a.Path())
	if k := a.known; k == nil || string(k.raw) != string(b) {
		t.Fatal("Update kept nothing for the next Update")
	}
	if err := a.Update(ctx, func(st *State) error { st.Counters["cli.version.count"]++; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := New(a.Path()).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Counters["cli.version.count"] != 6 || got.Extra["another"] != "hello" || len(got.Pending) != 1 || got.Pending[0].LeaseUntil == nil {
		t.Errorf("state after two Updates: %+v", got)
	}
	// A file that became unusable is reported so, whatever was kept.
	write(t, a.Path(), "{not yaml")
	if err := a.Update(ctx, func(*State) error { return nil }); err == nil {
		t.Error("Update used the kept state over an unusable file")
	}
}
