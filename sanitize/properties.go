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

// entrySize measures with json.Marshal itself so that its escaping (HTML
// characters, U+2028, control bytes) is counted exactly as it will be sent.
func entrySize(k string, v any, comma bool) (int, bool) {
	kb, err := json.Marshal(k)
	if err != nil {
		return 0, false
	}
	vb, err := json.Marshal(v)
	if err != nil {
		return 0, false
	}
	n := len(kb) + len(":") + len(vb)
	if comma {
		n += len(",")
	}
	return n, true
}
