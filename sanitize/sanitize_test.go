package sanitize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func encode(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return string(b)
}

// withPolicy edits a copy of the default policy, keeping each case to the one
// limit it is about.
func withPolicy(edit func(*Policy)) Policy {
	p := DefaultPolicy()
	edit(&p)
	return p
}

type namedString string
type namedInt int
type named struct{ Name string }

func TestProperties(t *testing.T) {
	n := 7
	s199e := strings.Repeat("a", 199) + "é"
	tests := []struct {
		name   string
		policy *Policy
		in     map[string]any
		want   map[string]any
	}{
		{
			name: "nil input gives empty map",
			in:   nil,
			want: map[string]any{},
		},
		{
			name: "allowlist: system and namespaced keys only",
			in: map[string]any{
				"os.family":     "Linux",
				"$lib":          "idun-telemetry-go",
				"feature.a":     1,
				"cli.b":         2,
				"workflow.c":    3,
				"hostname":      "box",
				"featurex":      4,
				"Feature.d":     5,
				"xfeature.e":    6,
				"os.familyx":    7,
				"distinct_id":   "u",
				"$set":          map[string]any{"a": 1},
				"libraries.any": true,
			},
			want: map[string]any{
				"os.family":  "Linux",
				"$lib":       "idun-telemetry-go",
				"feature.a":  int64(1),
				"cli.b":      int64(2),
				"workflow.c": int64(3),
			},
		},
		{
			name: "risky words ignore case, nested too",
			in: map[string]any{
				"feature.EMAIL":    1,
				"feature.Api_Key":  2,
				"feature.apiKey":   3,
				"feature.APIKey":   4,
				"feature.api-keys": 5,
				"cli.monkey":       6,
				"feature.ok":       map[string]any{"FileName": "x", "keep": 1, "URL": "u", "context": "c", "userPrompt": "p", "hotkeys": 2},
				"workflow.ok":      7,
				"feature.\u212Aey": 8, // Kelvin sign folds to k
				"feature.ſecret":   9, // long s folds to s
				"feature.keyboard": 10,
			},
			want: map[string]any{
				"cli.monkey":       int64(6),
				"feature.ok":       map[string]any{"keep": int64(1), "context": "c", "hotkeys": int64(2)},
				"workflow.ok":      int64(7),
				"feature.keyboard": int64(10),
			},
		},
		{
			name: "system keys are words that pass",
			in: map[string]any{
				"libraries.idun": "0.1.0", "os.family": "Linux", "os.machine": "x86_64", "os.containerized": false,
				"go.version": "go1.26.8", "libraries.gotest": false, "$process_person_profile": false, "$geoip_disable": true,
				"$lib": "posthog-go", "$lib_version": "1.5.2",
			},
			want: map[string]any{
				"libraries.idun": "0.1.0", "os.family": "Linux", "os.machine": "x86_64", "os.containerized": false,
				"go.version": "go1.26.8", "libraries.gotest": false, "$process_person_profile": false, "$geoip_disable": true,
				"$lib": "posthog-go", "$lib_version": "1.5.2",
			},
		},
		{
			name:   "a token that is not one word is matched as a substring",
			policy: ptr(withPolicy(func(p *Policy) { p.RiskyTokens = []string{"api_key"} })),
			in:     map[string]any{"feature.my_api_key_x": 1, "feature.apikey": 2, "feature.key": 3},
			want:   map[string]any{"feature.apikey": int64(2), "feature.key": int64(3)},
		},
		{
			name:   "system keys still pass the risky check",
			policy: ptr(withPolicy(func(p *Policy) { p.SystemKeys = []string{"api_key", "os.family"} })),
			in:     map[string]any{"api_key": "k", "os.family": "Linux"},
			want:   map[string]any{"os.family": "Linux"},
		},
		{
			name: "string cap on a rune boundary",
			in: map[string]any{
				"feature.199e":  s199e,
				"feature.198e":  strings.Repeat("a", 198) + "é",
				"feature.200":   strings.Repeat("a", 200),
				"feature.201":   strings.Repeat("a", 201),
				"feature.euro":  strings.Repeat("a", 198) + "€",
				"feature.emoji": strings.Repeat("a", 197) + "😀",
			},
			want: map[string]any{
				"feature.199e":  strings.Repeat("a", 199),
				"feature.198e":  strings.Repeat("a", 198) + "é",
				"feature.200":   strings.Repeat("a", 200),
				"feature.201":   strings.Repeat("a", 200),
				"feature.euro":  strings.Repeat("a", 198),
				"feature.emoji": strings.Repeat("a", 197),
			},
		},
		{
			name: "invalid UTF-8 values repaired, runs become one U+FFFD, then cut",
			in: map[string]any{
				"feature.a":    "a\xffb",
				"feature.run":  "\xff\xfe\xfd",
				"feature.tail": strings.Repeat("a", 199) + "\xff",
				"feature.list": []string{"\xc3"},
			},
			want: map[string]any{
				"feature.a":    "a\uFFFDb",
				"feature.run":  "\uFFFD",
				"feature.tail": strings.Repeat("a", 199),
				"feature.list": []any{"\uFFFD"},
			},
		},
		{
			name: "invalid UTF-8 and over-long keys dropped",
			in: map[string]any{
				"feature.\xff":                        1,
				"feature." + strings.Repeat("k", 192): 2, // 200 bytes
				"feature." + strings.Repeat("k", 193): 3, // 201 bytes
				"feature.m": map[string]any{
					"\xffx":                  1,
					strings.Repeat("n", 200): 2,
					strings.Repeat("n", 201): 3,
				},
			},
			want: map[string]any{
				"feature." + strings.Repeat("k", 192): int64(2),
				"feature.m":                           map[string]any{strings.Repeat("n", 200): int64(2)},
			},
		},
		{
			name: "list cap counts only kept items",
			in: map[string]any{
				"feature.long":    seq(60),
				"feature.dropped": append([]any{math.NaN(), named{}, []any{1}, func() {}}, seq(55)...),
			},
			want: map[string]any{
				"feature.long":    int64s(50),
				"feature.dropped": int64s(50),
			},
		},
		{
			name: "depth: containers below depth 2 dropped, scalars kept",
			in: map[string]any{
				"feature.m": map[string]any{"deep": map[string]any{"x": 1}, "list": []any{1}, "ok": 1},
				"feature.l": []any{1, []any{2}, map[string]any{"x": 1}, "s"},
				"feature.s": []map[string]any{{"x": 1}},
				"feature.r": []any{map[string]string{"x": "y"}, []int{1}},
			},
			want: map[string]any{
				"feature.m": map[string]any{"ok": int64(1)},
				"feature.l": []any{int64(1), "s"},
				"feature.s": []any{},
				"feature.r": []any{},
			},
		},
		{
			name:   "depth 1 drops every container",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxDepth = 1 })),
			in:     map[string]any{"feature.m": map[string]any{}, "feature.l": []any{}, "feature.x": 1},
			want:   map[string]any{"feature.x": int64(1)},
		},
		{
			name:   "depth 3 keeps one more level",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxDepth = 3 })),
			in:     map[string]any{"feature.m": map[string]any{"l": []any{1, []any{2}}}},
			want:   map[string]any{"feature.m": map[string]any{"l": []any{int64(1)}}},
		},
		{
			name: "nested key cap keeps the first keys in sorted order",
			in:   map[string]any{"feature.m": numberedMap("k", 250)},
			want: map[string]any{"feature.m": normalised(numberedMap("k", 200))},
		},
		{
			name: "top-level key cap keeps the first keys in sorted order",
			in:   numberedMap("feature.k", 250),
			want: normalised(numberedMap("feature.k", 200)),
		},
		{
			name:   "key cap takes system keys first, in policy order",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxKeys = 2 })),
			in:     map[string]any{"$lib": "l", "feature.a": 1, "libraries.idun": "v", "os.family": "f"},
			want:   map[string]any{"libraries.idun": "v", "os.family": "f"},
		},
		{
			name:   "dropped values do not use up the key cap",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxKeys = 1 })),
			in:     map[string]any{"feature.a": math.NaN(), "feature.b": 2},
			want:   map[string]any{"feature.b": int64(2)},
		},
		{
			name:   "byte cap drops a large entry whole and keeps later small ones",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxBytes = 40 })),
			in:     map[string]any{"feature.a": 1, "feature.b": strings.Repeat("x", 100), "feature.c": 2},
			// {"feature.a":1,"feature.c":2} is 29 bytes.
			want: map[string]any{"feature.a": int64(1), "feature.c": int64(2)},
		},
		{
			name:   "byte cap counts the commas",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxBytes = 28 })),
			in:     map[string]any{"feature.a": 1, "feature.b": 2}, // {"feature.a":1,"feature.b":2} is 29
			want:   map[string]any{"feature.a": int64(1)},
		},
		{
			name:   "byte cap serves system keys first",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxBytes = 30 })),
			in:     map[string]any{"os.family": "Linux", "$lib": "go", "feature.a": 1},
			// Sorted order would have sent {"$lib":"go","feature.a":1} instead.
			want: map[string]any{"os.family": "Linux"},
		},
		{
			name:   "byte cap counts HTML escaping: exact fit kept",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxBytes = 34 })),
			in:     map[string]any{"feature.a": "<<<"}, // {"feature.a":"\u003c\u003c\u003c"}
			want:   map[string]any{"feature.a": "<<<"},
		},
		{
			name:   "byte cap counts HTML escaping: one byte short dropped",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxBytes = 33 })),
			in:     map[string]any{"feature.a": "<<<"},
			want:   map[string]any{},
		},
		{
			name: "exotic types dropped",
			in: map[string]any{
				"feature.struct":  named{"x"},
				"feature.ptr":     &n,
				"feature.func":    func() {},
				"feature.chan":    make(chan int),
				"feature.bytes":   []byte("raw"),
				"feature.raw":     json.RawMessage(`{"a":1}`),
				"feature.array":   [4]byte{1, 2, 3, 4},
				"feature.complex": complex(1, 2),
				"feature.uintptr": uintptr(1),
				"feature.intmap":  map[int]string{1: "a"},
				"feature.anymap":  map[any]any{"a": 1},
				"feature.err":     errors.New("boom"),
				"feature.time":    time.Unix(0, 0),
				"feature.kept":    1,
			},
			want: map[string]any{"feature.kept": int64(1)},
		},
		{
			name: "plain and named scalars normalised",
			in: map[string]any{
				"feature.int8":   int8(-8),
				"feature.uint":   uint(8),
				"feature.uint64": uint64(math.MaxUint64),
				"feature.f32":    float32(0.1),
				"feature.f64":    2.5,
				"feature.bool":   true,
				"feature.nil":    nil,
				"feature.name":   namedString("langgraph"),
				"feature.count":  namedInt(3),
				"feature.dur":    time.Second,
				"feature.ints":   []int{1, 2},
				"feature.arr":    [2]string{"a", "b"},
				"feature.smap":   map[string]string{"a": "b"},
				"feature.nmap":   map[namedString]namedInt{"a": 1},
			},
			want: map[string]any{
				"feature.int8":   int64(-8),
				"feature.uint":   uint64(8),
				"feature.uint64": uint64(math.MaxUint64),
				"feature.f32":    0.1,
				"feature.f64":    2.5,
				"feature.bool":   true,
				"feature.nil":    nil,
				"feature.name":   "langgraph",
				"feature.count":  int64(3),
				"feature.dur":    int64(time.Second),
				"feature.ints":   []any{int64(1), int64(2)},
				"feature.arr":    []any{"a", "b"},
				"feature.smap":   map[string]any{"a": "b"},
				"feature.nmap":   map[string]any{"a": int64(1)},
			},
		},
		{
			name: "NaN and infinities dropped everywhere",
			in: map[string]any{
				"feature.nan":  math.NaN(),
				"feature.inf":  math.Inf(1),
				"feature.ninf": float32(math.Inf(-1)),
				"feature.fnan": float32(math.NaN()),
				"feature.list": []float64{1, math.NaN(), math.Inf(-1)},
				"feature.map":  map[string]any{"nan": math.NaN(), "ok": 0.5},
			},
			want: map[string]any{
				"feature.list": []any{1.0},
				"feature.map":  map[string]any{"ok": 0.5},
			},
		},
		{
			name:   "empty namespace is ignored, not a wildcard",
			policy: &Policy{Namespaces: []string{""}},
			in:     map[string]any{"anything": 1},
			want:   map[string]any{},
		},
		{
			name:   "empty risky token drops everything",
			policy: ptr(withPolicy(func(p *Policy) { p.RiskyTokens = []string{""} })),
			in:     map[string]any{"feature.a": 1, "os.family": "Linux"},
			want:   map[string]any{},
		},
		{
			name:   "zero limits fall back to defaults",
			policy: &Policy{Namespaces: []string{"feature."}},
			in:     map[string]any{"feature.s": strings.Repeat("a", 300), "feature.l": seq(60)},
			want:   map[string]any{"feature.s": strings.Repeat("a", 200), "feature.l": int64s(50)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			if tt.policy != nil {
				got = tt.policy.Properties(tt.in)
			} else {
				got = Properties(tt.in)
			}
			if got == nil {
				t.Fatal("got nil map")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", encode(t, got), encode(t, tt.want))
			}
		})
	}
}

