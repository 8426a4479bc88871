package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/sanitize"
)

// TestDocumentedLimits pins the numbers the README and the Go docs give.
func TestDocumentedLimits(t *testing.T) {
	if DefaultGrace != 250*time.Millisecond {
		t.Errorf("DefaultGrace = %v, documented as 250ms", DefaultGrace)
	}
	if MaxPending != 20 {
		t.Errorf("MaxPending = %d, documented as 20", MaxPending)
	}
}

// TestCountersFollowExplain: the exporter stores a counter exactly when
// sanitize.Explain says OK, under the key it gives; one verdict, so that
// what Explain tells a developer is what happens.
func TestCountersFollowExplain(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	names := map[string]bool{ // name -> kept, on any machine
		"feature.keyboard.count": true, "feature.tokenizer.count": true, "workflow.LangGraph.count": true,
		"feature.claude-3-5-sonnet.count": true, "feature.gpt-4-1.count": true, "cli.root.count": true,
		"feature.runner.count": true, "feature.app.count": true,
		"feature.api_key.count": false, "feature.apiKey.count": false, "feature.10_0_0_1.count": false,
		"feature.ghp_abcdefghijklmnop.count": false, "feature.deadbeef0123.count": false, "other.x.count": false,
	}
	// The machine's own host name, when it could be a counter name at all.
	host, _ := os.Hostname()
	hostName := "feature." + strings.ToLower(strings.Split(host, ".")[0]) + ".count"
	if v := sanitize.Explain(hostName); v.Rule == "local-word:host" {
		names[hostName] = false
	} else {
		t.Logf("host name %q: %+v (a role word, or not a name)", host, v)
	}
	counts := map[string]int64{}
	for name := range names {
		counts[name] = 1
	}
	runOnce(t, counts, WithHost(srv.URL), WithGrace(5*time.Second))
	stored := recorded(t, filepath.Join(cfgHome, "idun", "config.yaml"), srv)
	for name, kept := range names {
		v := sanitize.Explain(name)
		if v.OK != kept {
			t.Errorf("Explain(%q) = %+v, want kept %v", name, v, kept)
		}
		if _, got := stored[v.Key]; got != v.OK || (!v.OK && stored[name] != 0) {
			t.Errorf("%s: stored %v, Explain says %+v", name, got, v)
		}
	}
	if len(stored) != 8 {
		t.Errorf("stored %v, want the 8 kept names", stored)
	}
}
