"""Saving a figure: the PNG and a JSON sidecar (same stem) that says what it shows.

The sidecar lets code check a figure without looking at it::

    {"kind": "radar_ppi", "variables": ["reflectivity"], "level": "0.4 degree",
     "valid_time": "1999-05-03T23:56:30Z", "extent": [lon_min, lon_max, lat_min, lat_max],
     "units": "dBZ", "colour_scale": {"cmap": "NWSReflectivity", "vmin": 5, "vmax": 80},
     "source_files": [{"path": ..., "sha256": ...}], "title": ..., "case": ...,
     "marks": [{"kind": "rotation", "lat": 35.237, "lon": -97.68, "label": "ROT 21.8 m/s",
                "near": "7 km W of Newcastle", ...}],
     "places": [{"name": "Oklahoma City", "lat": 35.468, "lon": -97.516, "population": 681054, ...}]}

``marks`` lists the features marked on the figure (what the diagnosis found or what the
caller passed in), ``places`` the place names drawn.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FigureMeta", "SavedFigure", "save_figure", "figure_stem", "iso_time"]

DPI = 100
#: PNGs larger than this are re-saved with a 256-colour palette (speckled radar fields).
MAX_BYTES = 250_000


def _palette(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


@dataclass
class FigureMeta:
    """What a figure shows (written as its JSON sidecar)."""

    kind: str
    variables: list[str]
    valid_time: str
    units: str
    title: str
    case: str
    level: str | None = None
    extent: list[float] | None = None
    colour_scale: dict[str, Any] | None = None
    source_files: list[dict[str, str]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SavedFigure:
    """The files :func:`save_figure` wrote."""

    png: str
    sidecar: str
    kind: str


def iso_time(value: Any) -> str:
    """A time (numpy datetime64, ISO text, datetime) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value is None or (isinstance(value, str) and not value):
        return ""
    t = np.datetime64(str(value).replace("Z", "").replace("+00:00", ""), "s")
    return f"{t}Z"


def figure_stem(tool: str, case: str, **params: Any) -> str:
    """Deterministic file stem: tool, case and the parameters that change the picture."""
    parts = [tool, case]
    for k, v in params.items():
        if v is None or v is False:
            continue
        if isinstance(v, float):
            v = f"{v:g}"
        parts.append(f"{k}{'' if v is True else v}")
    stem = "_".join(str(p) for p in parts)
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", stem).strip("-")


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float):
        return round(obj, 4)
    return obj


def save_figure(fig, out_dir: str | Path, stem: str, meta: FigureMeta) -> SavedFigure:
    """Write ``stem.png`` (at :data:`DPI`) and ``stem.json`` into ``out_dir``.

    Figures are built as :class:`matplotlib.figure.Figure` without pyplot, so nothing
    needs closing and no GUI backend is touched."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, side = out / f"{stem}.png", out / f"{stem}.json"
    fig.savefig(png, dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    if png.stat().st_size > MAX_BYTES:
        _palette(png)
    record = asdict(meta)
    extra = record.pop("extra")
    record.update(extra)
    record["png"] = png.name
    side.write_text(json.dumps(_clean(record), indent=1) + "\n")
    return SavedFigure(png=str(png), sidecar=str(side), kind=meta.kind)
