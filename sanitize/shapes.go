package sanitize

import "strings"

// The data-shape rules look at the parts of a lower-case, well-formed
// counter name, parts being cut at '.', '_' and '-' (so "10.0.0.1",
// "10_0_0_1" and "ip-10-0-0-1" are the same four numbers), and drop a name
// that looks like it carries data rather than naming a feature. They are
// written so that version and model names pass: claude-3-5-sonnet-20241022,
// gpt-4o-2024-08-06, llama-3-1-405b, v1-2-3, python3-11.

// splitParts cuts name at '.', '_' and '-' into buf; two joiners in a row
// give an empty part, which is how "::" of an IPv6 address shows.
func splitParts(name string, buf []string) []string {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' || name[i] == '_' || name[i] == '-' {
			buf = append(buf, name[start:i])
			start = i + 1
		}
	}
	return buf
}

// dataShape returns the rule a lower-case, well-formed counter name breaks,
// and its detail (the credential's issuer), or "" when it breaks none.
func dataShape(name string) (rule, detail string) {
	if issuer := credential(name); issuer != "" {
		return "credential", issuer
	}
	var buf [48]string
	parts := splitParts(name, buf[:0])
	// Called one by one, not through a table of funcs, so that parts can
	// stay on the stack.
	switch {
	case isUUID(parts):
		return "uuid", ""
	case hasIPv4(parts):
		return "ipv4", ""
	case hasIPv6(parts):
		return "ipv6", ""
	case hasMAC(parts):
		return "mac", ""
	case hasLongNumber(parts):
		return "long-number", ""
	case hasHex(parts):
		return "hex", ""
	case hasRandom(parts):
		return "random", ""
	case hasDomain(parts):
		return "url", ""
	}
	return "", ""
}

// credentialShapes are the prefixes of the API keys and tokens of common
// services and how many letters and digits at least follow them, up to the
// end of the segment. The lengths stay below the real ones (ghp_ has 36)
// yet far above what a feature name holds after the same letters
// ("hf_hub", "npm_install", "sk-learn"): only a secret is that long.
var credentialShapes = []struct {
	prefix string
	body   int
	issuer string
}{
	{"ghp_", 16, "github"}, {"gho_", 16, "github"}, {"ghu_", 16, "github"},
	{"ghs_", 16, "github"}, {"ghr_", 16, "github"}, {"github_pat_", 16, "github"},
	{"glpat-", 16, "gitlab"},
	{"xoxa-", 10, "slack"}, {"xoxb-", 10, "slack"}, {"xoxp-", 10, "slack"},
	{"xoxr-", 10, "slack"}, {"xoxe-", 10, "slack"},
	{"sk_live_", 12, "stripe"}, {"sk_test_", 12, "stripe"}, {"pk_live_", 12, "stripe"},
	{"pk_test_", 12, "stripe"}, {"rk_live_", 12, "stripe"}, {"rk_test_", 12, "stripe"},
	{"whsec_", 16, "stripe"},
	{"sk-", 20, "openai"}, // OpenAI's sk-, sk-proj-; Anthropic's sk-ant- too
	{"akia", 16, "aws"}, {"asia", 16, "aws"},
	{"aiza", 30, "google"}, {"ya29.", 20, "google"},
	{"eyj", 10, "jwt"}, // base64 of `{"`, how every JWT begins
	{"hf_", 30, "huggingface"},
	{"npm_", 30, "npm"},
	{"pypi-", 30, "pypi"},
	{"phc_", 30, "posthog"}, {"phx_", 30, "posthog"},
	{"dop_v1_", 30, "digitalocean"},
}

// credentialStart marks the first bytes of credentialShapes' prefixes.
var credentialStart = func() (set [256]bool) {
	for _, c := range credentialShapes {
		set[c.prefix[0]] = true
	}
	return set
}()

// credential returns the issuer of a credential that starts a part of
// name, or "".
func credential(name string) string {
	for i := 0; i < len(name); i++ {
		if (i > 0 && name[i-1] != '.' && name[i-1] != '_' && name[i-1] != '-') || !credentialStart[name[i]] {
			continue
		}
		for _, c := range credentialShapes {
			if c.prefix[0] == name[i] && strings.HasPrefix(name[i:], c.prefix) && bodyLen(name[i+len(c.prefix):]) >= c.body {
				return c.issuer
			}
		}
	}
	return ""
}

// bodyLen counts the letters and digits of s up to the end of its segment.
func bodyLen(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] != '.'; i++ {
		if s[i] != '_' && s[i] != '-' {
			n++
		}
	}
	return n
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return len(s) > 0
}

func digitCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

func isNumber(s string) bool { return len(s) > 0 && digitCount(s) == len(s) }

// isUUID: 8-4-4-4-12 hex digits, however joined.
func isUUID(parts []string) bool {
	lens := [...]int{8, 4, 4, 4, 12}
	for i := 0; i+len(lens) <= len(parts); i++ {
		ok := true
		for j, n := range lens {
			if p := parts[i+j]; len(p) != n || !isHex(p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// hasIPv4: four numbers from 0 to 255 in a row.
func hasIPv4(parts []string) bool {
	run := 0
	for _, p := range parts {
		if isNumber(p) && len(p) <= 3 && (len(p) < 3 || p <= "255") {
			run++
			if run == 4 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// hasIPv6: a run of groups of at most 4 hex digits that is either the
// full eight groups, or at least two groups around the "::" of a shortened
// address (an empty part: "fe80--1", "2001_db8__1") with a group of 3 or 4
// characters holding a digit, which words made of a-f ("add--bad") lack.
func hasIPv6(parts []string) bool {
	groups, empty, long := 0, 0, false
	for _, p := range parts {
		if len(p) > 4 || (p != "" && !isHex(p)) {
			groups, empty, long = 0, 0, false
			continue
		}
		if p == "" {
			empty++
		} else {
			groups++
			long = long || (len(p) >= 3 && digitCount(p) > 0)
		}
		if (groups >= 8 && empty == 0) || (groups >= 2 && empty > 0 && long) {
			return true
		}
	}
	return false
}

// hasMAC: six groups of two hex digits in a row, one of them a digit.
func hasMAC(parts []string) bool {
	run, digits := 0, 0
	for _, p := range parts {
		if len(p) != 2 || !isHex(p) {
			run, digits = 0, 0
			continue
		}
		run++
		digits += digitCount(p)
		if run >= 6 && digits > 0 {
			return true
		}
	}
	return false
}

// hasHex: a part of 12 hex digits or more with a digit among them (a
// container id, a hash), or hex parts in a row with 16 such digits in all
// (a hash or a UUID cut up differently).
func hasHex(parts []string) bool {
	run, digits := 0, 0
	for _, p := range parts {
		if !isHex(p) {
			run, digits = 0, 0
			continue
		}
		d := digitCount(p)
		if len(p) >= 12 && d > 0 {
			return true
		}
		run += len(p)
		digits += d
		if run >= 16 && digits > 0 {
			return true
		}
	}
	return false
}

// hasLongNumber: 9 digits or more in a row (an account, a phone or a card
// number, a timestamp), or three numbers or more of at least two digits in
// a row that make 9 digits (123-45-6789, 555-123-4567). A date alone
// (20241022, 2024-10-22) has 8 and passes: model names carry them.
func hasLongNumber(parts []string) bool {
	run, total := 0, 0
	for _, p := range parts {
		for i := 0; i < len(p); {
			j := i
			for j < len(p) && isDigit(p[j]) {
				j++
			}
			if j-i >= 9 {
				return true
			}
			i = j + 1
		}
		if !isNumber(p) || len(p) < 2 {
			run, total = 0, 0
			continue
		}
		run++
		total += len(p)
		if run >= 3 && total >= 9 {
			return true
		}
	}
	return false
}

// hasRandom: a part of 16 letters and digits or more with 3 digits or more,
// as keys and base64 strings have and words do not; or a part of 4 hex
// digits or more that goes between letters and digits twice or more, the
// tag of a generated name (a pod, a deployment, a canary: 9f2c, 51d0),
// which model sizes (405b, 70b) and versions (v2) do not.
func hasRandom(parts []string) bool {
	for _, p := range parts {
		if d := digitCount(p); len(p) >= 16 && d >= 3 && d < len(p) {
			return true
		}
		if len(p) >= 4 && isHex(p) && changes(p) >= 2 {
			return true
		}
	}
	return false
}

// changes counts the places where p goes from a letter to a digit or back.
func changes(p string) int {
	n := 0
	for i := 1; i < len(p); i++ {
		if isDigit(p[i]) != isDigit(p[i-1]) {
			n++
		}
	}
	return n
}

// hasDomain: a "www" part, or a "com" part after a name (example_com,
// alice.example.com): a host or an e-mail address written with joiners.
func hasDomain(parts []string) bool {
	for i, p := range parts {
		if p == "www" || (p == "com" && i > 1) {
			return true
		}
	}
	return false
}
