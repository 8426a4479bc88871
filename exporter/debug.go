package exporter

import (
	"encoding/json"
	"strings"

	"github.com/Idun-Group/idun-telemetry-go/sanitize"
)

// ruleNotCounter is the rule counterSums names in debug mode for a metric
// in a telemetry namespace that is not an Int64Counter's monotonic sum (a
// Float64Counter, an UpDownCounter, or a view that changed its
// aggregation): only Int64Counters count. The other rules are
// sanitize.Explain's, in its form.
const ruleNotCounter = "not-an-int64-counter"

// namespaces are the prefixes a counter name must start with.
var namespaces = sanitize.DefaultPolicy().Namespaces

// inNamespace reports whether name starts with a telemetry namespace,
// ignoring case.
func inNamespace(name string) bool {
	for _, ns := range namespaces {
		if len(name) >= len(ns) && strings.EqualFold(name[:len(ns)], ns) {
			return true
		}
	}
	return false
}

// debugLine is what debug mode prints besides the events, one JSON object
// per line: {"telemetry":"decision",...} once, from New, and
// {"telemetry":"dropped",...} once per counter an export leaves out.
type debugLine struct {
	Telemetry string `json:"telemetry"`
	*Decision
	Counter string `json:"counter,omitempty"`
	Rule    string `json:"rule,omitempty"`
}

func (e *Exporter) printDebug(l debugLine) {
	if e.cfg.debug == nil {
		return
	}
	defer func() { _ = recover() }()
	b, err := json.Marshal(l)
	if err != nil {
		return
	}
	e.debugMu.Lock()
	defer e.debugMu.Unlock()
	_, _ = e.cfg.debug.Write(append(b, '\n'))
}

// printDecision is New's line in debug mode: whether telemetry is on, and
// why.
func (e *Exporter) printDecision() {
	e.decisionOnce.Do(func() {
		d := e.Decision()
		e.printDebug(debugLine{Telemetry: "decision", Decision: &d})
	})
}

// reportDrop prints, in debug mode, a counter an export leaves out and the
// rule that left it out, once per name. The caller holds exportMu.
func (e *Exporter) reportDrop(name, rule string) {
	if e.cfg.debug == nil || e.dropped[name] {
		return
	}
	if e.dropped == nil {
		e.dropped = map[string]bool{}
	}
	e.dropped[name] = true
	e.printDebug(debugLine{Telemetry: "dropped", Counter: redact(name), Rule: rule})
}

// redact shows a dropped name with every part written as "*" but those
// that read as a short name (at most three plain words joined by '_' or
// '-') and hold no local word: a name is often dropped for the data it
// carries (an address, a path, a host or user name), which the debug
// output must not carry either.
func redact(name string) string {
	parts := strings.Split(strings.ToLower(name), ".")
	for i, p := range parts {
		words := strings.FieldsFunc(p, func(r rune) bool { return r == '_' || r == '-' })
		if !plainWord(p) || len(words) > 3 || strings.Join(words, "_") != strings.NewReplacer("-", "_").Replace(p) || sanitize.HoldsLocalWord(p) {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ".")
}

func plainWord(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}
