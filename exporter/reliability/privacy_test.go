//go:build unix

package reliability

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// canaries are private values a host program may hold; none may leave it.
func canaries(t *testing.T, home string) []string {
	c := []string{
		home,                        // the sandbox's $HOME
		"canary-host-7f3a",          // a host name (planted as HOSTNAME)
		"canary.person@example.com", // an email address
		"https://canary.example.org/private/path?q=secret", // a URL
		"10.11.12.13",                  // an IP address
		"env-canary-value-9f2c",        // an environment variable's value
		"attr-canary-value-51d0",       // an attribute value
		"/home/canary-user/secret.txt", // a path
	}
	if h, err := os.Hostname(); err == nil && len(h) >= 4 && h != "localhost" {
		c = append(c, h) // the machine's host name
	}
	c = append(c, loginName()) // the user's name, as the session names it
	if h := os.Getenv("HOME"); len(h) >= 4 && !roleAccounts[filepath.Base(h)] {
		c = append(c, h) // the real $HOME
	}
	return c
}

// ciValues are the values of ciCanaries: only searched for, not planted
// through the host's counters (a host that names a counter after its
// branch sends what it chose to count); what must not happen is the library
// reading them from the environment.
func ciValues() []string {
	var vs []string
	for _, kv := range ciCanaries {
		_, v, _ := strings.Cut(kv, "=")
		vs = append(vs, v)
	}
	return vs
}

// ciCanaries are what a CI job's environment says about the job, with
// distinctive values, set in the privacy scenario's environment: only the
// flag and the vendor's name may be sent, never a repository, branch, run
// id, pull request or URL.
var ciCanaries = []string{
	"GITHUB_REPOSITORY=canary-org/canary-secret-repo",
	"GITHUB_RUN_ID=8675309001234",
	"GITHUB_REF_NAME=canary-branch-gh",
	"GITHUB_HEAD_REF=canary-pr-head-ref",
	"GITHUB_SERVER_URL=https://canary-ghe.example.net",
	"CI_PROJECT_PATH=canary-group/canary-gitlab-project",
	"CI_COMMIT_REF_NAME=canary-gitlab-branch",
	"CI_MERGE_REQUEST_ID=7766554433",
	"CI_PIPELINE_URL=https://gitlab.canary.example/pipelines/1",
	"BUILDKITE_REPO=git@canary-bk.example:org/canary-bk-repo.git",
	"BUILDKITE_BRANCH=canary-buildkite-branch",
	"BUILDKITE_PULL_REQUEST=4455667788",
	"CIRCLE_PROJECT_REPONAME=canary-circle-repo",
	"CIRCLE_BRANCH=canary-circle-branch",
}

// roleAccounts are accounts that name a role, not a person; the library
// counts a feature of the same name (README, "Never collected"), so they
// are no canaries. The ones a test machine runs as: CI, containers.
var roleAccounts = map[string]bool{"root": true, "runner": true, "runneradmin": true, "ubuntu": true, "node": true, "app": true}

// loginName is the user the sandbox's session names: the real one, or a
// made-up person when the tests run under a role account.
func loginName() string {
	if u, err := user.Current(); err == nil && len(u.Username) >= 4 && !roleAccounts[u.Username] {
		return u.Username
	}
	return "canary-login-8d2f"
}

// spellings are the ways a canary could show up once a name was normalised.
func spellings(c string) []string {
	c = strings.ToLower(c)
	return []string{c, strings.ReplaceAll(c, ".", "_"), strings.ReplaceAll(c, ".", "-"), strings.ReplaceAll(strings.ReplaceAll(c, ".", "-"), "/", "_")}
}

// leaks reports the canaries found in b.
func leaks(b []byte, cs []string) []string {
	low := bytes.ToLower(b)
	var found []string
	for _, c := range cs {
		for _, s := range spellings(c) {
			if bytes.Contains(low, []byte(s)) {
				found = append(found, s)
				break
			}
		}
	}
	return found
}