// pinnedRiskyWords is the documented list (README, "Never collected"): the
// design's words, their plurals and the glued spellings code uses.
var pinnedRiskyWords = []string{
	"path", "paths", "filepath", "filepaths", "filename", "filenames",
	"prompt", "prompts", "query", "queries", "text", "texts",
	"document", "documents", "content", "url", "urls", "uri", "uris",
	"email", "emails", "token", "tokens", "secret", "secrets",
	"key", "keys", "apikey", "apikeys", "password", "passwords", "passwd",
	"hostname", "hostnames", "username", "usernames", "ip", "ips",
}

func TestRiskyWordsPinned(t *testing.T) {
	if got := DefaultPolicy().RiskyTokens; !reflect.DeepEqual(got, pinnedRiskyWords) {
		t.Errorf("DefaultPolicy().RiskyTokens = %q\nwant the documented %q", got, pinnedRiskyWords)
	}
}

// TestPropertiesEachRiskyToken keeps every documented word honest: taking
// one out of DefaultPolicy fails its own subtests.
func TestPropertiesEachRiskyToken(t *testing.T) {
	for _, tok := range pinnedRiskyWords {
		title := strings.ToUpper(tok[:1]) + tok[1:]
		for _, key := range []string{tok, strings.ToUpper(tok), "x_" + tok + "_y", "my" + title, "x-" + tok} {
			t.Run(key, func(t *testing.T) {
				in := map[string]any{
					"feature." + key: 1,
					"feature.m":      map[string]any{key: 1, "ok": 2},
				}
				want := map[string]any{"feature.m": map[string]any{"ok": int64(2)}}
				if got := Properties(in); !reflect.DeepEqual(got, want) {
					t.Errorf("got %s, want %s", encode(t, got), encode(t, want))
				}
			})
		}
	}
}

