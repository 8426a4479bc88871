package state

import (
	"testing"
	"time"
)

func TestBriefRoundTrip(t *testing.T) {
	on := false
	now := time.Now().UTC().Truncate(time.Microsecond)
	b := Brief{UserID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", TelemetryEnabled: &on, CreatedAt: now, LastHeartbeatAt: &now, Counters: 3, Pending: 2, NextAttemptAt: &now}
	id := fileID{12, 34, 56}
	id2, b2, ok := decodeBrief(encodeBrief(id, b))
	if !ok || id2 != id || b2.UserID != b.UserID || *b2.TelemetryEnabled || !b2.CreatedAt.Equal(now) || !b2.LastHeartbeatAt.Equal(now) || b2.Counters != 3 || b2.Pending != 2 || !b2.NextAttemptAt.Equal(now) {
		t.Fatalf("%+v %+v %v", id2, b2, ok)
	}
	_, b3, ok := decodeBrief(encodeBrief(id, Brief{}))
	if !ok || b3.UserID != "" || b3.TelemetryEnabled != nil || !b3.CreatedAt.IsZero() || b3.LastHeartbeatAt != nil {
		t.Fatalf("%+v", b3)
	}
	if _, b4, ok := decodeBrief([]byte("idun-brief/2 -u 1 2 3 1 0 0 1 1 0\n")); !ok || b4.UserID != "u" || !*b4.TelemetryEnabled {
		t.Errorf("a well-formed line: %+v %v", b4, ok)
	}
	for _, bad := range []string{"", "x", "idun-brief/2 -u 1 2 3 -1 0 0 1 1", "idun-brief/2 -u a 2 3 -1 0 0 1 1 0", "idun-brief/2 -u 1 2 3 2 0 0 1 1 0", "idun-brief/1 -u 1 2 3 -1 0 0 1 1 0", "idun-brief/2 u 1 2 3 -1 0 0 1 1 0"} {
		if _, _, ok := decodeBrief([]byte(bad)); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}
