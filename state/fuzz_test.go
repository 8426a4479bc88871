package state

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse: any bytes either parse into a state that survives a write and a
// re-read unchanged, or are reported unusable; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ntelemetry_enabled: true\ncreated_at: 2026-11-24T18:00:00Z\ncounters:\n  cli.version.count: 3\nlast_heartbeat_at: null\npending: []\nsent: []\n"))
	f.Add([]byte("telemetry_enabled: false\n"))
	f.Add([]byte("pending:\n- uuid: 0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11\n  event: Heartbeat\n  timestamp: 2026-11-24T18:00:00Z\n  properties: {a: 1}\n"))
	f.Add([]byte(aliasBomb()))
	f.Add([]byte("x: &a [*a]\n"))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parse("fuzz", b)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(st)
		if err != nil {
			t.Fatalf("parsed state does not encode: %v", err)
		}
		again, err := parse("fuzz", out)
		if err != nil {
			t.Fatalf("written state does not parse: %v\n%s", err, out)
		}
		out2, _ := yaml.Marshal(again)
		if !reflect.DeepEqual(out, out2) {
			t.Fatalf("round trip not stable:\n%s\n---\n%s", out, out2)
		}
	})
}

// FuzzJournal: whatever a journal holds (a hand edit, a write cut short),
// reading it never panics, and only positive counts of lines that decode
// whole are added.
func FuzzJournal(f *testing.F) {
	f.Add([]byte("cli.version.count=1\ncli.version.count=2 feature.x.count=1\n"))
	f.Add([]byte("a=-1\nnot a pair\na=9223372036854775807 a=1\na=1\n"))
	f.Add([]byte("a=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		counts := map[string]int64{}
		addLines(counts, b)
		for name, n := range counts {
			if n <= 0 {
				t.Fatalf("%q counted %d", name, n)
			}
		}
	})
}
