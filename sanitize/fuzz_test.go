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
		g := newGate(pol)
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
	if len(b) > 16384 {
		t.Fatalf("%d bytes, cap 16384", len(b))
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
		if depth > 2 || len(x) > 50 {
			t.Fatalf("list of %d items at depth %d", len(x), depth)
		}
		for _, e := range x {
			checkValue(t, e, depth+1)
		}
	case map[string]any:
		if depth > 2 || len(x) > 200 {
			t.Fatalf("map of %d keys at depth %d", len(x), depth)
		}
		for k, e := range x {
			checkString(t, k)
			if w, ok := oracleRisky(k); ok {
				t.Fatalf("key %q holds risky word %q", k, w)
			}
			checkValue(t, e, depth+1)
		}
	default:
		t.Fatalf("type %T in the output", v)
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) || len(s) > 200 {
		t.Fatalf("bad string (%d bytes, valid %v): %q", len(s), utf8.ValidString(s), s)
	}
}

// The oracle below is a second reading of the rules, written from their
// documentation with regular expressions and brute force rather than the
// package's single passes, so that the fuzzer compares two implementations.

var (
	// Words: camelCase and letter-digit changes become spaces, then
	// anything that is not a letter, mark or digit cuts.
	lowerUpper  = regexp.MustCompile(`([\p{Ll}\p{Lt}\p{Lm}\p{Lo}\p{M}])(\p{Lu})`)
	capsWord    = regexp.MustCompile(`(\p{Lu})(\p{Lu}[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\p{M}])`)
	letterDigit = regexp.MustCompile(`([\p{L}\p{M}])(\p{Nd})`)
	digitLetter = regexp.MustCompile(`(\p{Nd})([\p{L}\p{M}])`)
	notWord     = regexp.MustCompile(`[^\p{L}\p{M}\p{Nd}]+`)
)

func oracleWords(s string) []string {
	for {
		next := s
		for _, re := range []*regexp.Regexp{lowerUpper, capsWord, letterDigit, digitLetter} {
			next = re.ReplaceAllString(next, "$1 $2")
		}
		if next == s {
			break
		}
		s = next
	}
	var words []string
	for _, w := range notWord.Split(s, -1) {
		if w != "" {
			words = append(words, w)
		}
	}
	return words
}

// oracleRisky reports a pinned risky word among the words of s, or spelt
// by consecutive ASCII words.
func oracleRisky(s string) (string, bool) {
	words := oracleWords(s)
	for i := range words {
		for _, tok := range pinnedRiskyWords {
			if strings.EqualFold(words[i], tok) {
				return tok, true
			}
			joined := ""
			for j := i; j < len(words) && isASCII(words[j]) && len(joined) < len(tok); j++ {
				joined += strings.ToLower(words[j])
				if j > i && joined == tok {
					return tok, true
				}
			}
		}
	}
	return "", false
}

var (
	counterGrammar = regexp.MustCompile(`^(feature|cli|workflow)(\.[a-z0-9_-]+)+$`)
	joiners        = regexp.MustCompile(`[._-]`)
	hexOnly        = regexp.MustCompile(`^[0-9a-f]+$`)
	digitsOnly     = regexp.MustCompile(`^[0-9]+$`)
	hasDigit       = regexp.MustCompile(`[0-9]`)
	nineDigits     = regexp.MustCompile(`[0-9]{9}`)
	byte255        = regexp.MustCompile(`^([0-9]{1,2}|[01][0-9]{2}|2[0-4][0-9]|25[0-5])$`)
	uuidShape      = regexp.MustCompile(`(^|[._-])[0-9a-f]{8}[._-][0-9a-f]{4}[._-][0-9a-f]{4}[._-][0-9a-f]{4}[._-][0-9a-f]{12}([._-]|$)`)
	randomPart     = regexp.MustCompile(`^[a-z0-9]{16,}$`)
	hexTag         = regexp.MustCompile(`^[0-9a-f]*([0-9][a-f]+[0-9]|[a-f][0-9]+[a-f])[0-9a-f]*$`)
)

// oracleCredentials: prefix at the start of a part, then at least n letters
// and digits before the segment ends.
var oracleCredentials = map[string]int{
	"ghp_": 16, "gho_": 16, "ghu_": 16, "ghs_": 16, "ghr_": 16, "github_pat_": 16, "glpat-": 16,
	"xoxa-": 10, "xoxb-": 10, "xoxp-": 10, "xoxr-": 10, "xoxe-": 10,
	"sk_live_": 12, "sk_test_": 12, "pk_live_": 12, "pk_test_": 12, "rk_live_": 12, "rk_test_": 12, "whsec_": 16,
	"sk-": 20, "akia": 16, "asia": 16, "aiza": 30, "ya29.": 20, "eyj": 10,
	"hf_": 30, "npm_": 30, "pypi-": 30, "phc_": 30, "phx_": 30, "dop_v1_": 30,
}

func oracleCredential(lower string) bool {
	for prefix, n := range oracleCredentials {
		for i := 0; i < len(lower); i++ {
			if i > 0 && !strings.ContainsRune("._-", rune(lower[i-1])) || !strings.HasPrefix(lower[i:], prefix) {
				continue
			}
			rest := lower[i+len(prefix):]
			if j := strings.IndexByte(rest, '.'); j >= 0 {
				rest = rest[:j]
			}
			if len(joiners.ReplaceAllString(rest, "")) >= n {
				return true
			}
		}
	}
	return false
}

