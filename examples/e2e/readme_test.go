package e2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// inlineRun finds the commands the README's prose tells a reader to run.
var inlineRun = regexp.MustCompile("`(go run ./examples/[^`]+)`")

// readmeCommands returns the lines of the README's sh blocks and its inline
// go run commands, in order.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	inSh := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			cmds = append(cmds, strings.TrimSpace(line))
		default:
			for _, m := range inlineRun.FindAllStringSubmatch(line, -1) {
				cmds = append(cmds, m[1])
			}
		}
	}
	return cmds
}

// TestReadmeCommands runs every command of the README as written, from the
// repository root, in a fresh home pointed at the loopback stand-in. Test
// and benchmark commands are only checked to be go commands: running the
// suite from inside itself would recurse. A package install is not run.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run for each README command")
	}
	cmds := readmeCommands(t)
	if len(cmds) < 3 {
		t.Fatalf("found only %d commands in README.md: %q", len(cmds), cmds)
	}
	s := newSandbox(t)
	env := append(s.environ(), goEnv(t)...)
	ran := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, "go test") || strings.Contains(c, " go test") {
			continue
		}
		if strings.HasPrefix(c, "apt-get ") {
			// It sets up the machine (root only, and the network); .ci/run
			// runs it.
			continue
		}
		sh := exec.Command("sh", "-c", c)
		sh.Dir = filepath.Join("..", "..")
		sh.Env = env
		var stdout, stderr bytes.Buffer
		sh.Stdout, sh.Stderr = &stdout, &stderr
		if err := sh.Run(); err != nil {
			t.Errorf("%s: %v\nstdout: %s\nstderr: %s", c, err, stdout.String(), stderr.String())
			continue
		}
		ran++
		debug := strings.Contains(c, "IDUN_TELEMETRY_DEBUG=1")
		switch {
		case debug && !strings.Contains(stderr.String(), `"event":"First run"`):
			t.Errorf("%s: stderr does not show the First run event: %q", c, stderr.String())
		case !debug && stderr.Len() != 0:
			t.Errorf("%s: printed on stderr: %q", c, stderr.String())
		}
	}
	if ran == 0 {
		t.Fatal("no README command ran")
	}
	if n := s.sink.Requests(); n != 0 {
		// Debug mode first, then telemetry commands that send nothing.
		t.Logf("the stand-in received %d requests", n)
	}
}

// goEnv passes the go command's caches through, so go run in a fresh HOME
// neither downloads modules nor rebuilds from scratch.
func goEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN"} {
		out, err := exec.Command(goTool(), "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		if v := strings.TrimSpace(string(out)); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}
