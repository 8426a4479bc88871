package exporter

import (
	"regexp"
	"sync"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
)

// versionShape is what libraries.idun may look like: a semantic or Go module
// version, optionally with a v, a pre-release and build metadata. It is
// compiled when first used, by a run that builds an event: at package init,
// every program that links the package paid for it, telemetry off too.
var versionShape = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z][0-9A-Za-z.+-]*)?$`)
})

// cleanVersion returns v when it looks like a version and carries no local
// word, and "unknown" otherwise: the embedder's version is sent as is, so
// it must not be able to carry a path, an address or a name.
func cleanVersion(v string) string {
	if v == "devel" || v == "unknown" {
		return v
	}
	if len(v) > 64 || !versionShape().MatchString(v) || sanitize.HoldsLocalWord(v) {
		return "unknown"
	}
	return v
}
