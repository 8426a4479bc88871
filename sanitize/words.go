package sanitize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Words are what the risky-word rule compares: a key is cut at every rune
// that is neither a letter, a mark nor a digit ('.', '_', '-', '$', spaces),
// between a letter and a digit, and at camelCase changes ("apiKey" is api,
// key; "HTTPServer" is HTTP, Server). So "api_key" and "apiKey" hold the word
// "key", while "keyboard", "hotkeys" and "monkey_patch" do not.

// Rune kinds for the word splitter.
const (
	kindSep = iota
	kindLower
	kindUpper
	kindDigit
)

// kindOf sorts a rune for the splitter. Letters that are not upper case
// (lower, title, modifier, other letters) and combining marks count as
// lower case, so that a mark never starts a word.
func kindOf(r rune) int {
	switch {
	case 'a' <= r && r <= 'z':
		return kindLower
	case 'A' <= r && r <= 'Z':
		return kindUpper
	case '0' <= r && r <= '9':
		return kindDigit
	case r < utf8.RuneSelf:
		return kindSep
	case unicode.IsUpper(r):
		return kindUpper
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return kindLower
	case unicode.IsDigit(r):
		return kindDigit
	}
	return kindSep
}

// nextWord returns the bounds of the first word of s at or after byte i;
// start == len(s) when no word is left.
func nextWord(s string, i int) (start, end int) {
	prev := kindSep
	for i < len(s) {
		r, n := decode(s, i)
		k := kindOf(r)
		switch {
		case k == kindSep:
			if prev != kindSep {
				return start, i
			}
		case prev == kindSep:
			start = i
		case (prev == kindDigit) != (k == kindDigit), prev == kindLower && k == kindUpper:
			return start, i
		case prev == kindUpper && k == kindUpper:
			// The last capital of a run starts the next word when a
			// lower-case letter follows it: "HTTPServer".
			if r2, _ := decode(s, i+n); i+n < len(s) && kindOf(r2) == kindLower {
				return start, i
			}
		}
		prev = k
		i += n
	}
	if prev == kindSep {
		return len(s), len(s)
	}
	return start, len(s)
}

// decode is utf8.DecodeRuneInString at s[i:] with the ASCII case inline.
func decode(s string, i int) (rune, int) {
	if i >= len(s) {
		return utf8.RuneError, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// oneWord reports whether t is a single word of the splitter.
func oneWord(t string) bool {
	start, end := nextWord(t, 0)
	return start == 0 && end == len(t) && end > 0
}

// allOneWord reports whether every token is a single word.
func allOneWord(tokens []string) bool {
	for _, t := range tokens {
		if !oneWord(t) {
			return false
		}
	}
	return true
}

// riskyWord returns the first token of tokens that is a word of s, or a
// run of its words written together ("file_name" and "fileName" hold
// "filename", as "filename" does), compared under Unicode simple case
// folding (so "key" spelt with the Kelvin sign, or "secret" with the long
// s, is caught too). A token that is not a single word ("api_key", "", an
// odd policy's entry) is looked for as a substring of s instead, so that a
// list written in another style still closes the gate: the empty token
// matches every key. allWords says that every token is one word, which
// spares checking each of them on every call.
func riskyWord(s string, tokens []string, allWords bool) (string, bool) {
	var folded string
	for _, t := range tokens {
		if allWords || oneWord(t) {
			continue
		}
		if folded == "" {
			folded = fold(s)
		}
		if strings.Contains(folded, fold(t)) {
			return t, true
		}
	}
	for start, end := nextWord(s, 0); start < len(s); start, end = nextWord(s, end) {
		c := lowerASCII(s[start])
		for _, t := range tokens {
			// Most pairs differ in their first ASCII letter; only a
			// non-ASCII rune can fold onto another first byte.
			if t == "" || (c < utf8.RuneSelf && t[0] < utf8.RuneSelf && c != lowerASCII(t[0])) {
				continue
			}
			if sameWord(s[start:end], t) || joinedWords(s, start, end, t) {
				return t, true
			}
		}
	}
	return "", false
}

// sameWord is strings.EqualFold with a cheap first test for ASCII words,
// which are nearly all of them.
func sameWord(w, t string) bool {
	if w[0] < utf8.RuneSelf && len(t) > 0 && t[0] < utf8.RuneSelf {
		if lowerASCII(w[0]) != lowerASCII(t[0]) {
			return false
		}
		if isASCII(w) && isASCII(t) && len(w) != len(t) {
			return false
		}
	}
	return strings.EqualFold(w, t)
}

// joinedWords reports whether the words of s from the one at [start, end)
// on spell t when written together. Only ASCII is joined: a folded rune
// can change length, and the whole-word test already covers those.
func joinedWords(s string, start, end int, t string) bool {
	for rest := t; ; {
		w := s[start:end]
		if len(w) >= len(rest) || !hasPrefixFold(rest, w) || !isASCII(w) {
			return false
		}
		rest = rest[len(w):]
		if start, end = nextWord(s, end); start == len(s) {
			return false
		}
		if w := s[start:end]; len(w) == len(rest) && hasPrefixFold(rest, w) && isASCII(w) {
			return true
		}
	}
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(prefix) > len(s) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
