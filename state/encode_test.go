package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameAsYAML fails unless marshal(st) is byte for byte yaml.Marshal(st).
func sameAsYAML(t *testing.T, st *State) {
	t.Helper()
	want, werr := yaml.Marshal(st)
	got, gerr := marshal(st)
	if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("marshal differs from yaml.Marshal (errors %v / %v):\n%s\n--- want\n%s", gerr, werr, got, want)
	}
}

func TestMarshalIsYAMLMarshal(t *testing.T) {
	rich, err := parse("rich", []byte(richFile))
	if err != nil {
		t.Fatal(err)
	}
	tricky := []string{
		"cli.version.count", "feature.f1.count", "feature.f01.count", "feature.f001.count", "feature.f10.count",
		"feature.f9.count", "feature.f0.count", "feature.f00.count", "feature.fa.count", "feature.f.count",
		"feature.1.count", "feature.01.count", "feature.a1b.count", "feature.a1.count", "feature.a-1.count",
		"feature.a_1.count", "feature.a1_.count", "workflow.langgraph.count", "feature.tutorial.intro.count",
		"feature.x2y10.count", "feature.x2y9.count", "feature.x02y9.count", "feature.99999999999999999999.count",
		"a.b", "a.b.", "a..b", "z.0", "y.y", "true.false", "null.x", "on.off",
	}
	states := []*State{{}, {Counters: map[string]int64{}}, rich}
	for i, k := range tricky {
		states = append(states, &State{UserID: rich.UserID, Counters: map[string]int64{k: int64(i * 1000003)}})
	}
	all := map[string]int64{}
	for i, k := range tricky {
		all[k] = int64(i) - 3
	}
	if _, ok := plainCounterKeys(all); !ok {
		t.Fatal("the tricky names do not take the fast path")
	}
	states = append(states, &State{Counters: all})
	withAll := *rich
	withAll.Counters = all
	states = append(states, &withAll)
	// Names that are not plain heartbeat keys go to yaml.Marshal.
	for _, k := range []string{"Feature.x", "feature", "yes", "1.5", "-a.b", "a b.c", "a:b.c", "é.a", strings.Repeat("a.", 60)} {
		states = append(states, &State{Counters: map[string]int64{k: 1, "cli.run.count": 2}})
	}
	for i, st := range states {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAsYAML(t, st) })
	}
}

// FuzzMarshal: for counters named from a small alphabet rich in digits,
// where yaml.v3's natural order is most intricate, marshal is yaml.Marshal.
func FuzzMarshal(f *testing.F) {
	f.Add(uint64(1), 5)
	f.Add(uint64(42), 100)
	f.Add(uint64(7), 1000)
	f.Fuzz(func(t *testing.T, seed uint64, n int) {
		if n < 0 || n > 2000 {
			return
		}
		r := rand.New(rand.NewPCG(seed, seed>>7))
		const alphabet = "ab0019._-"
		counters := make(map[string]int64, n)
		for range n {
			var b strings.Builder
			b.WriteString([]string{"feature.", "cli.", "workflow.", "f", "feature.tutorial."}[r.IntN(5)])
			for range 1 + r.IntN(8) {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
			counters[b.String()] = r.Int64N(1 << 40)
		}
		if seed%5 != 0 { // mostly names the fast path takes
			for k, v := range counters {
				if !plainKey(k) {
					delete(counters, k)
					counters["f."+k[1:]] = v
				}
			}
		}
		sameAsYAML(t, &State{UserID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", Counters: counters, Extra: map[string]any{"zz": 1}})
	})
}
