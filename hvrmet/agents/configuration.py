"""Run configuration of a diagnosis: the brain, its endpoint, and the budgets.

One path builds a configuration everywhere (:meth:`Configuration.resolve`): the defaults,
then the environment (``HVRMET_<FIELD>``, and ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``),
then a configuration file (TOML, the field names as keys, ``[hvrmet]`` table or top
level), then the flags or arguments given in code. A LangGraph run config
(``config["configurable"]``) is read the same way by the graph's nodes
(:meth:`Configuration.from_runnable_config`).

The API key never enters the run config, the graph state or a checkpoint: it is kept in
this process (:meth:`Configuration.configurable` puts only an opaque reference,
``credentials``, into ``configurable``), and ``api_key`` is excluded from every dump.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

__all__ = ["Configuration", "SECRET_KEYS"]

#: ``configurable`` keys that never reach a checkpoint, a trace or a log.
SECRET_KEYS = frozenset({"api_key", "credentials"})

# Process-local: opaque reference -> key. A reference is useless outside this process.
_VAULT: dict[str, SecretStr] = {}


def _vault_put(key: SecretStr) -> str:
    for ref, known in _VAULT.items():
        if known.get_secret_value() == key.get_secret_value():
            return ref
    ref = "cred-" + secrets.token_hex(8)
    _VAULT[ref] = key
    return ref


class Configuration(BaseModel):
    """What a diagnosis run is allowed to use."""

    brain: str = Field("offline", description="the brain: 'offline' (the expert policy), 'openai' (an "
                                              "OpenAI-compatible endpoint) or a plugged-in brain")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    model: str = Field("gpt-4o-mini", description="model name at the endpoint")
    api_key: SecretStr | None = Field(None, exclude=True, repr=False,
                                      description="API key (OPENAI_API_KEY if unset); kept in this process only")
    llm_timeout_s: float = Field(60.0, gt=0, description="timeout of one LLM request, seconds")
    llm_retries: int = Field(2, ge=0, le=10, description="retries of one brain step (malformed replies, 429/5xx, timeouts)")
    max_loops: int = Field(4, ge=1, le=20, description="budget: hypothesis-verification-replanning loops")
    max_tool_calls: int = Field(80, ge=1, le=1000, description="budget: tool calls in a run")
    max_seconds: float = Field(600.0, gt=0, description="budget: wall-clock seconds of a run")
    out_dir: str = Field("out", description="folder for the runs database, reports and figures")
    figures: bool = Field(True, description="draw figures for the report")
    review: bool = Field(False, description="pause before the report for the forecaster's sign-off (the chat sets it)")

    @field_validator("brain")
    @classmethod
    def _known_brain(cls, v: str) -> str:
        from hvrmet.agents.brain import available_brains

        known = available_brains()
        if v not in known:
            raise ValueError(f"unknown brain {v!r}; known brains: {', '.join(known)}")
        return v

    # -- building -------------------------------------------------------------------------
    @classmethod
    def _from_env(cls) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            env = os.environ.get(f"HVRMET_{name.upper()}")
            if env is not None:
                values[name] = env
        if values.get("api_key") is None and os.environ.get("OPENAI_API_KEY"):
            values["api_key"] = os.environ["OPENAI_API_KEY"]
        if values.get("base_url") is None and os.environ.get("OPENAI_BASE_URL"):
            values["base_url"] = os.environ["OPENAI_BASE_URL"]
        return values

    @classmethod
    def _from_file(cls, path: str | os.PathLike) -> dict[str, Any]:
        from hvrmet.errors import HvrmetError

        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except OSError as exc:
            raise HvrmetError(f"configuration file {p}: cannot be read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise HvrmetError(f"configuration file {p}: not valid TOML ({exc})") from None
        data = data.get("hvrmet", data)
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            raise HvrmetError(f"configuration file {p}: unknown settings {', '.join(unknown)}; "
                              f"known: {', '.join(cls.model_fields)}")
        return data

    @classmethod
    def resolve(cls, file: str | os.PathLike | None = None, **flags: Any) -> "Configuration":
        """Defaults, then the environment, then ``file`` (TOML), then ``flags`` (``None``
        values are not given and do not override)."""
        values = cls._from_env()
        if file is None and os.environ.get("HVRMET_CONFIG"):
            file = os.environ["HVRMET_CONFIG"]
        if file is not None:
            values.update(cls._from_file(file))
        values.update({k: v for k, v in flags.items() if v is not None})
        return cls.model_validate(values)

    @classmethod
    def from_runnable_config(cls, config: dict[str, Any] | None = None) -> "Configuration":
        """The configuration a graph node runs under: the environment merged with a
        LangGraph run config (``configurable`` wins); ``credentials`` is resolved to the
        key this process holds."""
        configurable = dict((config or {}).get("configurable", {}) or {})
        ref = configurable.pop("credentials", None)
        flags = {k: v for k, v in configurable.items() if k in cls.model_fields}
        if ref is not None and ref in _VAULT:
            flags["api_key"] = _VAULT[ref]
        return cls.resolve(**flags)

    # -- handing over -----------------------------------------------------------------------
    def configurable(self) -> dict[str, Any]:
        """The ``configurable`` of a LangGraph run config: every setting but the key, and an
        opaque ``credentials`` reference to it when there is one."""
        out = self.model_dump()
        if self.api_key is not None:
            out["credentials"] = _vault_put(self.api_key)
        return out

    def key(self) -> str | None:
        """The API key (for the brain that talks to the endpoint; never logged)."""
        return self.api_key.get_secret_value() if self.api_key is not None else None