func TestPropertiesByteCap(t *testing.T) {
	tests := []struct {
		name  string
		value string
		// each entry is `"feature.k000":"…"`; want is how many fit.
		want int
	}{
		// 14+1+202 = 217 bytes an entry, +1 comma: (16384-2+1)/218 = 75.
		{name: "large ASCII values", value: strings.Repeat("a", 200), want: 75},
		// each '<' is sent as \u003c: 14+1+1202 = 1217, (16383)/1218 = 13.
		{name: "HTML-escaped values", value: strings.Repeat("<", 200), want: 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{}
			for i := range 150 {
				in[fmt.Sprintf("feature.k%03d", i)] = tt.value
			}
			got := Properties(in)
			if b := encode(t, got); len(b) > 16384 {
				t.Fatalf("encoded %d bytes, cap 16384", len(b))
			}
			if len(got) != tt.want {
				t.Fatalf("kept %d entries, want %d", len(got), tt.want)
			}
			for i := range tt.want {
				if _, ok := got[fmt.Sprintf("feature.k%03d", i)]; !ok {
					t.Errorf("entry %d missing: the first entries in sorted order must be kept", i)
				}
			}
		})
	}
}

// TestPropertiesByteCapExact pins the 16 KiB cap to the byte: a map whose
// encoding is exactly 16384 bytes is sent whole; one byte more and its last
// entry is dropped.
func TestPropertiesByteCapExact(t *testing.T) {
	// Entries of 200-byte strings, then one whose length makes the total.
	build := func(total int) map[string]any {
		in := map[string]any{}
		for i := range 75 {
			in[fmt.Sprintf("feature.k%03d", i)] = strings.Repeat("a", 200)
		}
		// {"feature.k000":"a…a",…} is 2 + 75*217 + 74 = 16351 bytes; the
		// last entry adds ,"feature.z":"…", 15 bytes and its value.
		in["feature.z"] = strings.Repeat("b", total-16351-15)
		return in
	}
	for _, tc := range []struct {
		total int
		kept  bool
	}{{16384, true}, {16385, false}} {
		in := build(tc.total)
		if b, _ := json.Marshal(in); len(b) != tc.total {
			t.Fatalf("input encodes to %d bytes, want %d", len(b), tc.total)
		}
		got := Properties(in)
		if _, kept := got["feature.z"]; kept != tc.kept || len(got) != 75+btoi(tc.kept) {
			t.Errorf("%d bytes: last entry kept %v (%d entries), want %v", tc.total, kept, len(got), tc.kept)
		}
	}
}

