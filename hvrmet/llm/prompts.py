"""Prompts of the OpenAI-compatible brain. The offline expert policy needs none."""

SYSTEM = """You are a senior severe-weather forecaster diagnosing a real case step by step with \
tools that compute diagnostics from the case's data. You never invent numbers: every claim rests \
on tool results. Use only hazard labels from this vocabulary:
{vocabulary}
Answer in the exact JSON form requested, with no other text."""

PROPOSE = """Case data roles: {roles}. Reference time {time} UTC, location {location}.
Signals found while screening (tool results):
{signals}
Relevant knowledge cards:
{cards}
Propose 2 to 6 hypotheses (hazards or the null hypothesis 'no_severe_hazard'), ranked, each with a \
prior probability and a one-sentence statement. Return JSON: {{"proposals": [{{"hazard": str, \
"statement": str, "prior": float, "rationale": str}}]}}"""

PLAN = """Hypothesis {hid}: {hazard} ({statement}). Case roles: {roles}. Call the tools (one or \
more function calls) whose results would best confirm or refute it. The case argument is {case!r}."""

REPLAN = """Hypotheses so far:
{hypotheses}
Evidence (tool results with the card conditions they meet or not):
{evidence}
Budget left: {budget}.
Update each hypothesis: posterior probability and status (supported, refuted, inconclusive, or \
proposed if more checks are needed). Plan new checks only for hypotheses still 'proposed' (tool \
names from: {tools}). Return JSON: {{"assessments": [{{"hypothesis_id": str, "posterior": float, \
"status": str, "rationale": str}}], "new_checks": [{{"hypothesis_id": str, "tool": str, "args": {{}}}}], \
"stop": bool, "reason": str}}"""

SUMMARY = """Write the final diagnosis in 2-4 sentences for a forecaster, citing evidence ids in \
brackets. Hypotheses: {hypotheses}"""

CHAT = """You are assisting a forecaster with case {case} (data roles: {roles}; {time} UTC, {location}). Current hypotheses: {hypotheses}. Answer the forecaster's question. Call the tools for any number you need (the case argument is {case!r}); never state a number no tool returned. Cite evidence ids in brackets."""

# Retries: what the model is told when its reply could not be used ({reason} is one line).
RETRY_JSON = "That was not valid: {reason}. Answer again with JSON only."

RETRY_TOOLS = """Those tool calls could not be used: {reason}. Call the tools again (names from the \
tools given); each call's arguments must be a JSON object matching the tool's parameters."""

RETRY_TEXT = "That reply could not be used: {reason}. Answer again."
