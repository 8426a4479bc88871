package exporter

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/exporter/posthogtest"
)

// A developer's mistake in the options is an error from New, and an
// exporter that does nothing; the key and host PostHog would refuse are
// pinned here as PostHog's capture service refuses them.
func TestNewRefusesMisconfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		want string // in the error
	}{
		{"host without scheme", WithHost("us.i.posthog.com"), "http:// or https://"},
		{"host with a trailing space", WithHost("https://us.i.posthog.com "), "not a URL"},
		{"host with a leading space", WithHost(" https://us.i.posthog.com"), "not a URL"},
		{"ftp host", WithHost("ftp://us.i.posthog.com"), "http:// or https://"},
		{"empty host part", WithHost("https://"), "names no host"},
		{"empty host part, a path", WithHost("https:///batch"), "names no host"},
		{"empty host", WithHost(""), "http:// or https://"},
		{"host with a path", WithHost("https://example.com/ingest"), "path, query or fragment"},
		{"host with a query", WithHost("https://us.i.posthog.com?x=1"), "path, query or fragment"},
		{"host with a fragment", WithHost("https://us.i.posthog.com#x"), "path, query or fragment"},
		{"host with credentials", WithHost("https://user:pw@us.i.posthog.com"), "credentials"},
		{"opaque host", WithHost("https:us.i.posthog.com"), "names no host"},
		{"empty key", WithAPIKey(""), "empty"},
		{"key with a space", WithAPIKey("phc_abc def"), "space"},
		{"key with a newline", WithAPIKey("phc_abcdef\n"), "space"},
		{"non-ASCII key", WithAPIKey("phc_abcdé"), "non-ASCII"},
		{"key of 65 bytes", WithAPIKey("phc_" + strings.Repeat("a", 61)), "65 bytes"},
		{"personal key", WithAPIKey("phx_abcdef"), "personal API key"},
		{"empty app", WithApp(""), "1 to 64"},
		{"app of 65 bytes", WithApp(strings.Repeat("a", 65)), "1 to 64"},
		{"upper-case app", WithApp("Acme"), "start with a lowercase letter"},
		{"app starting with a digit", WithApp("1acme"), "start with a lowercase letter"},
		{"app with a dot", WithApp("acme.cli"), "only lowercase letters"},
		{"app with a slash", WithApp("acme/cli"), "only lowercase letters"},
		{"app named gotest", WithApp("gotest"), "already another property"},
		{"app holding a risky word", WithApp("my-key"), "sanitizer drops the key libraries.my-key"},
		{"app holding text", WithApp("text-engine"), "sanitizer drops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgHome := isolate(t)
			srv := posthogtest.NewServer()
			defer srv.Close()
			t.Setenv(EnvHost, srv.URL) // where a send would go
			exp, err := New(tc.opt, WithGrace(5*time.Second))
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: error %v, want one wrapping ErrInvalidConfig that says %q", err, tc.want)
			}
			if exp == nil {
				t.Fatal("New returned a nil Exporter with its error")
			}
			if d := exp.Decision(); d.Enabled || d.Source != SourceInvalid || !strings.Contains(d.Reason, tc.want) {
				t.Errorf("decision %+v; want off, %q, saying %q", d, SourceInvalid, tc.want)
			}
			if d := Decide(tc.opt); d != exp.Decision() {
				t.Errorf("Decide %+v, New %+v", d, exp.Decision())
			}
			mp := NewReader(exp)
			_ = mp.Shutdown(t.Context())
			if exists(cfgHome) || srv.Requests() != 0 {
				t.Errorf("a misconfigured exporter created %s: %v, sent %d requests", cfgHome, exists(cfgHome), srv.Requests())
			}
		})
	}
}

