"""The brains behind the H-V-R graph: the offline expert policy (default) and any
OpenAI-compatible chat endpoint. Both implement :class:`hvrmet.llm.base.Brain`."""

from __future__ import annotations

__all__ = ["get_brain", "BRAINS"]

BRAINS = ("offline", "openai")


def get_brain(cfg):
    """The brain a configuration names; an unknown name lists the known ones."""
    if cfg.brain == "offline":
        from hvrmet.llm.expert import ExpertPolicy
        return ExpertPolicy()
    if cfg.brain == "openai":
        from hvrmet.llm.openai_brain import OpenAIBrain
        return OpenAIBrain(cfg)
    raise ValueError(f"unknown brain {cfg.brain!r}; known brains: {', '.join(BRAINS)}")
