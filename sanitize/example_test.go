package sanitize_test

import (
	"fmt"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
)

// Explain says what becomes of a counter name, and which rule drops it.
func ExampleExplain() {
	for _, name := range []string{
		"workflow.LangGraph.count",
		"feature.tokenizer.count",
		"feature.claude-3-5-sonnet.count",
		"feature.api_key.count",
		"feature.10_0_0_1.count",
		"feature.ghp_abcdefghijklmnop.count",
		"agent.run.count",
	} {
		v := sanitize.Explain(name)
		fmt.Printf("%-36s ok=%-5v key=%q rule=%q\n", name, v.OK, v.Key, v.Rule)
	}
	// Output:
	// workflow.LangGraph.count             ok=true  key="workflow.langgraph.count" rule=""
	// feature.tokenizer.count              ok=true  key="feature.tokenizer.count" rule=""
	// feature.claude-3-5-sonnet.count      ok=true  key="feature.claude-3-5-sonnet.count" rule=""
	// feature.api_key.count                ok=false key="" rule="risky-word:apikey"
	// feature.10_0_0_1.count               ok=false key="" rule="ipv4"
	// feature.ghp_abcdefghijklmnop.count   ok=false key="" rule="credential:github"
	// agent.run.count                      ok=false key="" rule="not-a-namespace"
}
