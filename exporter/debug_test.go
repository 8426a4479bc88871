package exporter

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
	"github.com/Idun-Group/idun-telemetry-go/sanitize"
)

func TestDropRule(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name    string
		rule    string
		dropped bool
	}{
		{"feature.invoke.count", "", false},
		{"CLI.Version.Count", "", false},
		{"http.server.request.count", "not-a-namespace", true},
		{"features.invoke.count", "not-a-namespace", true},
		{"feature.10.0.0.1.count", "ipv4", true},
		{"feature.user_email.count", "risky-word:email", true},
		{"feature", "not-a-name", true},
		{"feature.", "not-a-name", true},
		{"feature." + strings.ToLower(host) + ".count", "local-word:host", true},
	} {
		// The rule debug mode prints for a dropped counter.
		v := sanitize.Explain(tc.name)
		if !v.OK != tc.dropped || v.Rule != tc.rule {
			t.Errorf("Explain(%q) = %+v; want rule %q, dropped %v", tc.name, v, tc.rule, tc.dropped)
		}
	}
}

func TestRedact(t *testing.T) {
	host, _ := os.Hostname()
	for in, want := range map[string]string{
		"feature.invoke.count":               "feature.invoke.count",
		"Feature.Big_Thing.count":            "feature.big_thing.count",
		"feature.10.0.0.1.count":             "feature.*.*.*.*.count",
		"feature.a@example.com.count":        "feature.*.com.count",
		"cli./home/someone/secret.txt":       "cli.*.txt",
		"feature.sk_live_abcdef123456.count": "feature.*.count",
		"feature." + host + ".count":         "feature.*.count",
		"workflow.https://x.org/p?q=1.count": "workflow.*.*.count",
		"feature." + strings.Repeat("a", 41): "feature.*",
		"cli._home_canary-user_secret-txt":   "cli.*",
		"feature.a_b-c_d.count":              "feature.*.count",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// Debug mode prints the decision once, from New, and each dropped counter
// once, with its rule and without the data it was dropped for.
func TestDebugPrintsDecisionAndDrops(t *testing.T) {
	isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	var buf syncBuffer
	p := start(t, WithHost(srv.URL), WithDebugWriter(&buf), WithGrace(5*time.Second))
	ctx := context.Background()
	p.add(t, "feature.kept.count", 1)
	p.add(t, "http.server.request.count", 1)
	p.add(t, "feature.10.0.0.1.count", 1)
	f, _ := p.m.Float64Counter("feature.ratio.count")
	f.Add(ctx, 0.5)
	for range 2 {
		if err := p.mp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p.stop(t)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.HasPrefix(l, `{"telemetry":`) {
			lines = append(lines, l)
		}
	}
	// Drops come in the SDK's order of instruments, which is creation order.
	want := []string{
		`{"telemetry":"decision","enabled":true,"source":"default","reason":"on by default"}`,
		`{"telemetry":"dropped","counter":"http.server.request.count","rule":"not-a-namespace"}`,
		`{"telemetry":"dropped","counter":"feature.*.*.*.*.count","rule":"ipv4"}`,
		`{"telemetry":"dropped","counter":"feature.ratio.count","rule":"not-an-int64-counter"}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("debug lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if srv.Requests() != 0 {
		t.Errorf("debug mode sent %d requests", srv.Requests())
	}
}

// The decision is printed when telemetry is off too: that is when one
// asks why.
func TestDebugPrintsDecisionWhenOff(t *testing.T) {
	isolate(t)
	t.Setenv(EnvEnabled, "nope")
	var buf syncBuffer
	if _, err := New(WithDebugWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `{"telemetry":"decision","enabled":false,"source":"IDUN_TELEMETRY_ENABLED","reason":"IDUN_TELEMETRY_ENABLED disables telemetry"}`+"\n"; got != want {
		t.Errorf("debug output %q, want %q", got, want)
	}
	buf = syncBuffer{}
	t.Setenv(EnvEnabled, "")
	if _, err := New(WithDebugWriter(&buf), WithAPIKey("")); err == nil || !strings.Contains(buf.String(), `"source":"invalid-configuration"`) {
		t.Errorf("misconfigured: %v, debug %q", err, buf.String())
	}
}
