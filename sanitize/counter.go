package sanitize

import (
	"slices"
	"strings"
)

// Verdict is what the sanitizer decides about one counter name, and why.
type Verdict struct {
	// Key is the heartbeat key the name is sent as (the name in lower
	// case); empty when the name is dropped.
	Key string
	// OK reports whether the name may be sent.
	OK bool
	// Rule names the rule that dropped the name, a short identifier that
	// stays the same across releases: "too-long", "not-a-name", "path",
	// "email", "url", "not-a-namespace", "risky-word:<word>",
	// "credential:<issuer>", "uuid", "ipv4", "ipv6", "mac", "hex",
	// "long-number", "random", "local-word:host", "local-word:user",
	// "local-word:home" or "local-word:env". Empty when OK.
	Rule string
}

// CounterName is DefaultPolicy().CounterName(name).
func CounterName(name string) (string, bool) {
	key, rule, _ := defaultPolicy.check(name, defaultAllWords)
	return key, rule == ""
}

// Explain is DefaultPolicy().Explain(name).
func Explain(name string) Verdict {
	return verdict(defaultPolicy.check(name, defaultAllWords))
}

// CounterName turns an OpenTelemetry instrument name into a heartbeat key,
// or reports false when the name must not be sent; Explain says why. An
// already normal name is returned as is, without allocating.
func (p Policy) CounterName(name string) (string, bool) {
	key, rule, _ := p.check(name, allOneWord(p.RiskyTokens))
	return key, rule == ""
}

// Explain gives the verdict of CounterName on name and the rule behind a
// drop. A name is accepted when, after lowering ASCII letters:
//   - it is at most p.MaxString bytes ("too-long");
//   - it is dot-separated segments, at least two, each non-empty and made
//     only of a-z, 0-9, '_' and '-' ("not-a-name"; "path", "email" or "url"
//     when the odd characters say which);
//   - its first segment plus "." is one of p.Namespaces ("not-a-namespace");
//   - none of its words is one of p.RiskyTokens ("risky-word:key"), words
//     as Policy.RiskyTokens describes them;
//   - it does not look like data, its parts being cut at '.', '_' and '-':
//     a part that starts like a credential and is followed by a secret's
//     length of letters and digits ("credential:github"), a UUID ("uuid"),
//     four numbers from 0 to 255 in a row ("ipv4"), groups of hex digits
//     shaped as an IPv6 address ("ipv6") or a MAC address ("mac"), 12 hex
//     digits or more ("hex"), 9 digits or more ("long-number"), a part of
//     16 letters and digits or more with 3 digits, or of hex digits that
//     goes between letters and digits twice, as the tag of a generated
//     name does ("random"), a "www" part or a "com" part after a name
//     ("url");
//   - it holds none of the machine's local words, the host name, the user
//     name, the home folder's name or a token-like environment value
//     ("local-word:user"), except the common words that name a role
//     rather than a person or a machine (root, runner, app...).
//
// Version and model names pass: claude-3-5-sonnet-20241022, gpt-4-1,
// llama-3-1-8b, v1-2-3. The exporter sends a counter exactly when this
// says OK.
func (p Policy) Explain(name string) Verdict {
	return verdict(p.check(name, allOneWord(p.RiskyTokens)))
}

func verdict(key, rule, detail string) Verdict {
	if rule == "" {
		return Verdict{Key: key, OK: true}
	}
	if detail != "" {
		rule += ":" + detail
	}
	return Verdict{Rule: rule}
}

// check is the one implementation of the rules. It returns the key, or
// the rule and its detail; building the rule's text is left to Explain so
// that CounterName never allocates, even for a name it drops.
func (p Policy) check(name string, allWords bool) (key, rule, detail string) {
	if len(name) > orDefault(p.MaxString, defaultMaxString) {
		return "", "too-long", ""
	}
	upper, ok := counterShape(name)
	if !ok {
		return "", shapeRule(name), ""
	}
	// Words are cut on the name as written: lowering first would hide
	// camelCase ("apiKey").
	if tok, risky := riskyWord(name, p.RiskyTokens, allWords); risky {
		return "", "risky-word", tok
	}
	if upper {
		name = strings.ToLower(name)
	}
	// The first segment must be a namespace itself, not merely start
	// with one. Lowercase ASCII is already in folded form.
	if first := name[:strings.IndexByte(name, '.')+1]; !slices.Contains(p.Namespaces, first) {
		return "", "not-a-namespace", ""
	}
	if rule, detail := dataShape(name); rule != "" {
		return "", rule, detail
	}
	if where := localWordIn(name); where != "" {
		return "", "local-word", where
	}
	return name, "", ""
}

// shapeRule names what is wrong with a name that is not well formed, by
// the characters that give away what it holds.
func shapeRule(name string) string {
	switch {
	case strings.Contains(name, "://"):
		return "url"
	case strings.Contains(name, "@"):
		return "email"
	case strings.ContainsAny(name, `/\`):
		return "path"
	}
	return "not-a-name"
}

// counterShape checks the segment grammar in one pass over the bytes; any
// byte outside ASCII fails it, which rejects invalid UTF-8 as well.
func counterShape(name string) (upper, ok bool) {
	segments, length := 1, 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if length == 0 {
				return false, false
			}
			segments, length = segments+1, 0
			continue
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false, false
		}
		length++
	}
	return upper, segments >= 2 && length > 0
}
