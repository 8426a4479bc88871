package state

import (
	"bytes"
	"context"
	"maps"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const plainFile = `user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab
created_at: 2026-11-24T18:00:00Z
counters:
    cli.version.count: 3
    feature.memory.count: 1
last_heartbeat_at: null
pending: []
sent: []
`

// spliced is what an update of counters to now must decode to: the state of
// old with its counters replaced.
func spliced(t *testing.T, old string, now map[string]int64) string {
	t.Helper()
	st, err := parse("old", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	st.Counters = now
	return mustMarshal(t, st)
}

func TestSpliceCountersKeepsEveryOtherByte(t *testing.T) {
	for _, tc := range []struct {
		name, old string
		now       map[string]int64
		want      string // "" when the file is what marshal writes
	}{
		{"new count", plainFile, map[string]int64{"cli.version.count": 4, "feature.memory.count": 1}, ""},
		{"new names, in yaml.v3's order", plainFile, map[string]int64{"cli.version.count": 3, "feature.memory.count": 1, "a.b": 1, "feature.f10.count": 2, "feature.f9.count": 1}, ""},
		{"fewer names", plainFile, map[string]int64{"cli.version.count": 3}, ""},
		{"rich file", richFile, map[string]int64{"cli.version.count": 30, "feature.memory.count": 1, "workflow.run.count": 7}, strings.Replace(richFile,
			"    cli.version.count: 3\n    feature.memory.count: 1\n",
			"    cli.version.count: 30\n    feature.memory.count: 1\n    workflow.run.count: 7\n", 1)},
		{"comments elsewhere stay", "# mine\n" + plainFile + "# end\n", map[string]int64{"cli.version.count": 9, "feature.memory.count": 1},
			"# mine\n" + strings.Replace(plainFile, "count: 3", "count: 9", 1) + "# end\n"},
		{"counters last, no newline after the block", "user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncounters:\n    a.b: 1\n", map[string]int64{"a.b": 2},
			"user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncounters:\n    a.b: 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			was := mustParse(t, tc.old).Counters
			out, ok := spliceCounters([]byte(tc.old), was, tc.now)
			if !ok {
				t.Fatal("not spliced")
			}
			want := tc.want
			if want == "" {
				want = spliced(t, tc.old, tc.now)
			}
			if string(out) != want {
				t.Errorf("got\n%s\nwant\n%s", out, want)
			}
			if got := mustMarshal(t, mustParse(t, string(out))); got != spliced(t, tc.old, tc.now) {
				t.Errorf("decodes to\n%s\nwant\n%s", got, spliced(t, tc.old, tc.now))
			}
		})
	}
}

// Any block it cannot read whole is left to the encoder.
func TestSpliceCountersRefuses(t *testing.T) {
	now := map[string]int64{"cli.version.count": 4, "feature.memory.count": 1}
	block := "counters:\n    cli.version.count: 3\n    feature.memory.count: 1\n"
	for _, tc := range []struct {
		name, old string
		now       map[string]int64
	}{
		{"no counters now", plainFile, map[string]int64{}},
		{"a name outside the plain form", plainFile, map[string]int64{"Cli.Version": 1}},
		{"no counters before", "user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\n", now},
		{"flow mapping", "{counters: {cli.version.count: 3, feature.memory.count: 1}}\n", now},
		{"flow block", strings.Replace(plainFile, block, "counters: {cli.version.count: 3, feature.memory.count: 1}\n", 1), now},
		{"two-space indent", strings.Replace(plainFile, "    ", "  ", -1), now},
		{"comment in the block", strings.Replace(plainFile, "count: 3\n", "count: 3\n    # hi\n", 1), now},
		{"comment after a count", strings.Replace(plainFile, "count: 3\n", "count: 3 # hi\n", 1), now},
		{"blank line in the block", strings.Replace(plainFile, "count: 3\n", "count: 3\n\n", 1), now},
		{"other order", strings.Replace(plainFile, block, "counters:\n    feature.memory.count: 1\n    cli.version.count: 3\n", 1), now},
		{"leading zero", strings.Replace(plainFile, "count: 3\n", "count: 03\n", 1), now},
		{"quoted name", strings.Replace(plainFile, "    cli.version.count", "    \"cli.version.count\"", 1), now},
		{"CRLF", strings.ReplaceAll(plainFile, "\n", "\r\n"), now},
		{"key on its own line", strings.Replace(plainFile, "counters:\n", "counters:\n\n", 1), now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parse("old", []byte(tc.old))
			if err != nil {
				t.Fatalf("test file does not parse: %v", err)
			}
			if out, ok := spliceCounters([]byte(tc.old), st.Counters, tc.now); ok {
				t.Errorf("spliced:\n%s", out)
			}
		})
	}
	// Lines that look like the block but are not the counters yaml.v3 read.
	was := map[string]int64{"cli.version.count": 3, "feature.memory.count": 1}
	for _, old := range []string{
		plainFile + "other: |\n  x\n" + block,
		strings.Replace(plainFile, "    feature.memory.count: 1\n", "", 1),
		strings.Replace(plainFile, "count: 1\n", "count: 2\n", 1),
	} {
		if out, ok := spliceCounters([]byte(old), was, now); ok {
			t.Errorf("spliced a block that does not hold %v:\n%s", was, out)
		}
	}
}

