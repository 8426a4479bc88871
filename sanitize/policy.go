package sanitize

// Policy says what may leave the machine.
//
// Limits that are zero or negative fall back to their defaults, so a Policy
// filled in only partly can never switch a cap off by accident. The three
// lists are used as given: an empty allowlist lets nothing through.
type Policy struct {
	// SystemKeys are exact top-level keys always allowed; their values
	// still go through the value rules and the risky-word check.
	SystemKeys []string
	// Namespaces are the allowed top-level key prefixes, e.g. "feature.".
	// An empty prefix is ignored: it would allow every key.
	Namespaces []string
	// RiskyTokens drop any key, at any depth, that holds one of them as a
	// word, ignoring case: "api_key", "apiKey" and "KEY" hold "key";
	// "keyboard" and "monkey" do not (the package documentation says how
	// keys are cut into words). Words written together count as one:
	// "file_name" holds "filename". A token that is not one word, such as
	// "api_key", is matched as a substring instead, and an empty token
	// matches every key, which drops everything: a broken list must not
	// open the gate.
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
		// The design's list, each word with its plural (so that "paths"
		// or "api_keys" hold data as "path" does), and the spellings
		// written without a separator that code uses for the same things.
		// "contents" is left out on purpose: "content" in the sense of
		// what a user wrote has no plural, and "contents" names a feature
		// (a table of contents, GitHub's contents API).
		RiskyTokens: []string{
			"path", "paths", "filepath", "filepaths", "filename", "filenames",
			"prompt", "prompts", "query", "queries", "text", "texts",
			"document", "documents", "content", "url", "urls", "uri", "uris",
			"email", "emails", "token", "tokens", "secret", "secrets",
			"key", "keys", "apikey", "apikeys", "password", "passwords", "passwd",
			"hostname", "hostnames", "username", "usernames", "ip", "ips",
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

// defaultAllWords is allOneWord(defaultPolicy.RiskyTokens), worked out
// once rather than on every call.
var defaultAllWords = allOneWord(defaultPolicy.RiskyTokens)

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
type gate struct {
	Policy
	// allWords is allOneWord(RiskyTokens).
	allWords bool
}

// newGate resolves p once per call to Properties.
func newGate(p Policy) gate {
	return gate{Policy: p.withDefaults(), allWords: allOneWord(p.RiskyTokens)}
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
