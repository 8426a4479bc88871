package sanitize

import (
	"slices"
	"strings"
)

// CounterName is DefaultPolicy().CounterName(name).
func CounterName(name string) (string, bool) {
	return defaultPolicy.CounterName(name)
}

// CounterName turns an OpenTelemetry instrument name into a heartbeat key,
// or reports false when the name must not be sent.
//
// A name is accepted when, after lowering ASCII letters, it is at most
// p.MaxString bytes of dot-separated segments, at least two, each non-empty
// and made only of a-z, 0-9, '_' and '-'; its first segment plus "." is one
// of p.Namespaces; it contains no risky token; and it does not look like it
// carries data: no two digits-only parts in a row, parts split at '.', '_'
// and '-' (an IP address such as "feature.10.0.0.1" or "feature.10_0_0_1", a
// version, a date), no segment that looks like a credential or a random
// identifier (see looksLikeData). An already normal name is
// returned as is, without allocating.
func (p Policy) CounterName(name string) (string, bool) {
	if len(name) > orDefault(p.MaxString, defaultMaxString) {
		return "", false
	}
	upper, ok := counterShape(name)
	if !ok {
		return "", false
	}
	if upper {
		name = strings.ToLower(name)
	}
	// The first segment must be a namespace itself, not merely start
	// with one.
	first := name[:strings.IndexByte(name, '.')+1]
	// Lowercase ASCII is already in folded form.
	if !slices.Contains(p.Namespaces, first) || hasToken(name, p.RiskyTokens) || carriesData(name) {
		return "", false
	}
	return name, true
}

// credentialPrefixes start the API keys and tokens of common services; a
// segment that starts with one is somebody's secret, not a feature name.
var credentialPrefixes = []string{
	"sk_", "sk-", "pk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
	"glpat-", "xoxa-", "xoxb-", "xoxp-", "akia", "asia", "eyj", "phc_", "phx_",
	"npm_", "pypi-", "hf_", "ya29",
}

// carriesData reports whether a lowercase, well-formed counter name looks
// like it carries data rather than naming a feature: when unsure, drop.
func carriesData(name string) bool {
	for seg := range strings.SplitSeq(name, ".") {
		if looksLikeData(seg) {
			return true
		}
	}
	return digitsInARow(name)
}

// digitsInARow reports two digits-only parts in a row, parts being split at
// '.', '_' and '-': an IP address however it is joined (10.0.0.1,
// 10_0_0_1, 10-0-0-1), a version, a date.
func digitsInARow(name string) bool {
	prevDigits, length, digits := false, 0, true
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' || name[i] == '_' || name[i] == '-' {
			if length > 0 {
				if digits && prevDigits {
					return true
				}
				prevDigits = digits
			}
			length, digits = 0, true
			continue
		}
		length++
		if name[i] < '0' || name[i] > '9' {
			digits = false
		}
	}
	return false
}

// looksLikeData spots a credential prefix, or a long segment with several
// digits or made only of hex digits (keys, hashes, UUIDs, serial numbers).
func looksLikeData(seg string) bool {
	for _, p := range credentialPrefixes {
		if strings.HasPrefix(seg, p) {
			return true
		}
	}
	digits, hex := 0, true
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if '0' <= c && c <= '9' {
			digits++
		} else if !('a' <= c && c <= 'f') && c != '-' {
			hex = false
		}
	}
	return (len(seg) >= 16 && digits >= 3) || (len(seg) >= 12 && hex && digits > 0)
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