func mustParse(t *testing.T, s string) *State {
	t.Helper()
	st, err := parse("test", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// FuzzSpliceCounters: whenever a splice is made, the file decodes to the old
// state with the new counters, as an encode of the whole state would.
func FuzzSpliceCounters(f *testing.F) {
	f.Add([]byte(plainFile), "cli.version.count", int64(5))
	f.Add([]byte(richFile), "workflow.run.count", int64(1))
	f.Add([]byte("counters:\n    a.b: 1\nx: \"\ncounters:\n    a.b: 1\n\"\n"), "a.b", int64(2))
	f.Add([]byte("x: |\n    counters:\n    a.b: 1\ncounters:\n    a.b: 1\n"), "a.b", int64(2))
	f.Fuzz(func(t *testing.T, old []byte, name string, n int64) {
		st, err := parse("fuzz", old)
		if err != nil || n < 0 {
			return
		}
		now := maps.Clone(st.Counters)
		if now == nil {
			now = map[string]int64{}
		}
		now[name] = n
		out, ok := spliceCounters(old, st.Counters, now)
		if !ok {
			return
		}
		got, err := parse("spliced", out)
		if err != nil {
			t.Fatalf("spliced file does not parse: %v\n%s", err, out)
		}
		st.Counters = now
		want, _ := yaml.Marshal(st)
		if g, _ := yaml.Marshal(got); !bytes.Equal(g, want) {
			t.Fatalf("spliced file decodes to\n%s\nwant\n%s", g, want)
		}
	})
}

// A change to the counters alone is written without an fsync; any other
// change, and any write of a file that says off, is flushed first.
func TestOnlyCountsSkipTheFsync(t *testing.T) {
	syncs := 0
	defer func(f func()) { synced = f }(synced)
	synced = func() { syncs++ }
	ctx := context.Background()
	s := newStore(t)
	count := func(st *State) error {
		if st.Counters == nil {
			st.Counters = map[string]int64{}
		}
		st.Counters["cli.version.count"]++
		return nil
	}
	for _, step := range []struct {
		name  string
		fn    func(*State) error
		syncs int
	}{
		{"a new file", func(st *State) error { _, err := st.EnsureUserID(t0); return err }, 1},
		{"first count", count, 0},
		{"a count", count, 0},
		{"another count", count, 0},
		{"nothing", func(*State) error { return nil }, 0},
		{"an event", func(st *State) error {
			st.Pending = append(st.Pending, Event{UUID: "0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11", Event: "Heartbeat", Timestamp: t0})
			return nil
		}, 1},
		{"a count beside the event", count, 0},
		{"a changed property", func(st *State) error { st.Pending[0].Properties = map[string]any{"a": 1}; return nil }, 1},
		{"opt-out", func(st *State) error { st.SetEnabled(false); return nil }, 1},
		{"a count in a file that says off", count, 1},
		{"opt-in", func(st *State) error { st.SetEnabled(true); return nil }, 1},
		{"a count again", count, 0},
	} {
		syncs = 0
		if err := s.Update(ctx, step.fn); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if syncs != step.syncs {
			t.Errorf("%s: %d fsyncs, want %d", step.name, syncs, step.syncs)
		}
	}
	st, err := New(s.Path()).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Counters["cli.version.count"]; got != 6 {
		t.Errorf("count = %d, want 6", got)
	}
	b, _ := os.ReadFile(s.Path())
	if want := mustMarshal(t, st); string(b) != want {
		t.Errorf("file is not what marshal writes:\n%s\nwant\n%s", b, want)
	}
}
