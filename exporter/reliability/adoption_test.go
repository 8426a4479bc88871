//go:build unix

package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// The adoption scenarios: where the engine actually runs. For each kind of
// installation, the counts the test itself recorded (known numbers of
// requests and commands) = the counts delivered (Heartbeats the stand-in
// accepted, one per uuid) + the counts left in the installation's state,
// exactly; where the run was the installation's last, nothing is left.

// countsLeft is every count of the installation not sent yet: the one place
// this file reads them, so that it follows the store.
func countsLeft(s *sandbox) int64 {
	s.t.Helper()
	return sum(s.load().Counters)
}

// deliveredTo sums the counters of the Heartbeats of userID the stand-in
// accepted, one per uuid, as PostHog counts them.
func deliveredTo(sink *posthogtest.Server, userID string) int64 {
	return eventCounts(eventsNamed(byUUID(sink, userID), "Heartbeat"))
}

// byUUID returns the accepted events of userID, one per uuid.
func byUUID(sink *posthogtest.Server, userID string) []posthogtest.Event {
	seen := map[string]bool{}
	var out []posthogtest.Event
	for _, ev := range sink.Events() {
		if ev.DistinctID == userID && !seen[ev.UUID] {
			seen[ev.UUID] = true
			out = append(out, ev)
		}
	}
	return out
}

// installation follows one state file through its runs: what the test
// recorded, and which events each run added.
type installation struct {
	t        *testing.T
	s        *sandbox
	sink     *posthogtest.Server
	recorded int64
	seen     map[string]bool // uuids accepted so far
}

func newInstallation(t *testing.T, sink *posthogtest.Server, env ...string) *installation {
	return &installation{t: t, s: newSandbox(t, sink.URL, env...), sink: sink, seen: map[string]bool{}}
}

// ran accounts for one process that recorded n counts: it returns the
// events that process added (at most 2: a First run and one Heartbeat) and
// checks recorded = delivered + left, exactly.
func (in *installation) ran(what string, n int64) []posthogtest.Event {
	in.t.Helper()
	in.recorded += n
	st := in.s.load()
	var added []posthogtest.Event
	for _, ev := range byUUID(in.sink, st.UserID) {
		if !in.seen[ev.UUID] {
			in.seen[ev.UUID] = true
			added = append(added, ev)
		}
	}
	if len(added) > 2 {
		in.t.Errorf("%s: %d events from one process, want at most 2: %v", what, len(added), names(added))
	}
	delivered, left := deliveredTo(in.sink, st.UserID), countsLeft(in.s)
	if delivered+left != in.recorded {
		in.t.Errorf("%s: %d counts recorded != %d delivered + %d left (%d events still queued)", what, in.recorded, delivered, left, len(st.Pending))
	}
	return added
}

// heartbeats is how many distinct Heartbeats of this installation arrived.
func (in *installation) heartbeats() int {
	return len(eventsNamed(byUUID(in.sink, in.s.load().UserID), "Heartbeat"))
}

// names lists the events' names in the order they were built (their
// timestamps): each is sent in a request of its own, and they arrive in
// any order.
func names(evs []posthogtest.Event) []string {
	evs = slices.Clone(evs)
	at := func(ev posthogtest.Event) time.Time { ts, _ := time.Parse(time.RFC3339Nano, ev.Timestamp); return ts }
	sort.SliceStable(evs, func(i, j int) bool { return at(evs[i]).Before(at(evs[j])) })
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Event)
	}
	return out
}

