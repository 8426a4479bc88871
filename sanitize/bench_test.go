package sanitize

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkCounterName(b *testing.B) {
	for _, name := range []string{"workflow.langgraph.count", "CLI.Version.Count", "feature./etc/passwd", "feature.api_key.count"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CounterName(name)
			}
		})
	}
}

func BenchmarkProperties(b *testing.B) {
	heartbeat := map[string]any{
		"libraries.idun": "0.1.0", "os.family": "Linux", "os.machine": "x86_64",
		"os.containerized": false, "go.version": "go1.26.8", "libraries.gotest": false,
		"$process_person_profile": false, "$geoip_disable": true,
		"workflow.langgraph.count": 3, "cli.version.count": 1, "feature.tutorial.count": 2,
	}
	hostile := map[string]any{"hostname": "box", "feature.file_path": "/etc/passwd"}
	for i := range 500 {
		hostile[fmt.Sprintf("feature.k%03d", i)] = map[string]any{
			"s": strings.Repeat("<é", 150), "l": []any{1, 2.5, "x", []any{1}},
		}
	}
	for _, c := range []struct {
		name string
		in   map[string]any
	}{{"heartbeat", heartbeat}, {"hostile", hostile}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Properties(c.in)
			}
		})
	}
}
