package sanitize

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// shaper turns fuzz bytes into a property map, so the fuzzer can steer key
// kinds, value types, nesting and size. It reads zeros once the bytes run
// out, which always ends the recursion.
type shaper struct {
	shape []byte
	words []string
	n     int64
	x     float64
}

func (s *shaper) next() byte {
	if len(s.shape) == 0 {
		return 0
	}
	b := s.shape[0]
	s.shape = s.shape[1:]
	return b
}

func (s *shaper) word(b byte) string { return s.words[int(b>>4)%len(s.words)] }

func (s *shaper) key() string {
	b := s.next()
	w := s.word(b)
	tokens := DefaultPolicy().RiskyTokens
	switch b % 9 {
	case 0:
		return w
	case 1:
		return "feature." + w
	case 2:
		return "cli." + w
	case 3:
		return "workflow." + w
	case 4:
		return defaultPolicy.SystemKeys[int(b>>3)%len(defaultPolicy.SystemKeys)]
	case 5:
		return "feature." + w + strings.ToUpper(tokens[int(b>>4)%len(tokens)])
	case 6:
		return strings.ToUpper(w)
	case 7:
		return "feature." + repeat(w, int(b>>3))
	default:
		return "workflow.\u212Aey" + w
	}
}

func (s *shaper) value(depth int) any {
	b := s.next()
	w := s.word(b)
	switch b % 22 {
	case 0:
		return nil
	case 1:
		return b&0x80 != 0
	case 2:
		return s.n
	case 3:
		return []any{int(s.n), int8(s.n), uint64(s.n), uint16(s.n), namedInt(s.n)}
	case 4:
		return s.x
	case 5:
		return float32(s.x)
	case 6:
		return w
	case 7:
		return repeat(w, int(b>>2)+1)
	case 8:
		return []any{math.NaN(), math.Inf(1), float32(math.Inf(-1))}
	case 9:
		return s.object(depth+1, int(s.next()%16))
	case 10:
		return s.list(depth+1, int(s.next()%16))
	case 11:
		return []string{w, repeat(w, 60), "<&>"}
	case 12:
		return map[string]string{w: w, "email": w, repeat(w, 30): "x"}
	case 13:
		return []byte(w)
	case 14:
		return named{w}
	case 15:
		return namedString(w)
	case 16:
		return []float64{s.x, math.NaN()}
	case 17:
		return &s.n
	case 18:
		return s.list(depth+1, int(s.next())) // long lists
	case 19:
		return s.object(depth+1, int(s.next())) // wide maps
	case 20:
		return map[namedString]any{namedString(w): s.value(depth + 1)}
	default:
		return [2]any{w, s.value(depth + 1)}
	}
}

// repeat makes strings longer than the caps but no longer than needed, so
// that one input cannot grow to megabytes and stall the fuzzer.
func repeat(w string, n int) string {
	if len(w) == 0 {
		return w
	}
	n = min(n, 3*defaultMaxString/len(w)+1)
	return strings.Repeat(w, n)
}

func (s *shaper) object(depth, n int) map[string]any {
	m := make(map[string]any, n)
	for range n {
		m[s.key()] = s.value(depth)
	}
	return m
}

func (s *shaper) list(depth, n int) []any {
	l := make([]any, 0, n)
	for range n {
		l = append(l, s.value(depth))
	}
	return l
}

// build always includes a few allowed keys so that the interesting paths
// run even for short fuzz inputs, and a bulk of large entries when the
// first byte asks for it, so that the byte cap is reached.
func build(k1, k2, v1, v2 string, n int64, x float64, shape []byte) map[string]any {
	words := []string{k1, k2, v1, v2}
	for i, w := range words {
		// Longer words test nothing new past the caps but make the
		// repetitions below slow enough to stall the fuzzer.
		words[i] = w[:min(len(w), 2*defaultMaxString)]
	}
	s := &shaper{shape: shape, words: words, n: n, x: x}
	bulk := s.next()
	m := s.object(1, int(s.next()))
	m["feature."+k1] = v1
	m[k2] = v2
	m["cli."+k2] = []any{v1, v2, n, x}
	m["workflow.n"] = n
	m["feature.x"] = x
	for i := range int(bulk) {
		m[fmt.Sprintf("feature.bulk%03d", i)] = repeat(words[2]+"<", int(bulk%8)+1)
	}
	return m
}