// window reports whether some run parts[i:j] satisfies ok.
func window(parts []string, ok func([]string) bool) bool {
	for i := range parts {
		for j := i + 1; j <= len(parts); j++ {
			if ok(parts[i:j]) {
				return true
			}
		}
	}
	return false
}

func allOf(run []string, ok func(string) bool) bool {
	for _, p := range run {
		if !ok(p) {
			return false
		}
	}
	return true
}

func oracleData(lower string) bool {
	parts := joiners.Split(lower, -1)
	digits := func(run []string) int { return len(hasDigit.FindAllString(strings.Join(run, ""), -1)) }
	switch {
	case oracleCredential(lower), uuidShape.MatchString(lower), nineDigits.MatchString(lower):
		return true
	case window(parts, func(r []string) bool { return len(r) == 4 && allOf(r, byte255.MatchString) }):
		return true // ipv4
	case window(parts, func(r []string) bool {
		if !allOf(r, func(p string) bool { return p == "" || len(p) <= 4 && hexOnly.MatchString(p) }) {
			return false
		}
		groups, empty, long := 0, 0, false
		for _, p := range r {
			if p == "" {
				empty++
			} else {
				groups++
				long = long || len(p) >= 3 && hasDigit.MatchString(p)
			}
		}
		return groups >= 8 && empty == 0 || groups >= 2 && empty > 0 && long
	}):
		return true // ipv6
	case window(parts, func(r []string) bool {
		return len(r) == 6 && allOf(r, func(p string) bool { return len(p) == 2 && hexOnly.MatchString(p) }) && digits(r) > 0
	}):
		return true // mac
	case window(parts, func(r []string) bool {
		return len(r) >= 3 && allOf(r, func(p string) bool { return len(p) >= 2 && digitsOnly.MatchString(p) }) && len(strings.Join(r, "")) >= 9
	}):
		return true // long number
	case window(parts, func(r []string) bool {
		return allOf(r, hexOnly.MatchString) && digits(r) > 0 && (len(r) == 1 && len(r[0]) >= 12 || len(strings.Join(r, "")) >= 16)
	}):
		return true // hex
	}
	for i, p := range parts {
		if randomPart.MatchString(p) && digits([]string{p}) >= 3 && !digitsOnly.MatchString(p) {
			return true
		}
		if len(p) >= 4 && hexTag.MatchString(p) {
			return true
		}
		if p == "www" || p == "com" && i >= 2 {
			return true
		}
	}
	return false
}

// fuzzMachine is the machine FuzzCounterName simulates, and fuzzLocal its
// local words as the oracle looks for them.
var (
	fuzzMachine = machine{host: "fuzz-host-7", env: []string{"USER=alice", "HOME=/home/alice", "TOKEN=Zk3p9Lq2xY", "LOGNAME=root"}}
	fuzzLocal   = []string{".fuzz.host.7.", ".alice.", ".zk3p9lq2xy."}
)

// expectedCounter is the oracle's verdict.
func expectedCounter(name string) (string, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return "", false
		}
	}
	lower := strings.ToLower(name)
	if len(lower) > 200 || !counterGrammar.MatchString(lower) {
		return "", false
	}
	if _, risky := oracleRisky(name); risky || oracleData(lower) {
		return "", false
	}
	dotted := "." + joiners.ReplaceAllString(lower, ".") + "."
	for _, w := range fuzzLocal {
		if strings.Contains(dotted, w) {
			return "", false
		}
	}
	return lower, true
}

func FuzzCounterName(f *testing.F) {
	for _, s := range []string{
		"feature.x", "cli.version.count", "Workflow.LangGraph.Count", "feature..x",
		"feature./etc/passwd", "feature.10.0.0.1", "feature.me@example.com", "cli.10_11_12_13.count", "feature.run_2.count",
		"feature.\xff", "feature.\u212Aey", "feature.api_key", strings.Repeat("a.", 150),
		"feature.apiKey.count", "feature.keyboard.count", "feature.claude-3-5-sonnet-20241022.count",
		"feature.fe80--1.count", "feature.00-1a-2b-3c-4d-5e.count", "feature.555-123-4567.count",
		"feature.ghp_abcdefghijklmnop.count", "feature.alice.count", "feature.fuzz_host_7.count",
		"feature.file_name.count", "feature.6f1c2c8e_1d2a_4c3b_9a8e_0123456789ab.count",
	} {
		f.Add(s)
	}
	simulate(f, fuzzMachine)
	f.Fuzz(func(t *testing.T, name string) {
		got, ok := CounterName(name)
		want, wantOK := expectedCounter(name)
		if got != want || ok != wantOK {
			t.Fatalf("CounterName(%q) = (%q, %v), want (%q, %v)", name, got, ok, want, wantOK)
		}
		if v := Explain(name); v.Key != got || v.OK != ok || (v.Rule == "") != ok {
			t.Fatalf("Explain(%q) = %+v, CounterName = (%q, %v)", name, v, got, ok)
		}
		if !ok {
			return
		}
		if again, ok := CounterName(got); again != got || !ok {
			t.Fatalf("not idempotent: CounterName(%q) = (%q, %v)", got, again, ok)
		}
	})
}
