package exporter

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
)

// App is the application whose usage the options count, with the names
// derived from its name (see WithApp).
type App struct {
	// Name is the application's name: "idun" unless WithApp says otherwise.
	// It is also the state file's folder.
	Name string
	// EnvEnabled, EnvDebug and EnvHost are its environment variables, e.g.
	// IDUN_TELEMETRY_ENABLED, IDUN_TELEMETRY_DEBUG and IDUN_TELEMETRY_HOST.
	EnvEnabled, EnvDebug, EnvHost string
	// VersionKey is the property that carries its version, e.g.
	// libraries.idun.
	VersionKey string
}

// AppOf returns the application the options name, as New would use it. The
// error is WithApp's, for a name New refuses.
func AppOf(opts ...Option) (App, error) {
	cfg := newConfig(opts)
	if err := checkApp(cfg.app.Name); err != nil {
		return App{}, err
	}
	return cfg.app, nil
}

// newApp derives the names of a valid application name.
func newApp(name string) App {
	prefix := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return r
		}
		return '_'
	}, name) + "_TELEMETRY_"
	return App{
		Name:       name,
		EnvEnabled: prefix + "ENABLED",
		EnvDebug:   prefix + "DEBUG",
		EnvHost:    prefix + "HOST",
		VersionKey: "libraries." + name,
	}
}

// ErrInvalidConfig is wrapped by every error New returns: a mistake in the
// options, which telemetry turns off for rather than send nothing useful.
var ErrInvalidConfig = errors.New("exporter: invalid configuration")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// checkApp checks an application name (see WithApp).
func checkApp(name string) error {
	if name == "" || len(name) > 64 {
		return invalid("WithApp(%q): the name must be 1 to 64 characters long", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z'
		if i == 0 && !letter {
			return invalid("WithApp(%q): the name must start with a lowercase letter", name)
		}
		if !letter && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return invalid("WithApp(%q): the name may hold only lowercase letters, digits, '-' and '_'", name)
		}
	}
	key := "libraries." + name
	if name != DefaultApp && slices.Contains(sanitize.DefaultPolicy().SystemKeys, key) {
		return invalid("WithApp(%q): %s is already another property", name, key)
	}
	// The sanitizer drops a key holding a risky word ("key", "text",
	// "path"...): ask it rather than keep a copy of its list. DefaultApp's
	// key is sent (TestFirstRunOnceAcrossRestarts sees it); asking cost
	// 0.04 ms of every New in a cold process, telemetry off too.
	if name == DefaultApp {
		return nil
	}
	if _, ok := policyFor(key).Properties(map[string]any{key: "1.0.0"})[key]; !ok {
		return invalid("WithApp(%q): the sanitizer drops the key %s (it holds a word such as key, text or path), so the version could not be sent", name, key)
	}
	return nil
}

// checkHost checks an ingestion host: an absolute http or https URL naming
// a host, and nothing else, since posthog-go appends /batch/ to it.
func checkHost(host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return invalid("host %q is not a URL: %v", host, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("host %q: want an absolute http:// or https:// URL, such as %s", host, DefaultHost)
	case u.Opaque != "" || u.Hostname() == "":
		return invalid("host %q names no host", host)
	case u.User != nil:
		return invalid("host %q carries credentials", host)
	case strings.TrimRight(u.Path, "/") != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return invalid("host %q has a path, query or fragment: give the scheme and host only, such as %s", host, DefaultHost)
	}
	return nil
}

// checkAPIKey refuses what PostHog's capture service refuses (401): an
// empty key, one over 64 bytes, non-ASCII or a personal API key; and a key
// with spaces or control characters, a copy-and-paste slip.
func checkAPIKey(key string) error {
	switch {
	case key == "":
		return invalid("WithAPIKey: the key is empty")
	case len(key) > 64:
		return invalid("WithAPIKey: the key is %d bytes long, PostHog accepts at most 64", len(key))
	case strings.HasPrefix(key, "phx_"):
		return invalid("WithAPIKey: phx_... is a personal API key, which PostHog's capture service refuses; use the project key (phc_...)")
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c > '~' {
			return invalid("WithAPIKey: the key holds a space, a control or a non-ASCII character at byte %d", i)
		}
	}
	return nil
}