// What PostHog accepts, and the forms of a host a developer writes, are
// not mistakes; the default placeholder key is valid.
func TestNewAcceptsValidConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"defaults", nil},
		{"default key", []Option{WithAPIKey("FAKE-POSTHOF-API-KEY")}},
		{"project key", []Option{WithAPIKey("phc_0123456789abcdefABCDEF")}},
		{"key of 64 bytes", []Option{WithAPIKey("phc_" + strings.Repeat("a", 60))}},
		{"EU host with a slash", []Option{WithHost("https://eu.i.posthog.com/")}},
		{"self-hosted on a port", []Option{WithHost("http://posthog.internal:8000")}},
		{"IPv6 loopback", []Option{WithHost("http://[::1]:8000")}},
		{"app", []Option{WithApp("acme")}},
		{"app with digits, - and _", []Option{WithApp("acme-cli_2")}},
		{"app of 64 bytes", []Option{WithApp(strings.Repeat("a", 64))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			t.Setenv(EnvDoNotTrack, "1") // nothing to create or send, whatever the app
			exp, err := New(tc.opts...)
			if err != nil || exp.Decision().Source == SourceInvalid {
				t.Errorf("New: %v, decision %+v", err, exp.Decision())
			}
		})
	}
}

// A developer's mistake shows even when the environment turns telemetry
// off: it is in the code, whoever runs it.
func TestMisconfigurationShowsUnderOptOut(t *testing.T) {
	isolate(t)
	t.Setenv(EnvDoNotTrack, "1")
	if _, err := New(WithAPIKey("")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New under DO_NOT_TRACK=1 with an empty key: %v, want the error", err)
	}
}

// IDUN_TELEMETRY_HOST is the operator's: a value that is not a URL turns
// telemetry off and says why, without an error that a host treating New's
// error as fatal would crash on.
func TestInvalidEnvHostTurnsTelemetryOff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		opts   []Option
		on     bool
		source Source
	}{
		{"no scheme", map[string]string{EnvHost: "us.i.posthog.com"}, nil, false, "IDUN_TELEMETRY_HOST"},
		{"a path", map[string]string{EnvHost: "https://example.com/ingest"}, nil, false, "IDUN_TELEMETRY_HOST"},
		{"over IDUN_TELEMETRY_ENABLED=true", map[string]string{EnvHost: "ftp://x", EnvEnabled: "true"}, nil, false, "IDUN_TELEMETRY_HOST"},
		{"DO_NOT_TRACK says it first", map[string]string{EnvHost: "ftp://x", EnvDoNotTrack: "1"}, nil, false, "DO_NOT_TRACK"},
		{"WithHost overrides it", map[string]string{EnvHost: "ftp://x"}, []Option{WithHost("http://127.0.0.1:1")}, true, "default"},
		{"another app's variable", map[string]string{"ACME_TELEMETRY_HOST": "ftp://x"}, []Option{WithApp("acme")}, false, "ACME_TELEMETRY_HOST"},
		{"not the default app's", map[string]string{EnvHost: "ftp://x"}, []Option{WithApp("acme"), WithHost("http://127.0.0.1:1")}, true, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgHome := isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var dbg syncBuffer
			exp, err := New(append(tc.opts, WithDebugWriter(&dbg), WithGrace(0))...)
			if err != nil {
				t.Fatalf("New: %v; an environment's mistake is no error", err)
			}
			defer exp.Shutdown(t.Context())
			d := exp.Decision()
			if d.Enabled != tc.on || d.Source != tc.source {
				t.Errorf("decision %+v, want enabled %v by %q", d, tc.on, tc.source)
			}
			if !tc.on && d.Source != "DO_NOT_TRACK" {
				if !strings.Contains(d.Reason, "is not usable") || !strings.Contains(dbg.String(), `"source":"`+string(tc.source)+`"`) {
					t.Errorf("reason %q, debug %q: want both to say the host is not usable", d.Reason, dbg.String())
				}
				if exists(cfgHome) {
					t.Error("the state file was created")
				}
			}
		})
	}
}

