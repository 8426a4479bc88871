package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// controlled isolates the test, points any send at a stand-in that must
// never be called, and returns the state file's path.
func controlled(t *testing.T) string {
	t.Helper()
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	t.Cleanup(func() {
		srv.Close()
		if n := srv.Requests(); n != 0 {
			t.Errorf("the telemetry commands sent %d requests", n)
		}
	})
	t.Setenv(EnvHost, srv.URL)
	return filepath.Join(cfgHome, "idun", "config.yaml")
}

func TestStatusReadsOnly(t *testing.T) {
	path := controlled(t)
	r, err := Status()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	// The documented keys of status --json, in a literal list.
	want := []string{"config_path", "config_state", "counters", "created_at", "delivery", "enabled", "last_heartbeat_at", "pending", "reason", "sent", "source", "telemetry_enabled", "user_id"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("JSON keys %q, want %q", keys, want)
	}
	if string(b) != `{"enabled":true,"source":"default","reason":"on by default","config_path":"`+path+`","config_state":"missing","telemetry_enabled":null,"user_id":null,"created_at":null,"counters":{},"last_heartbeat_at":null,"pending":[],"sent":[],"delivery":{}}` {
		t.Errorf("status of a fresh home: %s", b)
	}
	if exists(filepath.Dir(filepath.Dir(path))) {
		t.Error("Status created the config home")
	}
}

func TestStatusShowsTheFile(t *testing.T) {
	path := controlled(t)
	clk := newClock(t0)
	// Debug mode: the setup run sends nothing either.
	p := start(t, WithClock(clk.Now), WithDebugWriter(io.Discard))
	p.add(t, "cli.version.count", 3)
	p.stop(t)
	st := load(t, path)
	r, err := Status()
	if err != nil {
		t.Fatal(err)
	}
	if r.ConfigState != ConfigPresent || r.UserID == nil || *r.UserID != st.UserID || !r.CreatedAt.Equal(t0) {
		t.Errorf("report %+v; want the file's identity", r)
	}
	// The first run's counts went in its first Heartbeat, queued after the
	// First run; a later run's wait in the journal.
	if len(r.Counters) != 0 {
		t.Errorf("counters %v, want none: the first Heartbeat took them", r.Counters)
	}
	if len(r.Pending) != 2 || r.Pending[0].UUID != st.Pending[0].UUID || r.Pending[1].Properties["cli.version.count"] != 3 || len(r.Sent) != 0 {
		t.Errorf("pending %v, sent %v: want the First run and the Heartbeat queued", r.Pending, r.Sent)
	}
	p = start(t, WithClock(clk.Now), WithDebugWriter(io.Discard))
	p.add(t, "cli.version.count", 2)
	p.stop(t)
	if r, _ := Status(); r.Counters["cli.version.count"] != 2 || len(r.Counters) != 1 {
		t.Errorf("counters %v after a second run, want cli.version.count=2", r.Counters)
	}
}

