package sanitize

import (
	"reflect"
	"strings"
	"testing"
)

// simulate makes the package see m's local words until the test ends.
func simulate(tb testing.TB, m machine) {
	tb.Helper()
	words := wordsOf(m)
	prev := simulated.Swap(&words)
	tb.Cleanup(func() { simulated.Store(prev) })
}

// pinnedCommonLocalWords is the documented list (README, "Never
// collected"): local words that name a role, never a person or a machine.
var pinnedCommonLocalWords = []string{
	"root", "admin", "administrator", "user", "guest", "default", "nobody", "daemon",
	"system", "localhost", "ubuntu", "debian", "fedora", "centos", "alpine", "pi",
	"ec2-user", "azureuser", "opc",
	"app", "node", "docker", "www-data", "nginx", "postgres", "jovyan", "worker", "service",
	"runner", "runneradmin", "jenkins", "gitlab-runner", "buildkite-agent", "circleci",
	"travis", "ci", "build", "builder", "vagrant",
	"vscode", "codespace", "gitpod", "coder", "dev", "developer", "sandbox",
	"home", "shared", "work", "workspace", "data", "tmp",
}

func TestCommonLocalWordsPinned(t *testing.T) {
	if !reflect.DeepEqual(commonLocalWords, pinnedCommonLocalWords) {
		t.Errorf("commonLocalWords = %q\nwant the documented %q", commonLocalWords, pinnedCommonLocalWords)
	}
}

// TestCommonLocalWordsAreKept: a host, a user and a home named after a
// role leave the feature of the same name countable, each word alone
// (taking one out of the list fails its own subtest).
func TestCommonLocalWordsAreKept(t *testing.T) {
	for _, w := range pinnedCommonLocalWords {
		t.Run(w, func(t *testing.T) {
			simulate(t, machine{host: w, env: []string{"USER=" + w, "LOGNAME=" + w, "HOME=/home/" + w}})
			// www-data holds "www", which the url rule drops on any
			// machine: only the local-word rule is under test here.
			name := "feature." + w + ".count"
			if v := Explain(name); strings.HasPrefix(v.Rule, "local-word") {
				t.Errorf("Explain(%q) = %+v under USER=%s, want no local word", name, v, w)
			}
		})
	}
}

func TestWordsOf(t *testing.T) {
	tests := []struct {
		name string
		m    machine
		want []string // canonical form and rule
	}{
		{
			name: "laptop",
			m: machine{host: "Alices-MacBook-Pro.local", env: []string{
				"USER=alice", "LOGNAME=alice", "HOME=/Users/alice", "SHELL=/bin/zsh", "LANG=en_US.UTF-8",
				"TERM=xterm-256color", "ANTHROPIC_MODEL=claude-3-5-sonnet-20241022", "OPENAI_MODEL=gpt-4o-mini",
				"DEPLOY_TOKEN=Zk3p9Lq2xY", "AGENT=langgraph", "GOVERSION=go1.26.8", "IMAGE=ubuntu22",
			}},
			want: []string{
				".alices.macbook.pro.local. host", ".alices.macbook.pro. host", ".alice. user",
				".xterm.256color. env", ".zk3p9lq2xy. env",
			},
		},
		{
			name: "container as root",
			m:    machine{host: "3f9c2a1b7d4e", env: []string{"USER=root", "HOME=/root", "HOSTNAME=3f9c2a1b7d4e", "PYTHON_VERSION=3.12.7"}},
			want: []string{".3f9c2a1b7d4e. host"},
		},
		{
			name: "GitHub Actions",
			m: machine{host: "fv-az123-456", env: []string{
				"USER=runner", "HOME=/home/runner", "RUNNER_NAME=GitHub Actions 2", "ImageOS=ubuntu22",
				"ImageVersion=20241022.1.0", "GITHUB_RUN_ID=11223344556",
			}},
			want: []string{".fv.az123.456. host"},
		},
		{
			name: "Windows",
			m: machine{host: "JDOE-LAPTOP", env: []string{
				`USERNAME=CORP\jdoe`, `USERPROFILE=C:\Users\jdoe`, "COMPUTERNAME=JDOE-LAPTOP", "PROCESSOR_ARCHITECTURE=AMD64",
			}},
			want: []string{".jdoe.laptop. host", ".jdoe. user"},
		},
		{
			name: "nothing known",
			m:    machine{env: []string{"HOME=/", "USER=a", "LOGNAME=me@example.com"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, w := range wordsOf(tt.m) {
				got = append(got, string(w.parts)+" "+w.rule)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("wordsOf = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTokenLike(t *testing.T) {
	for v, want := range map[string]bool{
		"Zk3p9Lq2xY": true, "a8f3kd9s0x2m4n7q": true, "fv-az123-456": true, "xterm-256color": true,
		"ghp_x8Kd92LmQz4PqR7s": true, "api-7d9f8b6c5-x2k4p": true,
		"langgraph": false, "claude-3-5-sonnet-20241022": false, "gpt-4o-mini": false, "ubuntu22": false,
		"en_US.UTF-8": false, "20241022.1.0": false, "qwen2-5-72b": false, "llama-3-1-405b": false,
		"abc1234": false, "/usr/local/bin": false, "go1.26.8": false, "x86_64": false,
	} {
		if got := tokenLike(v); got != want {
			t.Errorf("tokenLike(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestHoldsLocalWord(t *testing.T) {
	simulate(t, machine{host: "jdoe-laptop", env: []string{"USER=jdoe", "HOME=/home/jdoe"}})
	for s, want := range map[string]bool{
		"1.2.3-jdoe": true, "1.2.3+jdoe.laptop": true, "v1.0.0-JDOE": true, "feature.jdoe_laptop.count": true,
		"1.2.3": false, "1.2.3-jdoe2": false, "feature.laptop.count": false, "1.0.0-root": false,
	} {
		if got := HoldsLocalWord(s); got != want {
			t.Errorf("HoldsLocalWord(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestLocalWordRules: each source of a local word drops names with its own
// rule, whatever the joiners and the case.
func TestLocalWordRules(t *testing.T) {
	simulate(t, machine{host: "jdoe-laptop", env: []string{
		"USER=alice", "HOME=/home/bob", "DEPLOY_TOKEN=Zk3p9Lq2xY",
	}})
	for name, want := range map[string]string{
		"feature.jdoe-laptop.count":  "local-word:host",
		"cli.JDOE_LAPTOP.count":      "local-word:host",
		"workflow.x.jdoe.laptop":     "local-word:host",
		"feature.alice.count":        "local-word:user",
		"feature.Alice_runs.count":   "local-word:user",
		"feature.bob.count":          "local-word:home",
		"feature.zk3p9lq2xy.count":   "local-word:env",
		"feature.malice.count":       "",
		"feature.jdoe.count":         "",
		"feature.laptop_mode.count":  "",
		"feature.alices.count":       "",
		"feature.zk3p9lq2xy2.count":  "",
		"feature.alice2.count":       "",
		"feature.root.count":         "",
		"feature.jdoe-laptops.count": "",
	} {
		v := Explain(name)
		if v.Rule != want || v.OK != (want == "") {
			t.Errorf("Explain(%q) = %+v, want rule %q", name, v, want)
		}
		if _, ok := CounterName(name); ok != v.OK {
			t.Errorf("CounterName(%q) ok = %v, Explain says %v", name, ok, v.OK)
		}
	}
	if strings.Contains(Explain("feature.alice.count").Key, "alice") {
		t.Error("a dropped name's Key is not empty")
	}
}
