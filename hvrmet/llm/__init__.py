"""The OpenAI-compatible brain: an adapter from any chat endpoint with function calling
(OpenAI, vLLM, Ollama, llama.cpp server) to the graph's brain protocol
(:mod:`hvrmet.agents.brain`). It registers itself as the ``openai`` brain through the
``hvrmet.brains`` entry-point group; this package imports the graph layer, never the
reverse."""

from __future__ import annotations

__all__: list[str] = []
