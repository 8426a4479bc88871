package exporter

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// localWords are names of this machine and this user that no counter name
// may carry: the host name, the user name and the values of environment
// variables that look like identifiers or secrets. The sanitizer cannot tell
// a host or user name from a feature's name, since both are plain words;
// here they are known. They are read once, when the first counter is
// exported, from the host name and the environment only (no file).
var localWords = sync.OnceValue(func() []string {
	var words []string
	add := func(w string) {
		if w = canonical(w); len(w) >= 2 && nameish(w) {
			words = append(words, w)
		}
	}
	if h, err := os.Hostname(); err == nil {
		add(h)
		add(strings.Split(h, ".")[0])
	}
	for _, k := range []string{"USER", "LOGNAME", "USERNAME"} {
		v := os.Getenv(k)
		add(v[strings.LastIndexByte(v, '\\')+1:]) // DOMAIN\user on Windows
	}
	if h, err := os.UserHomeDir(); err == nil && filepath.Base(h) != string(filepath.Separator) {
		add(filepath.Base(h))
	}
	// Any variable's value that is long and mixes letters and digits, as
	// tokens, keys, host names and IDs do. Plain words are left out: they
	// are too often a feature's name too (AGENT=langgraph).
	for _, kv := range os.Environ() {
		_, v, _ := strings.Cut(kv, "=")
		if w := canonical(v); len(w) >= 8 && strings.ContainsAny(w, "0123456789") && strings.ContainsAny(w, "abcdefghijklmnopqrstuvwxyz") {
			add(w)
		}
	}
	return words
})

// canonical lowers s and writes every '_' and '-' as '.', so that a word
// matches however a name joins its parts.
func canonical(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-':
			return '.'
		}
		return r
	}, strings.ToLower(s))
}

// nameish reports whether w could appear in a counter name at all.
func nameish(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

// carriesLocal reports whether a counter name holds one of localWords as
// whole parts.
func carriesLocal(name string) bool {
	n := "." + canonical(name) + "."
	for _, w := range localWords() {
		if strings.Contains(n, "."+w+".") {
			return true
		}
	}
	return false
}

// versionShape is what libraries.idun may look like: a semantic or Go module
// version, optionally with a v, a pre-release and build metadata.
var versionShape = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z][0-9A-Za-z.+-]*)?$`)

// cleanVersion returns v when it looks like a version and carries no local
// word, and "unknown" otherwise: the embedder's version is sent as is, so
// it must not be able to carry a path, an address or a name.
func cleanVersion(v string) string {
	if v == "devel" || v == "unknown" {
		return v
	}
	if len(v) > 64 || !versionShape.MatchString(v) || carriesLocal(v) {
		return "unknown"
	}
	return v
}
