//go:build unix

package reliability

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// TestReliabilityFuzz runs, with -long, each fuzz target of the library for
// five minutes (RELIABILITY_FUZZTIME overrides), one after the other, as
// go test -fuzz subprocesses with one worker each. New interesting inputs
// land in the Go build cache; the committed corpus is in each package's
// testdata/fuzz.
func TestReliabilityFuzz(t *testing.T) {
	if !*long {
		t.Skip("the 5-minute fuzzing runs with -long")
	}
	fuzztime := "5m"
	if v := os.Getenv("RELIABILITY_FUZZTIME"); v != "" {
		fuzztime = v
	}
	for _, target := range []struct{ pkg, name string }{
		{"./sanitize", "FuzzProperties"},
		{"./sanitize", "FuzzCounterName"},
		{"./state", "FuzzParse"},
		{"./state", "FuzzJournal"},
	} {
		t.Run(target.name, func(t *testing.T) {
			cmd := exec.Command(goTool(), "test", "-run", "^$", "-fuzz", "^"+target.name+"$", "-fuzztime", fuzztime, "-parallel", "1", target.pkg)
			cmd.Dir = "../.."
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", target.pkg, target.name, err, out)
			}
			execs, interesting := "?", "?"
			if m := lastProgress(out); m != nil {
				execs, interesting = string(m[1]), string(m[2])
			}
			figure(t, "%s in %s: %s executions, %s new interesting inputs, 0 failures", target.pkg, time.Since(start).Round(time.Second), execs, interesting)
		})
	}
}

var progress = regexp.MustCompile(`execs: (\d+) .*new interesting: (\d+)`)

func lastProgress(out []byte) [][]byte {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if m := progress.FindSubmatch(lines[i]); m != nil {
			return m
		}
	}
	return nil
}
