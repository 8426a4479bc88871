package sanitize

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// readCorpus reads a testdata file of one name per line, '#' comments and
// blank lines left out, each name once.
func readCorpus(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") || seen[line] {
			continue
		}
		seen[line] = true
		names = append(names, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// machines are the environments the corpora are measured under, as each
// population's machines set them (host name from os.Hostname, then the
// environment), and the names that must be dropped there because they
// carry that machine's host name, user name or a token of its environment.
var machines = []struct {
	name    string
	m       machine
	private map[string]string // name -> rule
}{
	{
		name: "container as root",
		m: machine{host: "3f9c2a1b7d4e", env: []string{
			"HOSTNAME=3f9c2a1b7d4e", "USER=root", "HOME=/root", "PATH=/usr/local/bin:/usr/bin:/bin",
			"LANG=C.UTF-8", "PYTHON_VERSION=3.12.7", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
		}},
		private: map[string]string{
			"feature.3f9c2a1b7d4e.count": "hex", "cli.host-3f9c2a1b7d4e.count": "hex",
		},
	},
	{
		name: "GitHub Actions runner",
		m: machine{host: "fv-az123-456", env: []string{
			"USER=runner", "HOME=/home/runner", "CI=true", "GITHUB_ACTIONS=true", "RUNNER_OS=Linux",
			"RUNNER_ARCH=X64", "RUNNER_NAME=GitHub Actions 2", "ImageOS=ubuntu22", "ImageVersion=20241022.1.0",
			"GITHUB_SHA=9fceb02d0ae598e95dc970b74767f19372d61af8", "GITHUB_RUN_ID=11223344556",
			"GITHUB_REPOSITORY=octo-org/hello-world", "GITHUB_ACTOR=octocat", "GITHUB_WORKFLOW=CI",
		}},
		private: map[string]string{
			"feature.fv-az123-456.count": "local-word:host", "cli.fv_az123_456.count": "local-word:host",
			"feature.9fceb02d0ae598e95dc970b74767f19372d61af8.count": "hex",
		},
	},
	{
		name: "service with HOME=/app",
		m: machine{host: "ip-10-0-0-12.ec2.internal", env: []string{
			"HOME=/app", "NODE_ENV=production", "PORT=8080", "AWS_REGION=eu-west-1",
			"AWS_EXECUTION_ENV=AWS_ECS_FARGATE", "OPENAI_MODEL=gpt-4o-mini", "APP_VERSION=1.4.2",
			"ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/5c1a2b3c",
		}},
		private: map[string]string{
			"feature.ip-10-0-0-12.count": "risky-word:ip", "workflow.ip_10_0_0_12_ec2_internal.count": "risky-word:ip",
		},
	},
	{
		name: "laptop",
		m: machine{host: "alices-macbook-pro", env: []string{
			"USER=alice", "LOGNAME=alice", "HOME=/home/alice", "SHELL=/bin/zsh", "LANG=en_US.UTF-8",
			"TERM=xterm-256color", "TERM_PROGRAM=vscode", "EDITOR=vim", "GOPATH=/home/alice/go",
			"ANTHROPIC_MODEL=claude-3-5-sonnet-20241022", "OPENAI_API_KEY=sk-proj-examplefakeprojectkey0123456789",
			"IDUN_DEPLOY_TOKEN=Zk3p9Lq2xY",
		}},
		private: map[string]string{
			"feature.alice.count": "local-word:user", "workflow.alice.count": "local-word:user",
			"cli.alice_setup.count": "local-word:user", "feature.alices-macbook-pro.count": "local-word:host",
			"feature.alices_macbook_pro.count": "local-word:host", "feature.zk3p9lq2xy.count": "local-word:env",
			"feature.sk-proj-examplefakeprojectkey0123456789.count": "credential:openai",
		},
	},
	{
		name: "Windows laptop",
		m: machine{host: "JDOE-LAPTOP", env: []string{
			`USERNAME=CORP\jdoe`, `USERPROFILE=C:\Users\jdoe`, "COMPUTERNAME=JDOE-LAPTOP",
			"PROCESSOR_ARCHITECTURE=AMD64", "OS=Windows_NT",
		}},
		private: map[string]string{
			"feature.jdoe.count": "local-word:user", "feature.jdoe-laptop.count": "local-word:host",
			"cli.JDOE_LAPTOP.count": "local-word:host",
		},
	},
}

// riskyWordDrops are the corpus names that the documented risky words drop
// on purpose, with the word: a real cost of the word list, measured here so
// that a change to the list shows up as a change to this set.
var riskyWordDrops = map[string]string{
	"cli.send-email.count":                            "risky-word:email",
	"cli.secret.count":                                "risky-word:secret",
	"cli.gpg-key.count":                               "risky-word:key",
	"cli.ssh-key.count":                               "risky-word:key",
	"cli.query.count":                                 "risky-word:query",
	"cli.token.count":                                 "risky-word:token",
	"feature.grade_documents.count":                   "risky-word:documents",
	"feature.transform_query.count":                   "risky-word:query",
	"feature.prompt_template.count":                   "risky-word:prompt",
	"feature.chat_prompt_template.count":              "risky-word:prompt",
	"feature.recursive_character_text_splitter.count": "risky-word:text",
	"feature.text_loader.count":                       "risky-word:text",
	"feature.multi_query_retriever.count":             "risky-word:query",
	"feature.parent_document_retriever.count":         "risky-word:document",
	"feature.wikipedia_query_run.count":               "risky-word:query",
	"feature.query_engine.count":                      "risky-word:query",
	"feature.retriever_query_engine.count":            "risky-word:query",
	"feature.token_text_splitter.count":               "risky-word:token",
	"feature.query_engine_tool.count":                 "risky-word:query",
	"feature.document.count":                          "risky-word:document",
	"feature.text_node.count":                         "risky-word:text",
	"feature.router_query_engine.count":               "risky-word:query",
	"feature.sub_question_query_engine.count":         "risky-word:query",
	"feature.text_mention_termination.count":          "risky-word:text",
	"feature.text-embedding-3-small.count":            "risky-word:text",
	"feature.text-embedding-3-large.count":            "risky-word:text",
}

// TestCorpusRealNames measures the sanitizer on real names: at most 2% may
// be dropped by the rules that guess (data shapes, local words), and the
// names the risky-word list drops on purpose are exactly riskyWordDrops.
func TestCorpusRealNames(t *testing.T) {
	names := readCorpus(t, "testdata/names.txt")
	if len(names) < 300 {
		t.Fatalf("%d names in the corpus, want at least 300", len(names))
	}
	for _, mc := range machines {
		t.Run(mc.name, func(t *testing.T) {
			simulate(t, mc.m)
			var falseDrops, wordDrops int
			for _, name := range names {
				v := Explain(name)
				if key, ok := CounterName(name); key != v.Key || ok != v.OK {
					t.Errorf("CounterName(%q) = (%q, %v), Explain = %+v", name, key, ok, v)
				}
				want, policy := riskyWordDrops[name]
				switch {
				case v.OK && policy:
					t.Errorf("%s: kept, but the risky words should drop it (%s)", name, want)
				case v.OK:
				case policy && v.Rule == want:
					wordDrops++
				case strings.HasPrefix(v.Rule, "risky-word:"):
					t.Errorf("%s: dropped by %s, a new cost of the word list", name, v.Rule)
				default:
					falseDrops++
					t.Logf("false drop: %s (%s)", name, v.Rule)
				}
			}
			t.Logf("%d real names: %d dropped by data-shape or local-word rules (%.1f%%), %d by the risky words (%.1f%%), %.1f%% in all",
				len(names), falseDrops, pct(falseDrops, len(names)), wordDrops, pct(wordDrops, len(names)), pct(falseDrops+wordDrops, len(names)))
			if pct(falseDrops, len(names)) > 2 {
				t.Errorf("%.1f%% of real names dropped by data-shape or local-word rules, want at most 2%%", pct(falseDrops, len(names)))
			}
		})
	}
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(of) }

// TestCorpusCanaries: every data-shaped name is dropped on every machine,
// and by the data-shape rules alone (a policy without risky words), so
// that no canary passes the test only because its made-up value holds a
// word such as "key".
func TestCorpusCanaries(t *testing.T) {
	canaries := readCorpus(t, "testdata/canaries.txt")
	if len(canaries) < 100 {
		t.Fatalf("%d canaries, want at least 100", len(canaries))
	}
	noWords := withPolicy(func(p *Policy) { p.RiskyTokens = nil })
	for _, mc := range machines {
		t.Run(mc.name, func(t *testing.T) {
			simulate(t, mc.m)
			dropped := 0
			for _, name := range canaries {
				v, bare := Explain(name), noWords.Explain(name)
				if v.OK || bare.OK {
					t.Errorf("canary %q kept: %+v, without risky words %+v", name, v, bare)
					continue
				}
				dropped++
			}
			t.Logf("%d of %d canaries dropped (%.0f%%)", dropped, len(canaries), pct(dropped, len(canaries)))
			for name, want := range mc.private {
				if v := Explain(name); v.OK || v.Rule != want {
					t.Errorf("%q: %+v, want dropped by %s", name, v, want)
				}
			}
			// The role words of this machine stay countable.
			for _, w := range []string{"root", "runner", "app", "shared", "home", "build", "node", "admin", "user"} {
				if v := Explain("feature." + w + ".count"); !v.OK {
					t.Errorf("feature.%s.count: %+v, want kept", w, v)
				}
			}
		})
	}
}

// TestCorpusFilesAreClean: the corpora are data, and a name listed twice in
// the canaries or a canary that is also a real name would skew the figures.
func TestCorpusFilesAreClean(t *testing.T) {
	names, canaries := readCorpus(t, "testdata/names.txt"), readCorpus(t, "testdata/canaries.txt")
	for _, c := range canaries {
		if slices.Contains(names, c) {
			t.Errorf("%q is both a real name and a canary", c)
		}
	}
	for name := range riskyWordDrops {
		if !slices.Contains(names, name) {
			t.Errorf("riskyWordDrops lists %q, which is not in the corpus", name)
		}
	}
}
