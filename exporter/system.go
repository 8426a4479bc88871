package exporter

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/gkampitakis/ciinfo"
)

// systemProbe computes the system keys once per process, lazily: a run with
// nothing to send never pays for reading /proc.
var systemProbe = sync.OnceValue(func() map[string]any {
	return map[string]any{
		"os.family":        osFamily(runtime.GOOS),
		"os.machine":       osMachine(runtime.GOARCH),
		"os.containerized": containerized(),
		"go.version":       runtime.Version(),
		"libraries.gotest": testing.Testing(),
	}
})

// systemProperties returns the keys every event carries, the application's
// version under its key (libraries.idun). The version is checked here, when
// an event is built: a run with nothing due never pays for the check, whose
// local words cost more than the rest of such a run's telemetry.
func (e *Exporter) systemProperties() map[string]any {
	return systemProperties(e.cfg.app.VersionKey, e.appVersion())
}

// appVersion is WithVersion's, else the main module's from the build
// information, made safe to send.
func (e *Exporter) appVersion() string {
	v := e.cfg.version
	if v == "" {
		v = buildVersion()
	}
	return cleanVersion(v)
}

func systemProperties(versionKey, version string) map[string]any {
	p := make(map[string]any, 12)
	for k, v := range systemProbe() {
		p[k] = v
	}
	isCI, vendor := ciProbe()
	p["ci"] = isCI
	// The vendor's name, from ciinfo's own table, never a value of the
	// environment: no repository, branch, run id or URL is ever sent.
	p["ci.vendor"] = nil
	if isCI && vendor != "" {
		p["ci.vendor"] = vendor
	}
	p[versionKey] = version
	p["$process_person_profile"] = false
	p["$geoip_disable"] = true
	return p
}

// ciProbe says whether this process runs in CI and, when known, the CI
// vendor's name ("GitHub Actions", "GitLab CI"). It is read once per
// process, lazily; this package's tests replace it to play a CI job.
var ciProbe = sync.OnceValues(detectCI)

// detectCI is the one place that asks github.com/gkampitakis/ciinfo (a Go
// port of watson/ci-info). ciinfo detects at its package initialisation,
// from environment variables only (it opens no file), and offers no way to
// detect again: its exported results are copied here once, so nothing that
// changes them later changes what this process reports.
func detectCI() (isCI bool, vendor string) {
	return ciinfo.IsCI, ciinfo.Name
}

func osFamily(goos string) string {
	switch goos {
	case "linux":
		return "Linux"
	case "darwin":
		return "Darwin"
	case "windows":
		return "Windows"
	}
	return goos
}

// osMachine names the CPU as uname -m does on the common platforms.
func osMachine(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "386":
		return "i386"
	case "arm64":
		return "arm64"
	}
	return goarch
}

// containerized returns true or false on Linux, where the usual markers can
// be read, and nil (unknown) elsewhere.
func containerized() any {
	if runtime.GOOS != "linux" {
		return nil
	}
	for _, marker := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(marker); err == nil {
			return true
		}
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return true
	}
	b, err := os.ReadFile("/proc/1/cgroup")
	if err != nil {
		return nil
	}
	for _, word := range []string{"docker", "kubepods", "containerd", "lxc", "podman"} {
		if bytes.Contains(b, []byte(word)) {
			return true
		}
	}
	return false
}

// buildVersion is the main module's version, for when the embedder gives
// none.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "unknown"
	}
	if bi.Main.Version == "(devel)" {
		return "devel"
	}
	return strings.TrimPrefix(bi.Main.Version, "v")
}
