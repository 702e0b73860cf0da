"""What a chat command answers: text, tables, figures and links, as data.

The terminal renders a :class:`Reply` with rich (markup off, so data strings print as
they are); the web page renders its JSON with ``textContent`` (never as HTML).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["Table", "Reply"]


class Table(BaseModel):
    """A titled table of strings."""

    title: str
    columns: list[str]
    rows: list[list[str]] = Field(default_factory=list)


class Reply(BaseModel):
    """The answer to one chat line."""

    text: str = ""
    tables: list[Table] = Field(default_factory=list)
    figures: list[str] = Field(default_factory=list, description="PNG paths")
    links: dict[str, str] = Field(default_factory=dict, description="label -> file path (reports)")
    error: bool = False
    refresh: bool = Field(False, description="the run changed: redraw the hypothesis and evidence tables")

    @classmethod
    def fail(cls, text: str) -> "Reply":
        return cls(text=text, error=True)
