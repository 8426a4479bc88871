package instrument

// AgentFramework names the agent framework or built-in agent a workflow runs
// on. It becomes the middle key segment of workflow.<framework>.count, lowered.
//
// Values other than the constants are accepted when they are valid key
// segments (see the package documentation), so a new framework can be
// counted before this package knows it.
type AgentFramework string

// The frameworks and built-in agents the Idun engine runs. The names are
// upper case, with underscores, to match the engine's own AgentFramework
// enum, so the same spelling works across the engine and this package.
//
//nolint:revive,staticcheck // Names mirror the engine's enum on purpose.
const (
	// LANGGRAPH is a LangGraph agent: workflow.langgraph.count.
	LANGGRAPH AgentFramework = "LANGGRAPH"
	// ADK is a Google Agent Development Kit agent: workflow.adk.count.
	ADK AgentFramework = "ADK"
	// CREWAI is a CrewAI agent: workflow.crewai.count.
	CREWAI AgentFramework = "CREWAI"
	// HAYSTACK is a Haystack pipeline: workflow.haystack.count.
	HAYSTACK AgentFramework = "HAYSTACK"
	// CUSTOM is an agent on no known framework: workflow.custom.count.
	CUSTOM AgentFramework = "CUSTOM"
	// TRANSLATION_AGENT is the built-in translation agent:
	// workflow.translation_agent.count.
	TRANSLATION_AGENT AgentFramework = "TRANSLATION_AGENT"
	// CORRECTION_AGENT is the built-in correction agent:
	// workflow.correction_agent.count.
	CORRECTION_AGENT AgentFramework = "CORRECTION_AGENT"
	// DEEP_RESEARCH_AGENT is the built-in deep research agent:
	// workflow.deep_research_agent.count.
	DEEP_RESEARCH_AGENT AgentFramework = "DEEP_RESEARCH_AGENT"
)
