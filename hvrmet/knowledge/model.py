"""Knowledge cards: the typed form of the expert knowledge under ``hvrmet/knowledge/data/``.

Three libraries, as in the seed system:

* **guideline** cards: a conceptual model or diagnostic procedure for a hazard: what it
  needs, which signals point to it, and the order of checks (registered tool names);
* **index** cards: one diagnostic quantity, its meaning, thresholds and units, and the
  study they come from;
* **figure** cards: what a figure kind shows and how an expert reads it.

A card's **conditions** are machine-testable: a registered tool, one of its output fields,
a comparator, a threshold with units, and what meeting it means for a hazard hypothesis
(``supports``, ``weakly_supports`` or ``refutes``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Reference", "Condition", "Card", "Hazard", "LIBRARIES", "MEANINGS", "COMPARATORS"]

LIBRARIES = ("guideline", "index", "figure")
MEANINGS = ("supports", "weakly_supports", "refutes")
COMPARATORS = (">", ">=", "<", "<=", "==", "!=")


class Reference(BaseModel):
    """A published study or operational guidance a card's facts come from."""

    model_config = ConfigDict(extra="forbid")

    author: str = Field(min_length=3)
    year: int = Field(ge=1900, le=2030)
    title: str = Field(min_length=5)
    venue: str = Field(min_length=3, description="journal with volume and pages, or the issuing office")


class Condition(BaseModel):
    """A testable statement: ``tool.field  op  value [units]`` means ``meaning`` for ``hazard``."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    field: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float | bool | str
    units: str = Field("", description="units of value (pint syntax); '' for flags and text")
    meaning: Literal["supports", "weakly_supports", "refutes"]
    hazard: str = Field(description="the hazard label the condition bears on")
    args: dict = Field(default_factory=dict, description="extra tool arguments (e.g. a level)")
    weight: float | None = Field(None, description="log-odds weight when met; the meaning's weight in "
                                                   "weights.yaml when unset")
    note: str = ""

    def describe(self) -> str:
        """The condition in words."""
        units = f" {self.units}" if self.units else ""
        return f"{self.tool}.{self.field} {self.op} {self.value}{units} -> {self.meaning} {self.hazard}"


class Card(BaseModel):
    """One knowledge card."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    library: Literal["guideline", "index", "figure"]
    title: str = Field(min_length=4)
    hazards: list[str] = Field(min_length=1)
    statement: str = Field(min_length=40, description="the knowledge, in our own words")
    references: list[Reference] = Field(min_length=1)
    conditions: list[Condition] = Field(default_factory=list)
    quantity: str | None = Field(None, description="index cards: the quantity name (vocabulary)")
    units: str | None = Field(None, description="index cards: the quantity's units")
    signals: list[str] = Field(default_factory=list, description="guideline cards: signals that point to the hazard")
    checks: list[str] = Field(default_factory=list, description="guideline cards: tools to run, in order")
    figure_kind: str | None = Field(None, description="figure cards: the figure kind it explains")
    keywords: list[str] = Field(default_factory=list)
    source_path: str | None = Field(None, exclude=True)

    @field_validator("statement")
    @classmethod
    def _strip(cls, v: str) -> str:
        return " ".join(v.split())

    def text(self) -> str:
        """The searchable text of the card."""
        parts = [self.title, self.statement, " ".join(self.hazards).replace("_", " "),
                 " ".join(self.keywords), " ".join(self.signals).replace("_", " ")]
        if self.quantity:
            parts.append(self.quantity.replace("_", " "))
        if self.figure_kind:
            parts.append(self.figure_kind.replace("_", " "))
        return "\n".join(p for p in parts if p)


class Hazard(BaseModel):
    """A label of the hazard vocabulary used by hypotheses, reports and the benchmark."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    family: str
    kind: Literal["hazard", "mechanism", "null"]
    description: str
    synonyms: list[str] = Field(default_factory=list)
    convective: bool = False
    parent: str | None = Field(None, description="the more general hazard this one specialises (its conditions "
                                                 "reach this one: a supercell's hail is hail)")
    necessary: bool = Field(False, description="a mechanism without which its family's hazards do not occur (a "
                                               "tornadic supercell needs a mesocyclone): conditions refuting it "
                                               "refute them too; the refutation of any other mechanism stays its own")
