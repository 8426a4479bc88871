package state

import (
	"testing"
	"time"
)

func TestBriefRoundTrip(t *testing.T) {
	on := false
	now := time.Now().UTC()
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
	for _, bad := range []string{"", "x", "idun-brief/1 1 2 3 - - - - 1 1", "idun-brief/1 a 2 3 - - - - 1 1 -", "idun-brief/1 1 2 3 - maybe - - 1 1 -"} {
		if _, _, ok := decodeBrief([]byte(bad)); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}