// WithApp names the state folder, the environment variables and the
// version key.
func TestWithAppNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		want App
	}{
		{"idun", App{"idun", "IDUN_TELEMETRY_ENABLED", "IDUN_TELEMETRY_DEBUG", "IDUN_TELEMETRY_HOST", "libraries.idun"}},
		{"acme", App{"acme", "ACME_TELEMETRY_ENABLED", "ACME_TELEMETRY_DEBUG", "ACME_TELEMETRY_HOST", "libraries.acme"}},
		{"my-app_2", App{"my-app_2", "MY_APP_2_TELEMETRY_ENABLED", "MY_APP_2_TELEMETRY_DEBUG", "MY_APP_2_TELEMETRY_HOST", "libraries.my-app_2"}},
	} {
		got, err := AppOf(WithApp(tc.name))
		if err != nil || got != tc.want {
			t.Errorf("AppOf(WithApp(%q)) = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if got, err := AppOf(); err != nil || got.Name != "idun" || got.EnvEnabled != "IDUN_TELEMETRY_ENABLED" {
		t.Errorf("AppOf() = %+v, %v; want idun's", got, err)
	}
	if _, err := AppOf(WithApp("Acme")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("AppOf(WithApp(Acme)): %v", err)
	}
}

// Another application is a separate installation with its own switches:
// its own folder and variables, DO_NOT_TRACK and OTEL_SDK_DISABLED still,
// idun's variables not, and its version under its own key.
func TestWithAppInstallation(t *testing.T) {
	cfgHome := isolate(t)
	srv := posthogtest.NewServer()
	defer srv.Close()
	t.Setenv("ACME_TELEMETRY_HOST", srv.URL)
	t.Setenv(EnvHost, "ftp://not.for.acme") // idun's, ignored by acme
	t.Setenv(EnvEnabled, "false")           // idun's, ignored by acme
	opts := []Option{WithApp("acme"), WithVersion("2.3.4"), WithGrace(5 * time.Second)}
	exp := runOnce(t, map[string]int64{"cli.deploy.count": 2}, opts...)
	if d := exp.Decision(); !d.Enabled || d.Source != SourceDefault {
		t.Fatalf("decision %+v", d)
	}
	path := filepath.Join(cfgHome, "acme", "config.yaml")
	if c := recorded(t, path, srv); exp.ConfigPath() != path || c["cli.deploy.count"] != 2 {
		t.Errorf("config path %q, counts recorded %v; want %s and cli.deploy.count 2", exp.ConfigPath(), c, path)
	}
	if exists(filepath.Join(cfgHome, "idun")) {
		t.Error("acme's run created idun's folder")
	}
	evs := srv.Named(EventFirstRun)
	if len(evs) != 1 || evs[0].Properties["libraries.acme"] != "2.3.4" || evs[0].Properties["libraries.idun"] != nil {
		t.Fatalf("First run events %+v; want one with libraries.acme = 2.3.4 and no libraries.idun", evs)
	}
	noRejects(t, srv)

	for _, tc := range []struct {
		env    string
		on     bool
		source Source
	}{
		{"ACME_TELEMETRY_ENABLED=false", false, "ACME_TELEMETRY_ENABLED"},
		{"ACME_TELEMETRY_ENABLED=1", true, "ACME_TELEMETRY_ENABLED"},
		{"DO_NOT_TRACK=1", false, SourceDoNotTrack},
		{"OTEL_SDK_DISABLED=true", false, SourceOTelDisabled},
	} {
		k, v, _ := strings.Cut(tc.env, "=")
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(k, v)
			if d := Decide(opts...); d.Enabled != tc.on || d.Source != tc.source {
				t.Errorf("Decide: %+v, want enabled %v by %q", d, tc.on, tc.source)
			}
		})
	}
	t.Run("ACME_TELEMETRY_DEBUG=1", func(t *testing.T) {
		t.Setenv("ACME_TELEMETRY_DEBUG", "1")
		if cfg := newConfig(opts); cfg.debug == nil {
			t.Error("ACME_TELEMETRY_DEBUG=1 did not turn debug mode on")
		}
		t.Setenv("ACME_TELEMETRY_DEBUG", "")
		t.Setenv(EnvDebug, "1")
		if cfg := newConfig(opts); cfg.debug != nil {
			t.Error("IDUN_TELEMETRY_DEBUG=1 turned acme's debug mode on")
		}
	})
}