// TestReliabilityPrivacy plants canaries through every public entry point
// (instrument helpers and Recorder, counter names in every namespace,
// attribute keys and values, meter names, versions and attributes, the
// resource, the environment, WithVersion) and checks that no request body,
// no debug line and no part of the state file carries any of them.
func TestReliabilityPrivacy(t *testing.T) {
	sink := newSink(t)
	s := newSandbox(t, sink.URL)
	cs := canaries(t, s.home)
	searched := append(append([]string(nil), cs...), ciValues()...)
	s.env = append(s.env,
		"RELIABILITY_CANARIES="+strings.Join(cs, "\n"),
		"HOSTNAME=canary-host-7f3a",
		"CANARY_SECRET=env-canary-value-9f2c",
		"OTEL_SERVICE_NAME=canary.person@example.com",
		"OTEL_RESOURCE_ATTRIBUTES=host.name=canary-host-7f3a,deployment.environment=env-canary-value-9f2c",
	)
	// A login session names its user, as a shell or a service manager does.
	s.env = append(s.env, "USER="+loginName(), "LOGNAME="+loginName())
	// A CI job of several vendors at once, each with what it says about
	// the job.
	s.env = append(s.env, "CI=true", "GITHUB_ACTIONS=true", "GITLAB_CI=true", "BUILDKITE=true", "CIRCLECI=true")
	s.env = append(s.env, ciCanaries...)

	// A new installation: First run.
	s.hostprog("-canaries", "-grace", "5s").silent(t, "first run", 0)
	// A day later: the Heartbeat carries the counters.
	err := state.New(s.statePath()).Update(context.Background(), func(st *state.State) error {
		st.CreatedAt = time.Now().Add(-48 * time.Hour).UTC()
		st.LastHeartbeatAt = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.hostprog("-canaries", "-grace", "5s").silent(t, "heartbeat run", 0)
	s.hostprog("-grace", "5s").silent(t, "drain run", 0)
	noRejects(t, sink)

	// Each planting run's counts went at its end (a CI job).
	beats := eventsNamed(sink.Events(), "Heartbeat")
	if len(beats) != 2 || len(eventsNamed(sink.Events(), "First run")) != 1 {
		t.Fatalf("want 1 First run and 2 Heartbeats, got %+v", sink.Events())
	}
	for _, beat := range beats {
		if beat.Properties["feature.canary_carrier.count"] == nil || beat.Properties["cli.version.count"] == nil {
			t.Errorf("a Heartbeat lacks the legitimate counters: %v", beat.Properties)
		}
	}
	for _, ev := range sink.Events() {
		if ev.Properties["ci"] != true || ev.Properties["ci.vendor"] == nil {
			t.Errorf("%s does not say it came from CI: ci %v, ci.vendor %v", ev.Event, ev.Properties["ci"], ev.Properties["ci.vendor"])
		}
	}
	file, _ := os.ReadFile(s.statePath())
	checked := 0
	for i, body := range sink.Bodies() {
		checked += len(body)
		if l := leaks(body, searched); len(l) != 0 {
			t.Errorf("request %d carries %q:\n%s", i, l, body)
		}
	}
	if l := leaks(file, searched); len(l) != 0 {
		t.Errorf("the state file carries %q:\n%s", l, file)
	}
	st := s.load()
	if len(st.Sent) != 2 { // the last of each name
		t.Errorf("sent events in the state file: %d, want 2", len(st.Sent))
	}

	// Debug mode prints what would be sent: no canary there either.
	dbg := newSandbox(t, sink.URL, "IDUN_TELEMETRY_DEBUG=1")
	dbg.env = append(dbg.env, s.env...)
	dbg.writeState(map[string]any{"user_id": st.UserID, "created_at": time.Now().Add(-48 * time.Hour).UTC()})
	r := dbg.hostprog("-canaries")
	if r.code != 0 || len(r.stdout) != 0 || !bytes.Contains(r.stderr, []byte(`"Heartbeat"`)) {
		t.Errorf("debug run: %v", r)
	}
	if l := leaks(r.stderr, searched); len(l) != 0 {
		t.Errorf("debug output carries %q:\n%s", l, r.stderr)
	}

	// WithVersion is the embedder's; a canary passed as the version must
	// not be sent either.
	versions := 0
	for _, c := range cs {
		vs := newSink(t)
		v := newSandbox(t, vs.URL)
		v.hostprog("-version", c, "-grace", "5s").silent(t, "version "+c, 0)
		versions++
		for _, body := range vs.Bodies() {
			checked += len(body)
			if l := leaks(body, []string{c}); len(l) != 0 {
				t.Errorf("WithVersion(%q) sent: %s", c, body)
			}
		}
		if got := eventsNamed(vs.Events(), "First run"); len(got) != 1 {
			t.Errorf("WithVersion(%q): %d First run", c, len(got))
		}
	}
	figure(t, "%d canaries (%s) planted through helpers, Recorder, counter names in every namespace, attributes, meter names and versions, the resource, the environment and WithVersion, and %d CI job values (repository, branch, run id, pull request, URL of 4 vendors) in the environment: 0 found in %d request bodies (%d bytes), the state file (%d sent events) or the debug output", len(cs), strings.Join(kinds(), ", "), len(ciCanaries), len(sink.Bodies())+versions, checked, len(st.Sent))
}

func kinds() []string {
	return []string{"host name", "user name", "$HOME", "email", "URL", "IP", "env var value", "attribute value", "path"}
}
