package sanitize

import "testing"

// Found by the reliability suite's privacy scenario: an IP address joined
// with '_' or '-' passed as one segment. Issue 16: the rule that caught it,
// two numbers in a row, also dropped every model and version name; an
// address is now four numbers from 0 to 255 in a row, however joined.
func TestCounterNameDropsJoinedAddresses(t *testing.T) {
	for _, name := range []string{
		"cli.10_11_12_13.count", "feature.10-11-12-13.count", "feature.10.11.12.13.count",
		"feature.x_10.11-12_13.count", "feature.ip-10-0-0-12.count", "feature.host_8-8-8-8",
	} {
		if got, ok := CounterName(name); ok {
			t.Errorf("CounterName(%q) = %q, want dropped", name, got)
		}
	}
	for _, name := range []string{
		"feature.run_2.count", "feature.tutorial.3.count", "feature.v1_2.count", "workflow.gpt-4o.count",
		"feature.192_168.count", "feature.release-2026-11-25.count", "feature.x_1.2.count", "feature.v1-2-3.count",
		"feature.python3-11.count", "feature.10-11-256.count", "feature.1-2-3.count",
	} {
		if got, ok := CounterName(name); !ok || got != name {
			t.Errorf("CounterName(%q) = (%q, %v), want kept", name, got, ok)
		}
	}
}