func FuzzProperties(f *testing.F) {
	f.Add("agent", "os.family", "Linux", "v", int64(3), 0.5, []byte{0, 3, 9, 4, 1, 2, 10, 3, 6, 7})
	f.Add("Email", "feature.path", "\xff\xfe", strings.Repeat("é", 150), int64(-1), math.Inf(1), []byte{0, 8, 5, 9, 9, 9, 9, 2})
	f.Add("k", "$lib", strings.Repeat("a", 199)+"é", "<script>", int64(math.MaxInt64), math.NaN(), []byte{200, 40, 19, 255, 18, 255})
	f.Add("", "", "", "", int64(0), 0.0, []byte{})
	f.Add("x", "y", "😀", "\u2028", int64(1), 1e308, []byte{0, 20, 7, 7, 7, 7, 7, 7, 7, 7, 9, 9, 9, 9, 9, 10, 10, 10})
	pol := DefaultPolicy()
	f.Fuzz(func(t *testing.T, k1, k2, v1, v2 string, n int64, x float64, shape []byte) {
		in := build(k1, k2, v1, v2, n, x, shape)
		// The unexported path has no recover, so a panic reaches the fuzzer.
		g := gate(pol.withDefaults())
		out := g.top(in)
		b := checkProperties(t, in, out)
		if again := encode(t, Properties(in)); again != string(b) {
			t.Fatalf("not deterministic:\n%s\n%s", b, again)
		}
		if !same(reflect.ValueOf(in), reflect.ValueOf(build(k1, k2, v1, v2, n, x, shape))) {
			t.Fatal("input changed")
		}
	})
}

// checkProperties states the guarantees independently of the code under
// test and returns the encoded output.
func checkProperties(t *testing.T, in, out map[string]any) []byte {
	t.Helper()
	if out == nil {
		t.Fatal("nil map")
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if len(b) > defaultMaxBytes {
		t.Fatalf("%d bytes, cap %d", len(b), defaultMaxBytes)
	}
	for k := range out {
		if _, ok := in[k]; !ok {
			t.Fatalf("key %q not in the input", k)
		}
		if !slices.Contains(defaultPolicy.SystemKeys, k) && !hasNamespace(k) {
			t.Fatalf("top-level key %q outside the allowlist", k)
		}
	}
	checkValue(t, out, 1)
	return b
}

// same is reflect.DeepEqual except that floats compare by bits, so the
// NaNs the fuzzer feeds in still equal themselves.
func same(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() || (a.IsValid() && a.Type() != b.Type()) {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Interface, reflect.Pointer:
		return a.IsNil() == b.IsNil() && (a.IsNil() || same(a.Elem(), b.Elem()))
	case reflect.Slice, reflect.Array:
		return a.Len() == b.Len() && all(a.Len(), func(i int) bool { return same(a.Index(i), b.Index(i)) })
	case reflect.Map:
		keys := a.MapKeys()
		return a.Len() == b.Len() && all(len(keys), func(i int) bool { return same(a.MapIndex(keys[i]), b.MapIndex(keys[i])) })
	case reflect.Struct:
		return all(a.NumField(), func(i int) bool { return same(a.Field(i), b.Field(i)) })
	case reflect.Invalid:
		return true
	}
	return a.Equal(b)
}

func all(n int, ok func(int) bool) bool {
	for i := range n {
		if !ok(i) {
			return false
		}
	}
	return true
}

func hasNamespace(k string) bool {
	for _, ns := range []string{"feature.", "cli.", "workflow."} {
		if strings.HasPrefix(k, ns) {
			return true
		}
	}
	return false
}

func checkValue(t *testing.T, v any, depth int) {
	t.Helper()
	switch x := v.(type) {
	case nil, bool, int64, uint64:
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("non-finite float %v", x)
		}
	case string:
		checkString(t, x)
	case []any:
		if depth > defaultMaxDepth || len(x) > defaultMaxList {
			t.Fatalf("list of %d items at depth %d", len(x), depth)
		}
		for _, e := range x {
			checkValue(t, e, depth+1)
		}
	case map[string]any:
		if depth > defaultMaxDepth || len(x) > defaultMaxKeys {
			t.Fatalf("map of %d keys at depth %d", len(x), depth)
		}
		for k, e := range x {
			checkString(t, k)
			lower := strings.ToLower(k)
			for _, tok := range defaultPolicy.RiskyTokens {
				if strings.Contains(lower, tok) {
					t.Fatalf("key %q holds risky token %q", k, tok)
				}
			}
			checkValue(t, e, depth+1)
		}
	default:
		t.Fatalf("type %T in the output", v)
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) || len(s) > defaultMaxString {
		t.Fatalf("bad string (%d bytes, valid %v): %q", len(s), utf8.ValidString(s), s)
	}
}

