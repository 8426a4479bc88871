package sanitize

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// value returns the safe form of v found at depth, or false to drop it.
// The output holds only nil, bool, int64, uint64, float64, string, []any
// and map[string]any, so encoders see nothing with methods of its own.
func (g *gate) value(v any, depth int) (any, bool) {
	// The common container types skip reflect, which would copy every
	// element to inspect it.
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return g.text(x), true
	case []any:
		return g.list(len(x), func(i int) any { return x[i] }, depth)
	case []string:
		return g.list(len(x), func(i int) any { return x[i] }, depth)
	case map[string]any:
		return g.object(x, depth)
	}
	return g.reflected(reflect.ValueOf(v), depth)
}

// reflected goes by kind so that named types (type Framework string,
// time.Duration) are kept as their plain values; every other kind is
// dropped because it could carry anything.
func (g *gate) reflected(rv reflect.Value, depth int) (any, bool) {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint(), true
	case reflect.Float32:
		return float32Value(rv.Float())
	case reflect.Float64:
		return finite(rv.Float())
	case reflect.String:
		return g.text(rv.String()), true
	case reflect.Slice, reflect.Array:
		return g.reflectedList(rv, depth)
	case reflect.Map:
		return g.reflectedMap(rv, depth)
	}
	return nil, false
}

// finite drops NaN and infinities, which JSON cannot carry.
func finite(f float64) (any, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

// float32Value goes through the shortest decimal of the float32 so that
// 0.1 is sent as 0.1 and not as 0.10000000149011612.
func float32Value(f float64) (any, bool) {
	if _, ok := finite(f); !ok {
		return nil, false
	}
	g, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
	if err != nil {
		return nil, false
	}
	return g, true
}

// text repairs before cutting so that a cut can never split a replacement
// character, and the size counted later is the size sent.
func (g *gate) text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return cut(s, g.MaxString)
}

// cut shortens valid UTF-8 to at most n bytes without splitting a rune.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (g *gate) reflectedList(rv reflect.Value, depth int) (any, bool) {
	// Bytes are opaque blobs (file contents, keys, raw JSON): never a list
	// of small numbers worth reporting.
	if rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil, false
	}
	return g.list(rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth)
}

// list keeps the first MaxList items that survive; dropped items do not use
// up the cap.
func (g *gate) list(n int, at func(int) any, depth int) (any, bool) {
	if depth > g.MaxDepth {
		return nil, false
	}
	out := make([]any, 0, min(n, g.MaxList))
	for i := 0; i < n && len(out) < g.MaxList; i++ {
		if v, ok := g.value(at(i), depth+1); ok {
			out = append(out, v)
		}
	}
	return out, true
}

// field is one map entry waiting to be sorted.
type field struct {
	key string
	val any
}

func (g *gate) object(m map[string]any, depth int) (any, bool) {
	if depth > g.MaxDepth {
		return nil, false
	}
	fields := make([]field, 0, len(m))
	for k, v := range m {
		if g.keyOK(k) {
			fields = append(fields, field{k, v})
		}
	}
	return g.fields(fields, depth), true
}

// reflectedMap accepts maps with string-kinded keys only; any other key
// type has no faithful JSON form.
func (g *gate) reflectedMap(rv reflect.Value, depth int) (any, bool) {
	if depth > g.MaxDepth || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	fields := make([]field, 0, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		if k := it.Key().String(); g.keyOK(k) {
			fields = append(fields, field{k, it.Value().Interface()})
		}
	}
	return g.fields(fields, depth), true
}

// fields sorts before capping so that which keys survive MaxKeys does not
// depend on map iteration order.
func (g *gate) fields(fields []field, depth int) map[string]any {
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.key, b.key) })
	out := make(map[string]any, min(len(fields), g.MaxKeys))
	for _, f := range fields {
		if len(out) >= g.MaxKeys {
			break
		}
		if v, ok := g.value(f.val, depth+1); ok {
			out[f.key] = v
		}
	}
	return out
}