// The environment's opt-out reads nothing, an unusable file included.
func TestStatusUnderEnvOptOut(t *testing.T) {
	path := controlled(t)
	garbage := []byte("{not yaml")
	writeFile(t, path, garbage)
	t.Setenv(EnvDoNotTrack, "1")
	r, err := Status()
	if err != nil || r.ConfigState != ConfigNotRead || r.Enabled || r.Source != SourceDoNotTrack || r.ConfigPath != path {
		t.Errorf("report %+v, %v; want off by DO_NOT_TRACK, not read", r, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the folder holds %v; want only the file", entries)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSetEnabled(t *testing.T) {
	path := controlled(t)
	ctx := context.Background()
	r, err := SetEnabled(ctx, false)
	if err != nil || r.Enabled || r.Source != SourceConfig || r.ConfigState != ConfigPresent || r.UserID != nil {
		t.Fatalf("disable: %+v, %v", r, err)
	}
	if on, set := load(t, path).Enabled(); on || !set {
		t.Errorf("telemetry_enabled: %v (set %v), want false", on, set)
	}
	r, err = SetEnabled(ctx, true)
	if err != nil || !r.Enabled || r.Source != SourceConfig || r.UserID != nil {
		t.Fatalf("enable: %+v, %v", r, err)
	}
	// The environment outranks the file; the report says so.
	t.Setenv(EnvDoNotTrack, "1")
	r, err = SetEnabled(ctx, true)
	if err != nil || r.Enabled || r.Source != SourceDoNotTrack {
		t.Errorf("enable under DO_NOT_TRACK: %+v, %v", r, err)
	}
	if st := load(t, path); st.UserID != "" || len(st.Pending) != 0 {
		t.Errorf("the commands made an identity or queued events: %+v", st)
	}
}

// A developer's mistake in the host or key does not keep a user from
// opting out; one that leaves the file unknown refuses every change.
func TestSetEnabledWithMisconfiguration(t *testing.T) {
	path := controlled(t)
	ctx := context.Background()
	r, err := SetEnabled(ctx, false, WithAPIKey(""))
	if err != nil || r.Source != SourceInvalid {
		t.Errorf("disable with an empty key: %+v, %v; want it saved, the decision saying why telemetry is off", r, err)
	}
	if on, set := load(t, path).Enabled(); on || !set {
		t.Error("telemetry_enabled: false not saved")
	}
	if _, err := Status(WithAPIKey("")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Status with an empty key: %v", err)
	}
	for _, f := range []func() error{
		func() error { _, err := SetEnabled(ctx, true, WithApp("Bad")); return err },
		func() error { _, err := Reset(ctx, WithApp("Bad")); return err },
	} {
		if err := f(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("a change with an invalid app: %v", err)
		}
	}
	if on, _ := load(t, path).Enabled(); on {
		t.Error("a change with an invalid app was written")
	}
}

func TestReset(t *testing.T) {
	path := controlled(t)
	ctx := context.Background()
	r, err := Reset(ctx)
	if err != nil || r.ConfigState != ConfigMissing || exists(filepath.Dir(path)) {
		t.Fatalf("reset without a file: %+v, %v; created: %v", r, err, exists(filepath.Dir(path)))
	}
	clk := newClock(t0)
	runOnce(t, map[string]int64{"feature.x.count": 4}, WithClock(clk.Now), WithDebugWriter(io.Discard))
	if _, err := SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	old := load(t, path)
	clk.Set(t0.Add(time.Hour))
	r, err = Reset(ctx, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	st := load(t, path)
	if st.UserID == "" || st.UserID == old.UserID || !st.CreatedAt.Equal(t0.Add(time.Hour)) || r.UserID == nil || *r.UserID != st.UserID {
		t.Errorf("user_id %q created %v (report %v), was %q", st.UserID, st.CreatedAt, r.UserID, old.UserID)
	}
	if len(st.Counters) != 0 || st.LastHeartbeatAt != nil || len(st.Pending) != 0 || len(st.Sent) != 0 || len(r.Counters) != 0 {
		t.Errorf("reset kept data: %+v", st)
	}
	if on, set := st.Enabled(); on || !set {
		t.Error("reset changed the user's telemetry_enabled: false")
	}
}

// An unusable file may hold the user's opt-out: no change writes over it.
func TestControlLeavesUnusableFile(t *testing.T) {
	path := controlled(t)
	garbage := []byte("telemetry_enabled: [oops\n")
	writeFile(t, path, garbage)
	ctx := context.Background()
	for name, f := range map[string]func() (StatusReport, error){
		"enable":  func() (StatusReport, error) { return SetEnabled(ctx, true) },
		"disable": func() (StatusReport, error) { return SetEnabled(ctx, false) },
		"reset":   func() (StatusReport, error) { return Reset(ctx) },
		"status":  func() (StatusReport, error) { return Status() },
	} {
		r, err := f()
		if name == "status" {
			if err != nil || r.ConfigState != ConfigUnusable || r.Source != SourceConfigInvalid {
				t.Errorf("status: %+v, %v", r, err)
			}
		} else if !errors.Is(err, state.ErrUnusable) {
			t.Errorf("%s: %v, want state.ErrUnusable", name, err)
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
		t.Errorf("the file changed: %q", b)
	}
}
