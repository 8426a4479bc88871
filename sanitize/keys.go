package sanitize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// keyOK applies the rules every map key must pass at any depth. Invalid
// UTF-8 keys are dropped, not repaired, so that two different keys can
// never collapse into one after repair.
func (g *gate) keyOK(k string) bool {
	if len(k) > g.MaxString || !utf8.ValidString(k) {
		return false
	}
	_, risky := riskyWord(k, g.RiskyTokens, g.allWords)
	return !risky
}

func (g *gate) inNamespace(k string) bool {
	for _, ns := range g.Namespaces {
		if ns != "" && strings.HasPrefix(k, ns) {
			return true
		}
	}
	return false
}

// fold maps every rune to one representative of its case-folding orbit.
// ASCII input, the usual case, takes the allocation-free path of
// strings.ToLower.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(foldRune, s)
		}
	}
	return strings.ToLower(s)
}

// foldRune picks the smallest rune of the orbit and lowers it, so that all
// members of an orbit (K, k, U+212A) land on the same rune.
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return unicode.ToLower(least)
}
