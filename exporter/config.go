package exporter

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// Environment variables read by New.
const (
	EnvEnabled      = "IDUN_TELEMETRY_ENABLED"
	EnvDoNotTrack   = "DO_NOT_TRACK"
	EnvOTelDisabled = "OTEL_SDK_DISABLED"
	EnvDebug        = "IDUN_TELEMETRY_DEBUG"
	EnvHost         = "IDUN_TELEMETRY_HOST"
)

// Defaults.
const (
	DefaultHost   = "https://us.i.posthog.com"
	DefaultAPIKey = "FAKE-POSTHOF-API-KEY"
	// DefaultGrace bounds how long Shutdown and ForceFlush wait for a send.
	DefaultGrace = 250 * time.Millisecond
	// HeartbeatInterval is the least time between two Heartbeats of a user.
	HeartbeatInterval = 24 * time.Hour
	// MaxPending bounds the outbox; the oldest events are dropped first.
	MaxPending = 20
)

type config struct {
	disabled   bool
	host       string
	apiKey     string
	version    string
	path       string
	now        func() time.Time
	grace      time.Duration
	debug      io.Writer
	sendTimout time.Duration
}

// Option configures an Exporter.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithEnabled(false) turns telemetry off, as omitting the exporter would.
// WithEnabled(true) changes nothing: it cannot override the user's own
// opt-out (IDUN_TELEMETRY_ENABLED, DO_NOT_TRACK, OTEL_SDK_DISABLED or
// telemetry_enabled: false in the state file).
func WithEnabled(enabled bool) Option {
	return optionFunc(func(c *config) { c.disabled = !enabled })
}

// WithHost sets the PostHog ingestion host. It overrides the
// IDUN_TELEMETRY_HOST environment variable; the default is DefaultHost.
func WithHost(host string) Option {
	return optionFunc(func(c *config) { c.host = host })
}

// WithAPIKey sets the PostHog project key; the default is DefaultAPIKey.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = key })
}

// WithVersion sets the libraries.idun property. Without it the main module's
// version from the build information is used. A value that does not look like
// a version (v?MAJOR[.MINOR[.PATCH]][-pre][+build], at most 64 bytes) or that
// holds the host or user name is sent as "unknown": it is sent as given, so
// it must not be able to carry a path, an address or a name.
func WithVersion(version string) Option {
	return optionFunc(func(c *config) { c.version = version })
}

// WithConfigPath sets the state file's path. The default is
// state.DefaultPath(""), <XDG config home>/idun/config.yaml, which follows
// XDG_CONFIG_HOME.
func WithConfigPath(path string) Option {
	return optionFunc(func(c *config) { c.path = path })
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// WithGrace sets how long Shutdown and ForceFlush wait for a send in flight
// beyond which they give up, leaving the event queued for the next run. The
// default is DefaultGrace; the caller's context can only shorten it.
func WithGrace(d time.Duration) Option {
	return optionFunc(func(c *config) { c.grace = d })
}

// WithDebugWriter turns debug mode on: each event is written to w as one JSON
// line and nothing is sent. IDUN_TELEMETRY_DEBUG=1 does the same with
// os.Stderr.
func WithDebugWriter(w io.Writer) Option {
	return optionFunc(func(c *config) { c.debug = w })
}

func newConfig(opts []Option) config {
	c := config{
		apiKey:     DefaultAPIKey,
		now:        time.Now,
		grace:      DefaultGrace,
		sendTimout: 10 * time.Second,
	}
	if h := strings.TrimSpace(os.Getenv(EnvHost)); h != "" {
		c.host = h
	}
	if truthy(os.Getenv(EnvDebug)) {
		c.debug = os.Stderr
	}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.host == "" {
		c.host = DefaultHost
	}
	c.host = strings.TrimRight(c.host, "/")
	if c.path == "" {
		c.path = state.DefaultPath("")
	}
	if c.grace < 0 {
		c.grace = 0
	}
	return c
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
