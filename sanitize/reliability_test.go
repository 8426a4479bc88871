package sanitize

import "testing"

// Found by the reliability suite's privacy scenario: an IP address joined
// with '_' or '-' passed as one segment.
func TestCounterNameDropsJoinedDigits(t *testing.T) {
	for _, name := range []string{
		"cli.10_11_12_13.count", "feature.10-11-12-13.count", "feature.192_168.count",
		"feature.release-2026-11-25.count", "feature.x_1.2.count",
	} {
		if got, ok := CounterName(name); ok {
			t.Errorf("CounterName(%q) = %q, want dropped", name, got)
		}
	}
	for _, name := range []string{"feature.run_2.count", "feature.tutorial.3.count", "feature.v1_2.count", "workflow.gpt-4o.count"} {
		if got, ok := CounterName(name); !ok || got != name {
			t.Errorf("CounterName(%q) = (%q, %v), want kept", name, got, ok)
		}
	}
}
