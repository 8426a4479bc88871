package state

import (
	"testing"
	"time"
)

func TestBriefRoundTrip(t *testing.T) {
	on := false
	now := time.Now().UTC().Truncate(time.Microsecond)
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // past nanoseconds' 2262
	body := []byte("user_id: x\n")
	b := Brief{UserID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", TelemetryEnabled: &on, CreatedAt: now, LastHeartbeatAt: &far, Counters: 3, Pending: 2, NextAttemptAt: &now}
	b2, ok := briefOf(withBrief(b, body))
	if !ok || b2.UserID != b.UserID || *b2.TelemetryEnabled || !b2.CreatedAt.Equal(now) || !b2.LastHeartbeatAt.Equal(far) || b2.Counters != 3 || b2.Pending != 2 || !b2.NextAttemptAt.Equal(now) {
		t.Fatalf("%+v %v", b2, ok)
	}
	b3, ok := briefOf(withBrief(Brief{}, body))
	if !ok || b3.UserID != "" || b3.TelemetryEnabled != nil || !b3.CreatedAt.IsZero() || b3.LastHeartbeatAt != nil || b3.NextAttemptAt != nil {
		t.Fatalf("%+v", b3)
	}
	// The FNV-1a hash of the line before it, then of "user_id: x\n", is
	// 10956425304706090118 (computed apart, in Python, from the FNV-1a definition).
	const tag = "# idun brief/4, remade at each write: "
	if b4, ok := briefOf([]byte(tag + "-u 1 0 0 1 1 0 10956425304706090118\nuser_id: x\n")); !ok || b4.UserID != "u" || !*b4.TelemetryEnabled {
		t.Errorf("a well-formed line: %+v %v", b4, ok)
	}
	for _, bad := range []string{
		"", "x", "user_id: x\n",
		tag + "-u 1 0 0 1 1 0 10956425304706090118\nuser_id: y\n", // the rest edited
		tag + "-u 0 0 0 1 1 0 10956425304706090118\nuser_id: x\n", // the line edited
		tag + "-u 1 0 0 1 1 10956425304706090118\nuser_id: x\n",   // a field short
		tag + "-u 2 0 0 1 1 0 10956425304706090118\nuser_id: x\n", // no such setting
		tag + "-u a 0 0 1 1 0 10956425304706090118\nuser_id: x\n",
		tag + "u 1 0 0 1 1 0 10956425304706090118\nuser_id: x\n",
		tag + " 1 0 0 1 1 0 10956425304706090118\nuser_id: x\n",
		"# idun brief/3, remade at each write: -u 1 0 0 1 1 0 10956425304706090118\nuser_id: x\n",
	} {
		if _, ok := briefOf([]byte(bad)); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}
