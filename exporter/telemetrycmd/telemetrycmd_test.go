package telemetrycmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/exporter/telemetrycmd"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// sandbox clears the telemetry variables, turns telemetry on as a host
// program's default is (under go test it is off unless
// IDUN_TELEMETRY_ENABLED=true), points any send at a stand-in that must
// never be called, and returns options for a state file in a temporary
// folder.
func sandbox(t *testing.T) (path string, opts []exporter.Option) {
	t.Helper()
	for _, k := range []string{exporter.EnvDoNotTrack, exporter.EnvOTelDisabled, exporter.EnvDebug} {
		t.Setenv(k, "")
	}
	t.Setenv(exporter.EnvEnabled, "true")
	srv := posthogtest.NewServer()
	t.Cleanup(func() {
		srv.Close()
		if srv.Requests() != 0 {
			t.Errorf("the command sent %d requests", srv.Requests())
		}
	})
	t.Setenv(exporter.EnvHost, srv.URL)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	path = filepath.Join(t.TempDir(), "idun", "config.yaml")
	return path, []exporter.Option{exporter.WithConfigPath(path)}
}

func run(c telemetrycmd.Command, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = c.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // prefix
		stderr string // exact
	}{
		{args: []string{"status"}, stdout: "Telemetry:       on (IDUN_TELEMETRY_ENABLED enables telemetry)\nDecided by:      IDUN_TELEMETRY_ENABLED\nState file:      $PATH (does not exist yet)\n"},
		{args: []string{"disable"}, stdout: "Telemetry disabled: telemetry_enabled: false saved in $PATH\n"},
		{args: []string{"enable"}, stdout: "Telemetry enabled: telemetry_enabled: true saved in $PATH\n"},
		{args: []string{"reset"}, stdout: "Nothing to reset: $PATH does not exist\n"},
		{args: []string{"-h"}, stdout: "Usage: idun telemetry <command> [--json]\n"},
		{args: []string{"--help"}, stdout: "Usage: idun telemetry <command> [--json]\n"},
		{args: []string{"status", "-h"}, stdout: "Usage: idun telemetry status [--json]\n"},
		{args: []string{"reset", "--help"}, stdout: "Usage: idun telemetry reset [--json]\n"},

		{args: nil, code: 2, stderr: "idun: no telemetry command given\n\nUsage: idun telemetry <command> [--json]\n"},
		{args: []string{"bogus"}, code: 2, stderr: "idun: unknown telemetry command \"bogus\"\n\nUsage: idun telemetry <command> [--json]\n"},
		{args: []string{"--bogus"}, code: 2, stderr: "idun: flag provided but not defined: -bogus\n\nUsage: idun telemetry <command> [--json]\n"},
		{args: []string{"status", "--yaml"}, code: 2, stderr: "idun: flag provided but not defined: -yaml\n\nUsage: idun telemetry status [--json]\n"},
		{args: []string{"reset", "now"}, code: 2, stderr: "idun: unexpected argument \"now\"\n\nUsage: idun telemetry reset [--json]\n"},
		{args: []string{"status", "--json=maybe"}, code: 2, stderr: "idun: invalid boolean value \"maybe\" for -json: parse error\n\nUsage: idun telemetry status [--json]\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			path, opts := sandbox(t)
			code, stdout, stderr := run(telemetrycmd.Command{Options: opts}, tc.args...)
			want := strings.ReplaceAll(tc.stdout, "$PATH", path)
			if code != tc.code || !strings.HasPrefix(stdout, want) || (tc.code != 0) != (stdout == "") {
				t.Errorf("exit %d, stdout %q; want exit %d, stdout starting %q", code, stdout, tc.code, want)
			}
			if tc.code == 0 && stderr != "" || tc.code != 0 && !strings.HasPrefix(stderr, tc.stderr) {
				t.Errorf("stderr %q, want it to start with %q", stderr, tc.stderr)
			}
			if tc.code != 0 && exists(filepath.Dir(path)) {
				t.Error("a usage error created the state folder")
			}
		})
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// --json prints the state after each command: the keys of the status report.
func TestJSON(t *testing.T) {
	path, opts := sandbox(t)
	c := telemetrycmd.Command{Options: opts}
	for _, sub := range []string{"status", "disable", "reset", "enable"} {
		code, stdout, stderr := run(c, sub, "--json")
		var r map[string]any
		if code != 0 || stderr != "" || json.Unmarshal([]byte(stdout), &r) != nil {
			t.Fatalf("%s --json: exit %d, stdout %q, stderr %q", sub, code, stdout, stderr)
		}
		if len(r) != 13 || r["config_path"] != path {
			t.Errorf("%s --json: %v", sub, r)
		}
		// The file's switch, which IDUN_TELEMETRY_ENABLED=true outranks.
		want := map[string]any{"status": nil, "disable": false, "reset": false, "enable": true}[sub]
		if on := r["telemetry_enabled"]; on != want || r["enabled"] != true {
			t.Errorf("%s --json: telemetry_enabled %v, enabled %v; want %v, true", sub, on, r["enabled"], want)
		}
	}
}