// pod runs examples/server as a container without a volume runs it: it
// waits until the server listens, sends invokes POST /invoke, then SIGTERM,
// and checks the server exited 0 having printed only its listening line.
func pod(t *testing.T, s *sandbox, invokes int) {
	t.Helper()
	cmd, addr, stdout, errb := startServer(t, s)
	done := make(chan struct{})
	var rest bytes.Buffer
	go func() { _, _ = rest.ReadFrom(stdout); close(done) }()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range invokes {
		resp, err := client.Post("http://"+addr+"/invoke", "application/json", strings.NewReader(`{"input": "a prompt"}`))
		if err != nil {
			t.Fatalf("POST /invoke %d: %v", i, err)
		}
		copyDiscard(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /invoke %d: %d", i, resp.StatusCode)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { <-done; exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("server still running 20s after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 || rest.Len() != 0 || len(errb.Bytes()) != 0 {
		t.Errorf("server: exit %d, more stdout %q, stderr %q", code, rest.Bytes(), errb.Bytes())
	}
}

// TestReliabilityPods: five agent-server pods, each a container without a
// volume (a fresh HOME), 10 requests each, then SIGTERM. Every pod's counts
// reach PostHog; none is left in a file that dies with the pod.
func TestReliabilityPods(t *testing.T) {
	const pods, invokes = 5, 10
	sink := newSink(t)
	users := map[string]bool{}
	var total int64
	for i := range pods {
		in := newInstallation(t, sink)
		pod(t, in.s, invokes)
		// 10 features used and 1 workflow started (at the server's start).
		added := in.ran(fmt.Sprintf("pod %d", i), invokes+1)
		if got := names(added); len(got) != 2 || got[0] != "First run" || got[1] != "Heartbeat" {
			t.Errorf("pod %d sent %v, want a First run and a Heartbeat", i, got)
		}
		if left := countsLeft(in.s); left != 0 {
			t.Errorf("pod %d left %d counts behind", i, left)
		}
		st := in.s.load()
		users[st.UserID] = true
		beat := eventsNamed(added, "Heartbeat")
		if len(beat) == 1 && (beat[0].Properties["feature.invoke.count"] != float64(invokes) || beat[0].Properties["workflow.langgraph.count"] != float64(1) || beat[0].Properties["ci"] != false) {
			t.Errorf("pod %d Heartbeat %v", i, beat[0].Properties)
		}
		total += deliveredTo(sink, st.UserID)
	}
	noRejects(t, sink)
	if len(users) != pods || total != pods*(invokes+1) {
		t.Errorf("%d installations delivered %d counts, want %d and %d", len(users), total, pods, pods*(invokes+1))
	}
	figure(t, "%d pods (fresh HOME, %d POST /invoke, SIGTERM): %d counts recorded = %d delivered in %d Heartbeats + 0 left; %d First run", pods, invokes, pods*(invokes+1), total, len(eventsNamed(sink.Unique(), "Heartbeat")), len(eventsNamed(sink.Unique(), "First run")))
}

// ciVendors are CI jobs as their runners set the environment: the flag and
// the vendor's name may be sent, never the other values (secrets).
var ciVendors = []struct {
	vendor  string
	env     []string
	secrets []string
}{
	{"GitHub Actions", []string{"CI=true", "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=pull_request"}, []string{
		"GITHUB_REPOSITORY=acme/secret-repo", "GITHUB_RUN_ID=7311029384756", "GITHUB_REF_NAME=secret-gh-branch",
		"GITHUB_HEAD_REF=secret-gh-pr-branch", "GITHUB_SHA=5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0",
		"GITHUB_SERVER_URL=https://secret-ghe.acme.example", "GITHUB_ACTOR=secret-gh-actor",
	}},
	{"GitLab CI", []string{"CI=true", "GITLAB_CI=true"}, []string{
		"CI_PROJECT_PATH=acme-group/secret-gitlab-project", "CI_COMMIT_REF_NAME=secret-gitlab-branch",
		"CI_PIPELINE_ID=99887766554", "CI_MERGE_REQUEST_IID=4433221", "CI_JOB_URL=https://gitlab.acme.example/secret/-/jobs/1",
	}},
	{"Buildkite", []string{"BUILDKITE=true"}, []string{
		"BUILDKITE_REPO=git@github.com:acme/secret-bk-repo.git", "BUILDKITE_BRANCH=secret-bk-branch",
		"BUILDKITE_BUILD_ID=0190aa11-secret-bk-build", "BUILDKITE_PULL_REQUEST=5566778",
	}},
	{"CircleCI", []string{"CI=true", "CIRCLECI=true"}, []string{
		"CIRCLE_PROJECT_REPONAME=secret-circle-repo", "CIRCLE_BRANCH=secret-circle-branch",
		"CIRCLE_BUILD_NUM=66554433221", "CIRCLE_PULL_REQUEST=https://github.com/acme/secret-circle-repo/pull/12",
	}},
}

// TestReliabilityCIJobs: a CI job of each vendor, a fresh HOME and three
// CLI commands. Every command's counts are delivered at its end, nothing is
// left, every event says ci and the vendor, and nothing else about the job.
func TestReliabilityCIJobs(t *testing.T) {
	commands := [][]string{{"version"}, {"run", "the", "tests"}, {"help"}}
	var events, beats int
	for _, v := range ciVendors {
		t.Run(v.vendor, func(t *testing.T) {
			sink := newSink(t)
			in := newInstallation(t, sink, append(append([]string(nil), v.env...), v.secrets...)...)
			for i, args := range commands {
				r := in.s.cli(args...)
				if r.code != 0 || len(r.stderr) != 0 {
					t.Fatalf("cli %q: %v", args, r)
				}
				added := in.ran(fmt.Sprintf("command %d (%s)", i, args[0]), 1)
				if n := len(eventsNamed(added, "Heartbeat")); n != 1 {
					t.Errorf("command %d (%s) sent %d Heartbeats, want its own", i, args[0], n)
				}
				if left := countsLeft(in.s); left != 0 {
					t.Errorf("command %d (%s) left %d counts", i, args[0], left)
				}
			}
			noRejects(t, sink)
			st := in.s.load()
			evs := byUUID(sink, st.UserID)
			if len(evs) != 1+len(commands) || len(eventsNamed(evs, "First run")) != 1 {
				t.Errorf("events %v, want a First run and %d Heartbeats", names(evs), len(commands))
			}
			for _, ev := range sink.Events() {
				if ev.Properties["ci"] != true || ev.Properties["ci.vendor"] != v.vendor {
					t.Errorf("%s: ci %v, ci.vendor %v; want true, %q", ev.Event, ev.Properties["ci"], ev.Properties["ci.vendor"], v.vendor)
				}
			}
			file, err := os.ReadFile(in.s.statePath())
			if err != nil {
				t.Fatal(err)
			}
			var secrets []string
			for _, kv := range v.secrets {
				_, val, _ := strings.Cut(kv, "=")
				secrets = append(secrets, val)
			}
			for i, body := range sink.Bodies() {
				if l := leaks(body, secrets); len(l) != 0 {
					t.Errorf("request %d carries %q:\n%s", i, l, body)
				}
			}
			if l := leaks(file, secrets); len(l) != 0 {
				t.Errorf("the state file carries %q:\n%s", l, file)
			}
			events += len(evs)
			beats += len(eventsNamed(evs, "Heartbeat"))
		})
	}
	figure(t, "%d CI jobs (%d vendors' variables), %d commands each: every command's count delivered at its end, 0 left; %d events (%d Heartbeats), all with ci=true and the vendor's name, none with a repository, branch, run id, pull request or URL", len(ciVendors), len(ciVendors), len(commands), events, beats)
}

// age moves the installation's clock back by d, through the file.
func age(t *testing.T, s *sandbox, d time.Duration) {
	t.Helper()
	err := state.New(s.statePath()).Update(context.Background(), func(st *state.State) error {
		st.CreatedAt = st.CreatedAt.Add(-d)
		if st.LastHeartbeatAt != nil {
			past := st.LastHeartbeatAt.Add(-d)
			st.LastHeartbeatAt = &past
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReliabilityLaptop: one persistent HOME over days of CLI and server
// runs. One First run; the first Heartbeat at the first run's end; then at
// most one a day, from the day's first run.
func TestReliabilityLaptop(t *testing.T) {
	sink := newSink(t)
	in := newInstallation(t, sink)
	cli := func(args ...string) []posthogtest.Event {
		t.Helper()
		if r := in.s.cli(args...); r.code != 0 || len(r.stderr) != 0 {
			t.Fatalf("cli %q: %v", args, r)
		}
		return in.ran("cli "+args[0], 1)
	}
	steps := []struct {
		name  string
		do    func() []posthogtest.Event
		sent  []string // events the step's process sent
		beats int      // Heartbeats of the installation so far
		left  int64
	}{
		{"first run", func() []posthogtest.Event { return cli("version") }, []string{"First run", "Heartbeat"}, 1, 0},
		{"same day", func() []posthogtest.Event { return cli("version") }, nil, 1, 1},
		{"same day, server", func() []posthogtest.Event { pod(t, in.s, 3); return in.ran("server", 4) }, nil, 1, 5},
		{"25 h later", func() []posthogtest.Event { age(t, in.s, 25*time.Hour); return cli("run") }, []string{"Heartbeat"}, 2, 1},
		{"same day again", func() []posthogtest.Event { return cli("help") }, nil, 2, 2},
		{"23 h later", func() []posthogtest.Event { age(t, in.s, 23*time.Hour); return cli("version") }, nil, 2, 3},
		{"25 h after the last", func() []posthogtest.Event { age(t, in.s, 2*time.Hour); return cli("version") }, []string{"Heartbeat"}, 3, 1},
	}
	for _, st := range steps {
		added := st.do()
		if got := names(added); strings.Join(got, ",") != strings.Join(st.sent, ",") {
			t.Errorf("%s: sent %v, want %v", st.name, got, st.sent)
		}
		if n := in.heartbeats(); n != st.beats {
			t.Errorf("%s: %d Heartbeats so far, want %d", st.name, n, st.beats)
		}
		if left := countsLeft(in.s); left != st.left {
			t.Errorf("%s: %d counts left, want %d", st.name, left, st.left)
		}
	}
	noRejects(t, sink)
	st := in.s.load()
	if n := len(eventsNamed(byUUID(sink, st.UserID), "First run")); n != 1 {
		t.Errorf("%d First run, want 1", n)
	}
	figure(t, "%d runs of one laptop installation over 2 days (clock moved through the file): 1 First run, %d Heartbeats (the first at the first run's end, then one a day); %d counts recorded = %d delivered + %d left", len(steps), in.heartbeats(), in.recorded, deliveredTo(sink, st.UserID), countsLeft(in.s))
}
