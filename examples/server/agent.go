package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/Idun-Group/idun-telemetry-go/instrument"
)

// frameworks are the values --framework accepts.
var frameworks = []instrument.AgentFramework{
	instrument.LANGGRAPH,
	instrument.ADK,
	instrument.CREWAI,
	instrument.HAYSTACK,
	instrument.CUSTOM,
	instrument.TRANSLATION_AGENT,
	instrument.CORRECTION_AGENT,
	instrument.DEEP_RESEARCH_AGENT,
}

func frameworkList() string {
	names := make([]string, len(frameworks))
	for i, f := range frameworks {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// frameworkFlag is a flag.Value that accepts only the known frameworks, so a
// typo is a usage error rather than a new, misspelt counter.
type frameworkFlag instrument.AgentFramework

func (f *frameworkFlag) String() string { return string(*f) }

func (f *frameworkFlag) Set(s string) error {
	for _, known := range frameworks {
		if strings.EqualFold(s, string(known)) {
			*f = frameworkFlag(known)
			return nil
		}
	}
	return fmt.Errorf("unknown framework (want one of %s)", frameworkList())
}

// agent stands in for an agent built on a framework.
type agent struct {
	framework instrument.AgentFramework
}

// newAgent is where a real engine loads its graph, model clients and tools;
// it can fail, and then no workflow is counted.
func newAgent(f instrument.AgentFramework) (*agent, error) {
	return &agent{framework: f}, nil
}

// invoke answers with the input's length: the toy never repeats, stores or
// logs what it was sent.
func (a *agent) invoke(ctx context.Context, input string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s agent read %d characters", a.framework, utf8.RuneCountInString(input)), nil
}

// maxRequestBody bounds what /invoke reads.
const maxRequestBody = 1 << 20

func routes(a *agent) http.Handler {
	mux := http.NewServeMux()
	// Method patterns make ServeMux answer other methods with 405 and an
	// Allow header.
	mux.HandleFunc("POST /invoke", a.handleInvoke)
	mux.HandleFunc("GET /healthz", handleHealthz)
	return mux
}

// handleInvoke runs the agent on {"input": "..."} and answers
// {"output": "..."}.
func (a *agent) handleInvoke(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input string `json:"input"`
	}
	body := http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		// The decoder's message may quote the body; the client gets a
		// generic one.
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want a JSON object like {"input": "..."}`})
		return
	}
	out, err := a.invoke(r.Context(), req.Input)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "the agent failed"})
		return
	}
	// Counted once the feature did its job.
	instrument.FeatureUsed(r.Context(), "invoke")
	writeJSON(w, http.StatusOK, map[string]string{"output": out})
}

func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
