package state

import (
	"bytes"
	"slices"

	"gopkg.in/yaml.v3"
)

// marshal returns the file's bytes for st: exactly what yaml.Marshal(st)
// returns, which FuzzMarshal checks. The counters, the only part of the file
// that grows with use, are written here rather than by yaml.v3, whose
// encoder spends several microseconds on each (reflection, a natural sort
// that converts both keys to runes on every comparison, the emitter): with
// 100 counters that was most of an Export. Counter names outside the plain
// form heartbeat keys have fall back to yaml.Marshal.
func marshal(st *State) ([]byte, error) {
	keys, ok := plainCounterKeys(st.Counters)
	if !ok {
		return yaml.Marshal(st)
	}
	rest := *st
	rest.Counters = nil
	out, err := yaml.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	// counters comes right before last_heartbeat_at, which is always
	// written and starts a line; the fields before it are one-line
	// scalars or indented blocks, so no other line starts so.
	const next = "last_heartbeat_at:"
	at := 0
	if !bytes.HasPrefix(out, []byte(next)) {
		at = bytes.Index(out, []byte("\n"+next)) + 1
		if at == 0 {
			return yaml.Marshal(st)
		}
	}
	b := make([]byte, 0, len(out)+len(countersHead)+countersSize(keys))
	b = append(b, out[:at]...)
	b = append(b, countersHead...)
	b = appendCounters(b, keys, st.Counters)
	return append(b, out[at:]...), nil
}

// plainCounterKeys returns the names of a non-empty counters map in the
// order yaml.v3 writes them, and whether every name is one yaml.v3 writes
// as a plain scalar and a simple key: a lowercase ASCII letter, then only
// a-z, 0-9, '.', '_' and '-', at least one '.' (which rules out the words
// YAML reads as booleans or null), 100 bytes at most (it takes 128 as a
// simple key).
func plainCounterKeys(counters map[string]int64) ([]string, bool) {
	if len(counters) == 0 {
		return nil, false
	}
	keys := make([]string, 0, len(counters))
	for k := range counters {
		if !plainKey(k) {
			return nil, false
		}
		keys = append(keys, k)
	}
	// Byte order is yaml.v3's order unless digit runs of different lengths
	// meet ("f9" and "f10"): sort by bytes, cheaply, and by keyLess only if
	// a neighbour pair says so. keyLess decides any two distinct keys at
	// their first difference, so it is one call per comparison.
	slices.Sort(keys)
	if !ascending(keys) {
		slices.SortFunc(keys, func(a, b string) int {
			if a == b {
				return 0
			}
			if keyLess(a, b) {
				return -1
			}
			return 1
		})
		// An order keyLess does not make consistent (yaml.v3 itself would
		// write such keys in a random order): leave them to yaml.v3.
		if !ascending(keys) {
			return nil, false
		}
	}
	return keys, true
}

// ascending reports whether each key sorts before the next in yaml.v3's
// order.
func ascending(keys []string) bool {
	for i := 1; i < len(keys); i++ {
		if !keyLess(keys[i-1], keys[i]) {
			return false
		}
	}
	return true
}

func plainKey(k string) bool {
	if len(k) == 0 || len(k) > 100 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	dot := false
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		case c == '.':
			dot = true
		default:
			return false
		}
	}
	return dot
}

// keyLess is yaml.v3's order of two string map keys (keyList.Less in its
// sorter.go), for the ASCII keys plainKey accepts: letters by byte, runs of
// digits by value, a letter after a digit run sorts last.
func keyLess(a, b string) bool {
	digits := false
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			digits = isDigit(a[i])
			continue
		}
		al, bl := isLetter(a[i]), isLetter(b[i])
		if al && bl {
			return a[i] < b[i]
		}
		if al || bl {
			if digits {
				return al
			}
			return bl
		}
		var ai, bi int
		var an, bn int64
		if a[i] == '0' || b[i] == '0' {
			for j := i - 1; j >= 0 && isDigit(a[j]); j-- {
				if a[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(a) && isDigit(a[ai]); ai++ {
			an = an*10 + int64(a[ai]-'0')
		}
		for bi = i; bi < len(b) && isDigit(b[bi]); bi++ {
			bn = bn*10 + int64(b[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}
