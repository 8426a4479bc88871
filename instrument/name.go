package instrument

import "strings"

// kind is the counter family a helper records into. It is part of the cache
// key so that the hot path never has to build the full counter name.
type kind uint8

const (
	kindFeature kind = iota
	kindCLI
	kindWorkflow
	kindTutorial
)

// maxNameLen bounds a name segment. Real feature, command and framework
// names are short; a long one is more likely to be data than a name.
const maxNameLen = 64

// counterSuffix ends every counter name; the exporter reads counters by it.
const counterSuffix = ".count"

// prefixes holds the namespace of each kind. The exporter and sanitizer only
// let the feature., cli. and workflow. namespaces through.
var prefixes = [...]string{
	kindFeature:  "feature.",
	kindCLI:      "cli.",
	kindWorkflow: "workflow.",
	kindTutorial: "feature.tutorial.",
}

// counterName returns the full counter name for a valid, lowered segment.
func counterName(k kind, segment string) string {
	return prefixes[k] + segment + counterSuffix
}

// segment returns name lowered if it is one valid key segment. It reports
// false for anything else, which callers drop instead of rewriting: a
// rewritten path or address would still carry the data.
func segment(name string) (string, bool) {
	if len(name) == 0 || len(name) > maxNameLen {
		return "", false
	}
	upper := false
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			// Bytes >= 0x80 land here, so non-ASCII letters and invalid
			// UTF-8 are rejected without decoding.
			return "", false
		}
	}
	if !upper {
		return name, true
	}
	return strings.ToLower(name), true
}
