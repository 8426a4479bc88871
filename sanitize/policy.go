package sanitize

// Policy says what may leave the machine.
//
// Limits that are zero or negative fall back to their defaults, so a Policy
// filled in only partly can never switch a cap off by accident. The three
// lists are used as given: an empty allowlist lets nothing through.
type Policy struct {
	// SystemKeys are exact top-level keys always allowed; their values
	// still go through the value rules and the risky-token check.
	SystemKeys []string
	// Namespaces are the allowed top-level key prefixes, e.g. "feature.".
	// An empty prefix is ignored: it would allow every key.
	Namespaces []string
	// RiskyTokens drop any key, at any depth, that contains one of them,
	// ignoring case. An empty token matches every key, which drops
	// everything: a broken list must not open the gate.
	RiskyTokens []string
	// MaxString caps strings and keys, in bytes (default 200).
	MaxString int
	// MaxList caps the items kept per list (default 50).
	MaxList int
	// MaxDepth caps nesting: the top-level map is depth 1, a map or list
	// held in it is depth 2, and containers deeper than MaxDepth are dropped
	// (default 2).
	MaxDepth int
	// MaxKeys caps the keys kept per map, top level and nested (default 200).
	MaxKeys int
	// MaxBytes caps len(json.Marshal(result)) (default 16384). Below 2
	// nothing fits but the empty object, which is still returned.
	MaxBytes int
}

const (
	defaultMaxString = 200
	defaultMaxList   = 50
	defaultMaxDepth  = 2
	defaultMaxKeys   = 200
	defaultMaxBytes  = 16384
)

// DefaultPolicy returns the policy of the design document. Each call builds
// fresh slices, so a caller that edits its copy cannot change anyone else's.
func DefaultPolicy() Policy {
	return Policy{
		SystemKeys: []string{
			"libraries.idun", "os.family", "os.machine", "os.containerized",
			"go.version", "libraries.gotest", "ci", "ci.vendor",
			"$process_person_profile", "$geoip_disable", "$lib", "$lib_version",
		},
		Namespaces: []string{"feature.", "cli.", "workflow."},
		RiskyTokens: []string{
			"path", "filepath", "filename", "prompt", "query", "text",
			"document", "content", "url", "email", "token", "secret", "key",
		},
		MaxString: defaultMaxString,
		MaxList:   defaultMaxList,
		MaxDepth:  defaultMaxDepth,
		MaxKeys:   defaultMaxKeys,
		MaxBytes:  defaultMaxBytes,
	}
}

// defaultPolicy serves the package-level functions without building the
// lists on every call; nothing in this package writes to a Policy's lists.
var defaultPolicy = DefaultPolicy()

// withDefaults resolves the limits once per call so the recursive walk can
// trust them.
func (p Policy) withDefaults() Policy {
	p.MaxString = orDefault(p.MaxString, defaultMaxString)
	p.MaxList = orDefault(p.MaxList, defaultMaxList)
	p.MaxDepth = orDefault(p.MaxDepth, defaultMaxDepth)
	p.MaxKeys = orDefault(p.MaxKeys, defaultMaxKeys)
	p.MaxBytes = orDefault(p.MaxBytes, defaultMaxBytes)
	return p
}

// gate is a Policy whose limits are resolved; the walk hangs off it so that
// Policy keeps value receivers only.
type gate Policy

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