var counterGrammar = regexp.MustCompile(`^(feature|cli|workflow)(\.[a-z0-9_-]+)+$`)

// expectedCounter is a second, regexp-based reading of the CounterName rules.
func expectedCounter(name string) (string, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return "", false
		}
	}
	lower := strings.ToLower(name)
	if len(lower) > defaultMaxString || !counterGrammar.MatchString(lower) {
		return "", false
	}
	for _, tok := range defaultPolicy.RiskyTokens {
		if strings.Contains(lower, tok) {
			return "", false
		}
	}
	if dataLike.MatchString(lower) {
		return "", false
	}
	segs := strings.Split(lower, ".")
	for _, seg := range segs {
		digits := len(seg) - len(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, seg))
		if (len(seg) >= 16 && digits >= 3) || (len(seg) >= 12 && digits > 0 && hexLike.MatchString(seg)) {
			return "", false
		}
	}
	var parts []string
	for _, p := range joiners.Split(lower, -1) {
		if p != "" {
			parts = append(parts, p)
		}
	}
	for i := 1; i < len(parts); i++ {
		if digitsOnly.MatchString(parts[i]) && digitsOnly.MatchString(parts[i-1]) {
			return "", false
		}
	}
	return lower, true
}

var (
	dataLike   = regexp.MustCompile(`(^|\.)(sk_|sk-|pk_|rk_|gh[pousr]_|github_pat_|glpat-|xox[abp]-|akia|asia|eyj|phc_|phx_|npm_|pypi-|hf_|ya29)`)
	hexLike    = regexp.MustCompile(`^[0-9a-f-]+$`)
	digitsOnly = regexp.MustCompile(`^[0-9]+$`)
	joiners    = regexp.MustCompile(`[._-]`)
)

func FuzzCounterName(f *testing.F) {
	for _, s := range []string{
		"feature.x", "cli.version.count", "Workflow.LangGraph.Count", "feature..x",
		"feature./etc/passwd", "feature.10.0.0.1", "feature.me@example.com", "cli.10_11_12_13.count", "feature.run_2.count",
		"feature.\xff", "feature.\u212Aey", "feature.api_key", strings.Repeat("a.", 150),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, ok := CounterName(name)
		want, wantOK := expectedCounter(name)
		if got != want || ok != wantOK {
			t.Fatalf("CounterName(%q) = (%q, %v), want (%q, %v)", name, got, ok, want, wantOK)
		}
		if !ok {
			return
		}
		if again, ok := CounterName(got); again != got || !ok {
			t.Fatalf("not idempotent: CounterName(%q) = (%q, %v)", got, again, ok)
		}
	})
}
