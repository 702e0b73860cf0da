"""The registry seen by other frameworks: OpenAI function-calling schemas and LangChain tools."""

from __future__ import annotations

import copy
import json
from typing import Any

from hvrmet.tools.registry import Tool, call_tool, list_tools

__all__ = ["openai_schema", "openai_schemas", "langchain_tools"]


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].split("/")[-1]]))
            return {k: walk(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    return walk(schema)


def openai_schema(t: Tool) -> dict[str, Any]:
    """The ``{"type": "function", "function": {...}}`` schema of one tool."""
    params = _inline_refs(t.json_schema())
    params.pop("title", None)
    params.setdefault("type", "object")
    outputs = ", ".join(f"{k} [{u}]" if u else k for k, u in t.outputs.items())
    desc = f"{t.summary} Returns: {outputs}."
    return {"type": "function",
            "function": {"name": t.name, "description": desc[:1024], "parameters": params}}


def openai_schemas(category: str | None = None) -> list[dict[str, Any]]:
    """Schemas of every registered tool, for the ``tools=`` argument of a chat completion."""
    return [openai_schema(t) for t in list_tools(category)]


def langchain_tools(category: str | None = None) -> list:
    """The registry as LangChain ``StructuredTool`` objects (same input models, same calls).

    Each returns the tool result as a JSON string, errors included.
    """
    from langchain_core.tools import StructuredTool

    out = []
    for t in list_tools(category):
        def run(_name=t.name, **kwargs):
            return json.dumps(call_tool(_name, kwargs).model_dump(mode="json"))

        out.append(StructuredTool.from_function(func=run, name=t.name, description=t.summary,
                                                args_schema=t.input_model))
    return out
