package exporter

import (
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
	"github.com/Idun-Group/idun-telemetry-go/state"
)

// Environment variables read by New, for the default application, idun.
// With WithApp("acme") the first three become ACME_TELEMETRY_ENABLED,
// ACME_TELEMETRY_DEBUG and ACME_TELEMETRY_HOST (see AppOf); DO_NOT_TRACK and
// OTEL_SDK_DISABLED apply to every application.
const (
	EnvEnabled      = "IDUN_TELEMETRY_ENABLED"
	EnvDoNotTrack   = "DO_NOT_TRACK"
	EnvOTelDisabled = "OTEL_SDK_DISABLED"
	EnvDebug        = "IDUN_TELEMETRY_DEBUG"
	EnvHost         = "IDUN_TELEMETRY_HOST"
)

// Defaults.
const (
	// DefaultApp is the application's name when WithApp is not given.
	DefaultApp    = state.DefaultApp
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
	app        App
	disabled   bool
	host       string
	hostSet    bool
	apiKey     string
	version    string
	path       string
	now        func() time.Time
	grace      time.Duration
	debug      io.Writer
	notice     io.Writer
	sendTimout time.Duration
	// policy is sanitize's default policy, with the application's version
	// key among the system keys.
	policy sanitize.Policy

	// err is the developer's mistake in the options (see New); envHostErr
	// is the operator's, a host from the environment that is not a URL.
	err        error
	envHostErr error
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

// WithApp names the application whose usage is counted, "idun" by default.
// The name sets the state file's folder (<config home>/<name>/config.yaml),
// the environment variables (<NAME>_TELEMETRY_ENABLED, <NAME>_TELEMETRY_DEBUG
// and <NAME>_TELEMETRY_HOST, the name upper-cased with every character that
// is not a letter or a digit written as '_'; DO_NOT_TRACK and
// OTEL_SDK_DISABLED always apply), the property that carries the version
// (libraries.<name>) and the names the notice and package telemetrycmd
// print. A name is 1 to 64 lowercase ASCII letters, digits, '-' and '_',
// starting with a letter; it may not be "gotest" (libraries.gotest is taken)
// nor hold a word the sanitizer drops from every key, such as "key", "text"
// or "path" (libraries.<name> could not be sent). Any other name makes New
// return an error.
func WithApp(name string) Option {
	return optionFunc(func(c *config) { c.app.Name = name })
}

// WithHost sets the PostHog ingestion host, an absolute http or https URL
// with no path, query or credentials, such as https://eu.i.posthog.com. It
// overrides the IDUN_TELEMETRY_HOST environment variable; the default is
// DefaultHost. Any other value makes New return an error.
func WithHost(host string) Option {
	return optionFunc(func(c *config) { c.host, c.hostSet = host, true })
}

// WithAPIKey sets the PostHog project key; the default is DefaultAPIKey. A
// key is 1 to 64 bytes of printable ASCII without spaces and not a personal
// API key (phx_...), which PostHog's capture service refuses; any other key
// makes New return an error.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = key })
}

// WithVersion sets the libraries.idun property (libraries.<name> with
// WithApp). Without it the main module's version from the build information
// is used. A value that does not look like a version
// (v?MAJOR[.MINOR[.PATCH]][-pre][+build], at most 64 bytes) or that holds the
// host or user name is sent as "unknown": it is sent as given, so it must not
// be able to carry a path, an address or a name.
func WithVersion(version string) Option {
	return optionFunc(func(c *config) { c.version = version })
}

// WithConfigPath sets the state file's path. The default is
// state.DefaultPath(name), <XDG config home>/<name>/config.yaml, with name
// from WithApp ("idun"), which follows XDG_CONFIG_HOME.
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

// WithDebugWriter turns debug mode on: New writes its decision to w, Export
// each counter it drops, and each event is written to w as one JSON line
// instead of being sent. IDUN_TELEMETRY_DEBUG=1 does the same with
// os.Stderr. See the package documentation for the lines' form.
func WithDebugWriter(w io.Writer) Option {
	return optionFunc(func(c *config) { c.debug = w })
}

func newConfig(opts []Option) config {
	c := config{
		app:        App{Name: DefaultApp},
		apiKey:     DefaultAPIKey,
		now:        time.Now,
		grace:      DefaultGrace,
		sendTimout: 10 * time.Second,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	// The environment is read once the options named the application, and
	// only where they set nothing.
	appErr := checkApp(c.app.Name)
	if appErr == nil {
		c.app = newApp(c.app.Name)
	}
	if !c.hostSet {
		if h := strings.TrimSpace(os.Getenv(c.app.EnvHost)); h != "" && appErr == nil {
			c.host = h
			c.envHostErr = checkHost(h)
		}
	}
	if c.debug == nil && appErr == nil && truthy(os.Getenv(c.app.EnvDebug)) {
		c.debug = os.Stderr
	}
	c.err = firstError(appErr, hostOptionError(c), checkAPIKey(c.apiKey))
	if c.host == "" || c.envHostErr != nil {
		c.host = DefaultHost
	}
	c.host = strings.TrimRight(c.host, "/")
	if c.path == "" && appErr == nil {
		c.path = state.DefaultPath(c.app.Name)
	}
	if c.grace < 0 {
		c.grace = 0
	}
	c.policy = policyFor(c.app.VersionKey)
	return c
}

// hostOptionError checks the host WithHost gave, if any.
func hostOptionError(c config) error {
	if !c.hostSet {
		return nil
	}
	return checkHost(c.host)
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// policyFor is sanitize's default policy with versionKey allowed, so that
// another application's libraries.<name> is sent like libraries.idun.
func policyFor(versionKey string) sanitize.Policy {
	p := sanitize.DefaultPolicy()
	if versionKey != "" && !slices.Contains(p.SystemKeys, versionKey) {
		p.SystemKeys = append(p.SystemKeys, versionKey)
	}
	return p
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
