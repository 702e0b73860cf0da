"""The weights of the offline expert policy, as data (``weights.yaml`` in the knowledge
folder): log-odds per meaning, the factor for data outside the time window, status
thresholds, and the aspect of each tool."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hvrmet._resources import load_yaml
from hvrmet.errors import HvrmetError

__all__ = ["Weights", "load_weights"]


class MeaningWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supports: float = Field(gt=0)
    weakly_supports: float = Field(gt=0)
    refutes: float = Field(lt=0)


class Weights(BaseModel):
    """The weights and thresholds the expert policy reads."""

    model_config = ConfigDict(extra="forbid")

    meanings: MeaningWeights
    unmet_support: float = Field(le=0)
    competing_supported: float = Field(lt=0)
    outside_time_window: float = Field(gt=0, le=1, description="factor on the weight of a number whose data lie "
                                       "outside the time window around the case's time (hvrmet.tools.window)")
    wider_window: float = Field(gt=0, le=1, description="factor on the weight of a number from a replanning check "
                                "that searched wider than the storm-scale window of its kind of data")
    supported_at: float = Field(gt=0.5, lt=1)
    min_pieces: float = Field(ge=1)
    min_aspects: int = Field(ge=1)
    refuted_below: float = Field(gt=0, le=1)
    aspects: dict[str, str]
    tool_aspects: dict[str, str] = Field(default_factory=dict)
    independent_aspects: list[str]

    @model_validator(mode="after")
    def _consistent(self) -> "Weights":
        if self.meanings.weakly_supports >= self.meanings.supports:
            raise ValueError("weakly_supports must weigh less than supports")
        known = set(self.aspects.values()) | set(self.tool_aspects.values())
        unknown = sorted(set(self.independent_aspects) - known)
        if unknown:
            raise ValueError(f"independent_aspects names aspects no tool has: {', '.join(unknown)}")
        return self

    def weight(self, meaning: str, own: float | None = None) -> float:
        """The log-odds weight of a met condition (its own weight when it gives one)."""
        return float(own) if own is not None else float(getattr(self.meanings, meaning))

    def aspect(self, tool: str, category: str) -> str:
        """The aspect of a tool's evidence (``environment``, ``storm_scale_radar`` ...)."""
        return self.tool_aspects.get(tool) or self.aspects.get(category, category)


def load_weights(root: Path) -> Weights:
    """``weights.yaml`` of a knowledge folder."""
    path = Path(root) / "weights.yaml"
    try:
        data = load_yaml(path.read_text())
        return Weights.model_validate(data)
    except OSError as exc:
        raise HvrmetError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise HvrmetError(f"{path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise HvrmetError(f"{path}: {problems}") from None
