package exporter_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// withoutCounters returns a state file's lines but those of its counters
// block.
func withoutCounters(b []byte) string {
	var keep []string
	in := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch {
		case line == "counters:\n":
			in = true
		case in && strings.HasPrefix(line, " "):
		default:
			in = false
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// A run with nothing due changes the counters lines of the state file and
// nothing else, byte for byte: the update package state makes without an
// encoder or an fsync (the CLI run's cost, issue 6). Anything else an
// Export changed on every run would bring both back.
func TestQuietExportChangesOnlyTheCounters(t *testing.T) {
	exp, path := quietExporter(t)
	export := exportOp(exp, 3)
	export()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	export()
	export()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, after) {
		t.Fatal("the counts were not written")
	}
	if got, want := withoutCounters(after), withoutCounters(before); got != want {
		t.Errorf("an Export with nothing due changed more than the counters:\n%s\nwas\n%s", got, want)
	}
	st, err := state.New(path).Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.Counters["feature.f0000.count"] != 3 {
		t.Errorf("counters = %v", st.Counters)
	}
}
