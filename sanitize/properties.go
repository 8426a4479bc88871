package sanitize

import (
	"encoding/json"
	"slices"
)

// Properties is DefaultPolicy().Properties(in).
func Properties(in map[string]any) map[string]any {
	return defaultPolicy.Properties(in)
}

// Properties returns a new map holding only what p allows out of in. It
// never returns nil and never changes in or anything in reaches.
//
// Top-level entries are taken in a fixed order — the system keys in the
// order of g.SystemKeys, then the namespaced keys sorted — and each is
// added whole while the encoded result still fits g.MaxBytes, so a large
// entry is dropped and smaller ones after it may still be sent.
func (p Policy) Properties(in map[string]any) (out map[string]any) {
	// A telemetry library must never take its host down; if a bug
	// slipped through, sending nothing is the safe answer.
	defer func() {
		if recover() != nil {
			out = map[string]any{}
		}
	}()
	g := newGate(p)
	return g.top(in)
}

func (g *gate) top(in map[string]any) map[string]any {
	out := make(map[string]any)
	budget := g.MaxBytes - len("{}")
	for _, k := range g.topOrder(in) {
		if len(out) >= g.MaxKeys {
			break
		}
		// Skip the value's work when even the smallest value cannot fit.
		if len(k)+len(`"":0`) > budget {
			continue
		}
		v, ok := g.value(in[k], 2)
		if !ok {
			continue
		}
		size, ok := entrySize(k, v, len(out) > 0)
		if !ok || size > budget {
			continue
		}
		budget -= size
		out[k] = v
	}
	return out
}

// topOrder lists the keys worth looking at in the order that decides
// which survive the caps; the system keys come first because a heartbeat
// without them cannot be read.
func (g *gate) topOrder(in map[string]any) []string {
	var keys []string
	seen := make(map[string]bool, len(g.SystemKeys))
	for _, k := range g.SystemKeys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := in[k]; ok && g.keyOK(k) {
			keys = append(keys, k)
		}
	}
	system := len(keys)
	for k := range in {
		if !seen[k] && g.inNamespace(k) && g.keyOK(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys[system:])
	return keys
}

// entrySize is the size of the entry as json.Marshal writes it, so that its
// escaping (HTML characters, U+2028, control bytes) is counted exactly as it
// will be sent.
func entrySize(k string, v any, comma bool) (int, bool) {
	kn, kok := jsonSize(k)
	vn, vok := jsonSize(v)
	n := kn + len(":") + vn
	if comma {
		n += len(",")
	}
	return n, kok && vok
}

// jsonSize is len(json.Marshal(v)). A string json.Marshal writes as it is,
// between quotes, is counted without it: encoding/json's first use in a
// process costs a tenth of a millisecond, and most values are such strings.
func jsonSize(v any) (int, bool) {
	if s, ok := v.(string); ok && plainJSON(s) {
		return len(s) + len(`""`), true
	}
	b, err := json.Marshal(v)
	return len(b), err == nil
}

// plainJSON reports whether json.Marshal writes s unescaped: printable
// ASCII but for '"', '\\' and the HTML characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
