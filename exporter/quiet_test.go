package exporter_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// A run with nothing due leaves config.yaml alone, byte for byte: its
// counts go to the journal beside it (one append per Export), which is the
// whole cost of a CLI run's exit (issue 12). An Export that rewrote
// config.yaml on every run would bring back the encoder, the fsync and the
// lock.
func TestQuietExportLeavesTheStateFileAlone(t *testing.T) {
	exp, path := quietExporter(t)
	store := state.New(path)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	export := exportOp(exp, 3)
	export()
	export()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("an Export with nothing due rewrote config.yaml:\n%s\nwas\n%s", after, before)
	}
	journal, err := os.ReadFile(store.JournalPath())
	if err != nil {
		t.Fatalf("no journal: %v", err)
	}
	if lines := bytes.Count(journal, []byte("\n")); lines != 2 {
		t.Errorf("journal holds %d lines after 2 Exports, want 2:\n%s", lines, journal)
	}
	counts, err := store.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if counts["feature.f0000.count"] != 2 || counts["feature.f0002.count"] != 2 {
		t.Errorf("counts = %v, want 2 of each of the 3 counters", counts)
	}
}