// The name a CLI mounts the command under shows in its usage and messages,
// and the application's variables in its help.
func TestNames(t *testing.T) {
	_, opts := sandbox(t)
	for _, tc := range []struct {
		cmd    telemetrycmd.Command
		usage  string
		errPre string
	}{
		{telemetrycmd.Command{Options: opts}, "Usage: idun telemetry <command>", "idun: "},
		{telemetrycmd.Command{Name: " acme-cli   usage ", Options: opts}, "Usage: acme-cli usage <command>", "acme-cli: "},
		{telemetrycmd.Command{Name: "telemetry", Options: opts}, "Usage: telemetry <command>", "telemetry: "},
		{telemetrycmd.Command{Options: append(opts, exporter.WithApp("acme"))}, "Usage: acme telemetry <command>", "acme: "},
	} {
		_, stdout, _ := run(tc.cmd, "-h")
		_, _, stderr := run(tc.cmd)
		if !strings.HasPrefix(stdout, tc.usage) || !strings.HasPrefix(stderr, tc.errPre) {
			t.Errorf("%+v: help %q, error %q", tc.cmd, stdout, stderr)
		}
	}
	var help bytes.Buffer
	if err := (telemetrycmd.Command{Options: []exporter.Option{exporter.WithApp("acme")}}).Usage(&help, ""); err != nil || !strings.Contains(help.String(), "ACME_TELEMETRY_ENABLED=false") {
		t.Errorf("help of acme: %v\n%s", err, help.String())
	}
	if err := (telemetrycmd.Command{}).Usage(&help, "bogus"); err == nil {
		t.Error("Usage of an unknown subcommand succeeded")
	}
}

// A state file that cannot be used is left as it is, and the user is told.
func TestUnusableFile(t *testing.T) {
	path, opts := sandbox(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("telemetry_enabled: [oops\n")
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	c := telemetrycmd.Command{Options: opts}
	for _, sub := range []string{"enable", "disable", "reset"} {
		code, stdout, stderr := run(c, sub)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "idun: telemetry "+sub+": state file "+path+" unusable") ||
			!strings.Contains(stderr, path+" was left as it is") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", sub, code, stdout, stderr)
		}
	}
	if code, stdout, _ := run(c, "status"); code != 0 || !strings.Contains(stdout, "(unusable)") {
		t.Errorf("status: exit %d, %q", code, stdout)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
		t.Errorf("the file changed: %q", b)
	}
	st, err := state.New(path).Load()
	if err == nil {
		t.Errorf("the file became usable: %+v", st)
	}
}

// A mistake in the options that leaves the state file unknown fails every
// subcommand; one in the host or key does not keep a user from opting out.
func TestMisconfiguredOptions(t *testing.T) {
	path, opts := sandbox(t)
	// Without WithConfigPath, an invalid app name leaves no state file.
	bad := telemetrycmd.Command{Options: []exporter.Option{exporter.WithApp("Bad")}}
	for _, sub := range []string{"status", "enable", "disable", "reset"} {
		if code, _, stderr := run(bad, sub); code != 1 || !strings.Contains(stderr, `WithApp("Bad")`) {
			t.Errorf("%s with an invalid app: exit %d, %q", sub, code, stderr)
		}
	}
	if home := os.Getenv("HOME"); len(entries(t, home)) != 0 {
		t.Errorf("an invalid app wrote under HOME: %v", entries(t, home))
	}
	badKey := telemetrycmd.Command{Options: append(opts, exporter.WithAPIKey(""))}
	code, stdout, stderr := run(badKey, "disable")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "saved in "+path) {
		t.Errorf("disable with an empty key: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, _ := run(badKey, "status"); code != 0 || !strings.Contains(stdout, "Decided by:      invalid-configuration") {
		t.Errorf("status with an empty key: exit %d, %q", code, stdout)
	}
}

// status says when the next send may be made and why the last failed.
func TestStatusShowsTheSchedule(t *testing.T) {
	path, opts := sandbox(t)
	next := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	err := state.New(path).Update(context.Background(), func(st *state.State) error {
		st.EnsureUserID(next)
		st.Delivery = state.Delivery{NextAttemptAt: &next, Failures: 3, LastFailure: "http 500", Rejected: 1}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := run(telemetrycmd.Command{Options: opts}, "status")
	want := "Next send:       2026-12-01T10:00:00Z (3 failed attempt(s), last: http 500; 1 event(s) refused by PostHog)\n"
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, stdout %q; want it to hold %q", code, stdout, want)
	}
}
