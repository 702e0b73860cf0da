"""Run configuration of a diagnosis: the brain, its endpoint, and the budgets."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["Configuration"]


class Configuration(BaseModel):
    """What a diagnosis run is allowed to use.

    Every field can come from the environment (``HVRMET_<FIELD>`` in upper case), from the
    LangGraph run config (``config["configurable"]``), or from code.
    """

    brain: Literal["offline", "openai"] = Field("offline", description="the expert policy or an OpenAI-compatible endpoint")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    model: str = Field("gpt-4o-mini", description="model name at the endpoint")
    api_key: str | None = Field(None, description="API key (OPENAI_API_KEY if unset)")
    llm_timeout_s: float = Field(60.0, gt=0, description="timeout of one LLM request, seconds")
    llm_retries: int = Field(2, ge=0, le=10, description="retries on malformed output")
    max_loops: int = Field(4, ge=1, le=20, description="budget: hypothesis-verification-replanning loops")
    max_tool_calls: int = Field(80, ge=1, le=1000, description="budget: tool calls in a run")
    max_seconds: float = Field(600.0, gt=0, description="budget: wall-clock seconds of a run")
    out_dir: str = Field("out", description="folder for figures and reports")
    figures: bool = Field(True, description="draw figures for the report")
    review: bool = Field(False, description="pause before the report for the forecaster's sign-off (the chat sets it)")

    @classmethod
    def from_runnable_config(cls, config: dict[str, Any] | None = None) -> "Configuration":
        """Merge the environment and a LangGraph run config (``configurable`` wins)."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            env = os.environ.get(f"HVRMET_{name.upper()}")
            if env is not None:
                values[name] = env
        if values.get("api_key") is None and os.environ.get("OPENAI_API_KEY"):
            values["api_key"] = os.environ["OPENAI_API_KEY"]
        if values.get("base_url") is None and os.environ.get("OPENAI_BASE_URL"):
            values["base_url"] = os.environ["OPENAI_BASE_URL"]
        configurable = (config or {}).get("configurable", {}) or {}
        values.update({k: v for k, v in configurable.items() if k in cls.model_fields and v is not None})
        return cls.model_validate(values)
