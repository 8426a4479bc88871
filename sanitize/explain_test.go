package sanitize

import (
	"strings"
	"testing"
)

// TestExplainRules pins each rule's identifier, which debug output prints
// and people grep for: they must not change from one release to the next.
func TestExplainRules(t *testing.T) {
	simulate(t, machine{host: "jdoe-laptop", env: []string{"USER=alice", "HOME=/home/bob", "DEPLOY_TOKEN=Zk3p9Lq2xY"}})
	for name, want := range map[string]string{
		"feature." + strings.Repeat("a", 193):              "too-long",
		"feature.my counter":                               "not-a-name",
		"feature":                                          "not-a-name",
		"feature..x":                                       "not-a-name",
		"feature.é":                                        "not-a-name",
		"feature./etc/passwd":                              "path",
		`feature.c:\users`:                                 "path",
		"feature.me@example.com":                           "email",
		"feature.https://example.com":                      "url",
		"other.x":                                          "not-a-namespace",
		"os.family":                                        "not-a-namespace",
		"feature.api_key.count":                            "risky-word:apikey",
		"feature.monkey_key.count":                         "risky-word:key",
		"feature.authToken.count":                          "risky-word:token",
		"feature.file_name.count":                          "risky-word:filename",
		"feature.ghp_abcdefghijklmnop.count":               "credential:github",
		"feature.glpat-abcdefghijklmnop.count":             "credential:gitlab",
		"feature.xoxb-1234567890-abc.count":                "credential:slack",
		"feature.sk_live_abcdefghijkl.count":               "credential:stripe",
		"feature.sk-abcdefghij0123456789.count":            "credential:openai",
		"feature.AKIAIOSFODNN7EXAMPLE.count":               "credential:aws",
		"feature.AIzaabcdefghijklmnopqrstuvwxyz0123.count": "credential:google",
		"feature.eyJhbGciOiJIUzI1NiJ9.count":               "credential:jwt",
		"feature.hf_abcdefghijklmnopqrstuvwxyz01234.count": "credential:huggingface",
		"feature.6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab":     "uuid",
		"feature.10_0_0_1.count":                           "ipv4",
		"feature.fe80--1.count":                            "ipv6",
		"feature.00-1a-2b-3c-4d-5e.count":                  "mac",
		"feature.deadbeef0123.count":                       "hex",
		"feature.555-123-4567.count":                       "long-number",
		"feature.a8f3kd9s0x2m4n7q.count":                   "random",
		"feature.alice_example_com.count":                  "url",
		"feature.www.count":                                "url",
		"feature.jdoe-laptop.count":                        "local-word:host",
		"feature.alice.count":                              "local-word:user",
		"feature.bob.count":                                "local-word:home",
		"feature.zk3p9lq2xy.count":                         "local-word:env",
		"Workflow.LangGraph.Count":                         "",
	} {
		v := Explain(name)
		if v.Rule != want || v.OK != (want == "") {
			t.Errorf("Explain(%q) = %+v, want rule %q", name, v, want)
		}
		key, ok := CounterName(name)
		if key != v.Key || ok != v.OK {
			t.Errorf("CounterName(%q) = (%q, %v), Explain = %+v", name, key, ok, v)
		}
	}
	if v := Explain("Workflow.LangGraph.Count"); v.Key != "workflow.langgraph.count" {
		t.Errorf("Key = %q, want the lowered name", v.Key)
	}
}

// TestIssue16Names: the names the issue lists, each way.
func TestIssue16Names(t *testing.T) {
	simulate(t, machine{})
	for _, w := range []string{
		"api_key", "auth_token", "file_path", "prompt_cache", "rag_query", "apiKey", "AuthToken", "FILE_PATH",
		"tokens", "keys", "paths", "prompts", "urls", "emails", "secrets", "api_keys", "user_email", "repo_url",
	} {
		if v := Explain("feature." + w + ".count"); v.OK || !strings.HasPrefix(v.Rule, "risky-word:") {
			t.Errorf("%s: %+v, want a risky word", w, v)
		}
		in := map[string]any{"feature." + w: 1, "feature.m": map[string]any{w: 1}}
		if got := Properties(in); len(got) != 1 || len(got["feature.m"].(map[string]any)) != 0 {
			t.Errorf("Properties kept %s: %v", w, got)
		}
	}
	for _, w := range []string{
		"keyboard", "tokenizer", "pathfinder", "contents", "context", "hotkeys", "monkey_patch",
		"claude-3-5-sonnet", "gpt-4-1", "gpt-4o", "llama-3-1-8b", "v1-2-3", "python3-11", "turnkey", "keynote",
	} {
		if v := Explain("feature." + w + ".count"); !v.OK {
			t.Errorf("%s: %+v, want kept", w, v)
		}
		in := map[string]any{"feature." + w: 1, "feature.m": map[string]any{w: 1}}
		if got := Properties(in); len(got) != 2 || len(got["feature.m"].(map[string]any)) != 1 {
			t.Errorf("Properties dropped %s: %v", w, got)
		}
	}
}

func TestWords(t *testing.T) {
	for s, want := range map[string]string{
		"api_key":          "api key",
		"apiKey":           "api Key",
		"APIKey":           "API Key",
		"HTTPServer2Go":    "HTTP Server 2 Go",
		"gpt-4o":           "gpt 4 o",
		"feature.x.count":  "feature x count",
		"$geoip_disable":   "geoip disable",
		"  ":               "",
		"\u212Aey":         "\u212Aey",
		"caféAu":           "café Au",
		"e\u0301Tat":       "e\u0301 Tat",
		"ALLCAPS":          "ALLCAPS",
		"keyboard.hotkeys": "keyboard hotkeys",
	} {
		var got []string
		for start, end := nextWord(s, 0); start < len(s); start, end = nextWord(s, end) {
			got = append(got, s[start:end])
		}
		if strings.Join(got, " ") != want {
			t.Errorf("words of %q = %q, want %q", s, got, want)
		}
		if o := strings.Join(oracleWords(s), " "); o != want {
			t.Errorf("oracle words of %q = %q, want %q", s, o, want)
		}
	}
}