// TestJSONSizeIsMarshals: the size counted for the byte cap is what
// json.Marshal writes, for the strings counted without it too.
func TestJSONSizeIsMarshals(t *testing.T) {
	for _, v := range []any{
		"", "1.0.0", "libraries.idun", "a b~", `a"b`, `a\b`, "<", ">", "&", "\x00", "\x1f", "\x7f",
		"é", "\u2028", "\xff", 0, -12, 2.5, true, nil, []any{"x", 1}, map[string]any{"k": "<"},
	} {
		b, err := json.Marshal(v)
		if n, ok := jsonSize(v); !ok || err != nil || n != len(b) {
			t.Errorf("jsonSize(%#v) = %d, %v; json.Marshal writes %d bytes (%v)", v, n, ok, len(b), err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestPropertiesByteCapWithNestedValues(t *testing.T) {
	big := map[string]any{}
	for i := range 100 {
		big[fmt.Sprintf("k%02d", i)] = strings.Repeat("é", 150)
	}
	in := map[string]any{"os.family": "Linux"}
	for i := range 40 {
		in[fmt.Sprintf("feature.a%02d", i)] = big
		in[fmt.Sprintf("feature.l%02d", i)] = []any{strings.Repeat("x", 300), strings.Repeat("y", 300)}
	}
	got := Properties(in)
	if b := encode(t, got); len(b) > 16384 {
		t.Fatalf("encoded %d bytes, cap 16384", len(b))
	}
	if got["os.family"] != "Linux" {
		t.Error("system key lost to the byte cap")
	}
	for k := range got {
		if strings.HasPrefix(k, "feature.a") {
			t.Errorf("%s kept, but a whole nested map is larger than the budget", k)
		}
	}
	if len(got) < 20 {
		t.Errorf("only %d entries kept: small entries after a dropped one must still fit", len(got))
	}
}

func TestPropertiesDeterministic(t *testing.T) {
	keys := make([]string, 0, 400)
	for i := range 400 {
		keys = append(keys, fmt.Sprintf("feature.k%03d", i))
	}
	keys = append(keys, "os.family", "$lib", "go.version")
	build := func(order []string) map[string]any {
		m := make(map[string]any, len(order))
		for _, k := range order {
			m[k] = map[string]any{"v": strings.Repeat(k, 20), "n": len(k)}
		}
		return m
	}
	want := encode(t, Properties(build(keys)))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		order := append([]string(nil), keys...)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if got := encode(t, Properties(build(order))); got != want {
			t.Fatal("output depends on insertion or iteration order")
		}
	}
}

func TestPropertiesDoesNotMutateInput(t *testing.T) {
	nested := map[string]any{"email": "a@b.c", "ok": []any{1, math.NaN(), strings.Repeat("é", 300)}}
	list := []any{"\xff", map[string]any{"x": 1}}
	in := map[string]any{
		"feature.m":   nested,
		"feature.l":   list,
		"feature.key": "v",
		"hostname":    "box",
		"feature.s":   strings.Repeat("a", 500),
	}
	before := fmt.Sprintf("%#v", in)
	out := Properties(in)
	if after := fmt.Sprintf("%#v", in); after != before {
		t.Fatalf("input changed:\nbefore %s\nafter  %s", before, after)
	}
	// The output must not share containers with the input either.
	out["feature.m"].(map[string]any)["added"] = 1
	out["feature.l"].([]any)[0] = "changed"
	if _, ok := nested["added"]; ok || list[0] != "\xff" {
		t.Fatal("output aliases the input")
	}
}

func TestPropertiesCycles(t *testing.T) {
	m := map[string]any{}
	m["feature.self"] = m
	l := []any{nil}
	l[0] = l
	m["feature.list"] = l
	want := map[string]any{"feature.self": map[string]any{}, "feature.list": []any{}}
	if got := Properties(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s", encode(t, got))
	}
}

func TestDefaultPolicyIsFresh(t *testing.T) {
	p := DefaultPolicy()
	p.Namespaces[0] = "x."
	p.RiskyTokens[0] = "nothing"
	if got := Properties(map[string]any{"feature.path": 1, "feature.a": 2}); len(got) != 1 {
		t.Fatalf("editing a DefaultPolicy copy changed the package default: %v", got)
	}
}

func TestCounterName(t *testing.T) {
	long := "feature." + strings.Repeat("a", 292)
	tests := []struct {
		name   string
		policy *Policy
		in     string
		want   string
		ok     bool
	}{
		{name: "two segments", in: "feature.x", want: "feature.x", ok: true},
		{name: "cli", in: "cli.version.count", want: "cli.version.count", ok: true},
		{name: "workflow", in: "workflow.langgraph.count", want: "workflow.langgraph.count", ok: true},
		{name: "allowed punctuation", in: "feature.a_b-c.d1", want: "feature.a_b-c.d1", ok: true},
		{name: "upper case lowered", in: "Feature.Agent.COUNT", want: "feature.agent.count", ok: true},
		{name: "IP address", in: "feature.10.0.0.1"},
		{name: "IP address mid-name", in: "cli.192.168.1.20.count"},
		{name: "version-like digits", in: "feature.1.2.count", want: "feature.1.2.count", ok: true},
		{name: "one digits-only segment", in: "feature.tutorial.3.count", want: "feature.tutorial.3.count", ok: true},
		{name: "stripe-like key", in: "feature.sk_live_4eC39HqLyjWDarjtT1zdp7dc.count"},
		{name: "github token", in: "cli.ghp_abcdefghijklmnop.count"},
		{name: "jwt", in: "feature.eyJhbGciOiJIUzI1NiJ9.count"},
		{name: "aws key id", in: "feature.AKIAIOSFODNN7EXAMPLE.count"},
		{name: "hex hash", in: "feature.deadbeef0123.count"},
		{name: "uuid", in: "feature.6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab.count"},
		{name: "a date and a number", in: "feature.build_20261125_1234.count", want: "feature.build_20261125_1234.count", ok: true},
		{name: "long with digits", in: "feature.build_k3j9x8m2p7q4w1z5.count"},
		{name: "long without digits", in: "workflow.deep_research_agent.count", want: "workflow.deep_research_agent.count", ok: true},
		{name: "short word of hex letters", in: "feature.cafe.count", want: "feature.cafe.count", ok: true},
		{name: "exactly 200 bytes", in: "feature." + strings.Repeat("a", 192), want: "feature." + strings.Repeat("a", 192), ok: true},
		{name: "201 bytes", in: "feature." + strings.Repeat("a", 193)},
		{name: "300 bytes", in: long},
		{name: "300 bytes upper case", in: strings.ToUpper(long)},
		{name: "empty", in: ""},
		{name: "one segment", in: "feature"},
		{name: "namespace only", in: "feature."},
		{name: "wrong namespace", in: "other.x"},
		{name: "namespace as suffix", in: "xfeature.x"},
		{name: "namespace not first", in: "x.feature.y"},
		{name: "system key is not a counter namespace", in: "os.family"},
		{name: "leading dot", in: ".feature.x"},
		{name: "empty segment", in: "feature..x"},
		{name: "trailing dot", in: "feature.x."},
		{name: "path-like", in: "feature./etc/passwd"},
		{name: "windows path", in: `feature.c:\users\me`},
		{name: "email", in: "feature.me@example.com"},
		{name: "URL", in: "feature.https://example.com"},
		{name: "space", in: "feature.my counter"},
		{name: "tab", in: "feature.a\tb"},
		{name: "newline", in: "feature.a\n"},
		{name: "invalid UTF-8", in: "feature.\xff"},
		{name: "non-ASCII letter", in: "feature.é"},
		{name: "Kelvin sign does not pass as k", in: "feature.\u212Aey"},
		{name: "risky word", in: "feature.api_key.count"},
		{name: "risky word in camelCase", in: "feature.apiKey.count"},
		{name: "risky word after capitals", in: "feature.APIKey.count"},
		{name: "risky token in upper case", in: "feature.EMAIL.sent"},
		{name: "risky word as substring", in: "feature.monkey", want: "feature.monkey", ok: true},
		{name: "risky token in a later segment", in: "cli.file.path.count"},
		{name: "context contains text", in: "workflow.context.count", want: "workflow.context.count", ok: true},
		{
			name:   "policy namespaces",
			policy: ptr(withPolicy(func(p *Policy) { p.Namespaces = []string{"agent."} })),
			in:     "agent.run", want: "agent.run", ok: true,
		},
		{
			name:   "policy string cap",
			policy: ptr(withPolicy(func(p *Policy) { p.MaxString = 10 })),
			in:     "feature.abc",
		},
		{
			name:   "policy risky tokens",
			policy: ptr(withPolicy(func(p *Policy) { p.RiskyTokens = []string{"RUN"} })),
			in:     "feature.run",
		},
		{
			name:   "policy token that is not one word",
			policy: ptr(withPolicy(func(p *Policy) { p.RiskyTokens = []string{"my_run"} })),
			in:     "feature.my_run_x",
		},
		{
			name:   "empty risky token drops every name",
			policy: ptr(withPolicy(func(p *Policy) { p.RiskyTokens = []string{""} })),
			in:     "feature.x",
		},
		{
			name:   "one segment is not enough even for an empty namespace",
			policy: &Policy{Namespaces: []string{""}},
			in:     "feature",
		},
		{
			name:   "zero policy allows nothing",
			policy: &Policy{},
			in:     "feature.x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var ok bool
			if tt.policy != nil {
				got, ok = tt.policy.CounterName(tt.in)
			} else {
				got, ok = CounterName(tt.in)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("CounterName(%q) = (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCounterNameEachRiskyToken(t *testing.T) {
	for _, tok := range DefaultPolicy().RiskyTokens {
		for _, name := range []string{"feature." + tok, "cli.x_" + strings.ToUpper(tok) + ".count"} {
			if got, ok := CounterName(name); ok {
				t.Errorf("CounterName(%q) = (%q, true), want rejected", name, got)
			}
		}
	}
}

func TestCounterNameNoAllocs(t *testing.T) {
	if allocs := testing.AllocsPerRun(100, func() { CounterName("workflow.langgraph.count") }); allocs != 0 {
		t.Errorf("%v allocations for an already normal name, want 0", allocs)
	}
}

func TestCutNeverSplitsARune(t *testing.T) {
	s := "aé€😀"
	for n := 0; n <= len(s)+1; n++ {
		got := cut(s, n)
		if len(got) > n || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
			t.Errorf("cut(%q, %d) = %q", s, n, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func seq(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func int64s(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

func numberedMap(prefix string, n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("%s%03d", prefix, i)] = i
	}
	return m
}

// normalised is numberedMap as Properties returns it.
func normalised(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = int64(v.(int))
	}
	return out
}
