package exporter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Idun-Group/idun-telemetry-go/state"
)

// Source names what decided whether telemetry is on.
type Source string

// The sources, strongest first. The environment variables' sources are
// their names; those of IDUN_TELEMETRY_ENABLED and IDUN_TELEMETRY_HOST are
// the application's (ACME_TELEMETRY_ENABLED with WithApp("acme")).
const (
	SourceInvalid      Source = "invalid-configuration"
	SourceEnvEnabled   Source = EnvEnabled
	SourceDoNotTrack   Source = EnvDoNotTrack
	SourceOTelDisabled Source = EnvOTelDisabled
	SourceEnvHost      Source = EnvHost
	SourceOption       Source = "option"
	// SourceGoTest: the process is a go test binary, where telemetry is
	// off unless IDUN_TELEMETRY_ENABLED turns it on.
	SourceGoTest        Source = "go-test"
	SourceConfig        Source = "config"
	SourceConfigInvalid Source = "config-unusable"
	SourceDefault       Source = "default"
)

// Decision says whether telemetry is on for this process and why.
type Decision struct {
	Enabled bool   `json:"enabled"`
	Source  Source `json:"source"`
	// Reason is a sentence for people, e.g. for a CLI's status command.
	Reason string `json:"reason"`
}

// Decide resolves enablement as New does, without creating anything: the
// options' mistakes first (see New), then the environment (when it turns
// telemetry off, nothing is read), then the options, then go test (off in a
// test binary unless IDUN_TELEMETRY_ENABLED=true), all without reading
// anything, then the state file's telemetry_enabled.
func Decide(opts ...Option) Decision {
	cfg := newConfig(opts)
	if d, ok := early(cfg); ok && !d.Enabled {
		return d
	}
	if d, ok := badPath(cfg); ok {
		return d
	}
	st, err := state.New(cfg.path).Load()
	if err != nil {
		return decide(cfg, nil, err)
	}
	return decide(cfg, st.TelemetryEnabled, nil)
}

// badPath turns telemetry off when the state file has no absolute path (no
// HOME to build one from): a relative one would put the file wherever the
// host happens to run.
func badPath(cfg config) (Decision, bool) {
	if filepath.IsAbs(cfg.path) {
		return Decision{}, false
	}
	return Decision{false, SourceConfigInvalid, "no absolute path for the state file: " + cfg.path}, true
}

// early decides from what needs no disk: the options' mistakes, the
// environment, the options, then whether this is a go test binary. A host's
// own tests must neither write under $HOME, nor reach the network, nor
// count as adoption.
func early(cfg config) (Decision, bool) {
	if cfg.err != nil {
		return Decision{false, SourceInvalid, "telemetry is off: " + cfg.err.Error()}, true
	}
	if d, ok := envDecision(cfg); ok {
		return d, true
	}
	if cfg.disabled {
		return Decision{false, SourceOption, "the application turned telemetry off"}, true
	}
	if goTest() {
		return Decision{false, SourceGoTest, "off under go test unless " + cfg.app.EnvEnabled + "=true"}, true
	}
	return Decision{}, false
}

// goTest reports whether the process is a go test binary. This package's
// tests replace it to play a host program outside go test, which is what
// the file's opt-out and the default apply to.
var goTest = testing.Testing

// envDecision reads the environment variables, strongest first. ok is false
// when none of them decides.
func envDecision(cfg config) (d Decision, ok bool) {
	enabled := cfg.app.EnvEnabled
	if v := strings.TrimSpace(os.Getenv(enabled)); v != "" {
		if !truthy(v) {
			// Any other value, a typo of "false" included, must not send.
			return Decision{false, Source(enabled), enabled + " disables telemetry"}, true
		}
		// It outranks DO_NOT_TRACK and OTEL_SDK_DISABLED, not a broken host.
		d, ok = Decision{true, Source(enabled), enabled + " enables telemetry"}, true
	} else if !falsy(os.Getenv(EnvDoNotTrack)) {
		return Decision{false, SourceDoNotTrack, EnvDoNotTrack + " is set"}, true
	} else if strings.EqualFold(strings.TrimSpace(os.Getenv(EnvOTelDisabled)), "true") {
		return Decision{false, SourceOTelDisabled, EnvOTelDisabled + "=true"}, true
	}
	// A host that is not a URL is the operator's mistake, not the
	// developer's: telemetry is off, and New returns no error.
	if cfg.envHostErr != nil {
		why := strings.TrimPrefix(cfg.envHostErr.Error(), ErrInvalidConfig.Error()+": ")
		return Decision{false, Source(cfg.app.EnvHost), "telemetry is off: " + cfg.app.EnvHost + " is not usable: " + why}, true
	}
	return d, ok
}

// falsy is DO_NOT_TRACK's "not set": empty, 0 or false.
func falsy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false":
		return true
	}
	return false
}

// byEnvironment reports whether d is an environment variable's opt-out,
// under which nothing reads the disk.
func byEnvironment(cfg config, d Decision) bool {
	if d.Enabled {
		return false
	}
	switch d.Source {
	case Source(cfg.app.EnvEnabled), SourceDoNotTrack, SourceOTelDisabled, Source(cfg.app.EnvHost):
		return true
	}
	return false
}

// decide finishes the decision with the loaded state file. A file that
// exists but cannot be used turns telemetry off whatever else says: it may
// hold the user's opt-out.
func decide(cfg config, setting *bool, loadErr error) Decision {
	d, decided := early(cfg)
	if decided && !d.Enabled {
		return d
	}
	if loadErr != nil && !errors.Is(loadErr, fs.ErrNotExist) {
		return unusableDecision(loadErr)
	}
	if decided {
		return d
	}
	if setting != nil {
		if *setting {
			return Decision{true, SourceConfig, "telemetry_enabled: true in the state file"}
		}
		return optedOutDecision
	}
	return Decision{true, SourceDefault, "on by default"}
}

// optedOut reports whether the file's setting says off.
func optedOut(setting *bool) bool { return setting != nil && !*setting }

// optedOutDecision is the user's own opt-out, read from the state file.
var optedOutDecision = Decision{false, SourceConfig, "telemetry_enabled: false in the state file"}

// unusableDecision is a state file that exists but cannot be used.
func unusableDecision(err error) Decision {
	return Decision{false, SourceConfigInvalid, "the state file cannot be used, so telemetry is off for this run: " + err.Error()}
}
