"""The case model: one real event, its place and time, and its data files by role."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Case", "CaseFile", "Location", "Event", "ROLES", "CONTEXT_ONLY_ROLES", "NUMBERED_ROLES"]

#: The roles a case file can play. Tools ask for data by role.
ROLES = {
    "radar_volume": "a Level II or TDWR radar volume",
    "radar_volume_2": "a second Level II volume of the same event",
    "sounding": "an upper-air sounding (UWyo text)",
    "upper_air": "upper-air observations of many stations (CSV)",
    "analysis": "a gridded analysis (NetCDF or GRIB)",
    "climatology": "a gridded climatology to compute anomalies against",
    "composite_sequence": "a sequence of radar composites (pysteps importer)",
    "surface_obs": "surface station observations (CSV or METAR)",
    "fronts": "a WPC coded surface analysis",
    "wind_probability": "NHC tropical-cyclone wind-speed probabilities",
    "satellite": "a GINI satellite image",
    "level3_base_reflectivity": "Level III base reflectivity (radial)",
    "level3_velocity": "Level III base velocity (radial)",
    "level3_composite_reflectivity": "Level III composite reflectivity with the storm-attributes table",
    "level3_storm_tracks": "Level III storm tracking information (NST)",
    "level3_mesocyclone": "Level III mesocyclone detection (NMD)",
    "level3_vil": "Level III vertically integrated liquid",
    "level3_echo_tops": "Level III echo tops",
    "level3_correlation": "Level III correlation coefficient (dual-pol)",
    "level3_precip_1h": "Level III one-hour precipitation",
    "level3_hybrid_reflectivity": "Level III digital hybrid-scan reflectivity",
}
ROLES["spc_outlook"] = ("an SPC convective outlook: categorical risk and tornado/wind/hail probability "
                        "polygons (GeoJSON, shapefile or SPC's zip of shapefiles)")

#: Role families a case may hold several of: ``radar_volume``, ``radar_volume_2``, ...
#: (``hvrmet cases new`` numbers them in time order; SPC publishes one outlook layer a file).
NUMBERED_ROLES = {"radar_volume": 12, "spc_outlook": 8}
for _family, _most in NUMBERED_ROLES.items():
    for _n in range(2, _most + 1):
        ROLES.setdefault(f"{_family}_{_n}", f"{ROLES[_family]} (number {_n} of the case)")

#: Roles a case may carry as context for scoring only (under ``context:``, never under
#: ``files:``): the diagnosis never reads them, the brain is never told of them, and
#: :meth:`hvrmet.tools.context.ToolContext.load` refuses them. Local storm reports are what
#: happened on the ground: reading them would let the diagnosis see the answer.
CONTEXT_ONLY_ROLES = {
    "storm_reports": "local storm reports (SPC CSV: tornado, wind, hail), for scoring only",
}


def _level3_role(role: str) -> bool:
    """A ``level3_<product>`` role generated from MetPy's product table, or a Level III role
    numbered ``_<n>`` (a second product of a kind)."""
    if not role.startswith("level3_"):
        return False
    from hvrmet.data.readers.nexrad_level3 import is_level3_role

    return is_level3_role(role, [r for r in ROLES if r.startswith("level3_")])


class CaseFile(BaseModel):
    """A data file (or a sequence of files) of a case, with the role it plays."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="what the file is for in the case; one of ROLES")
    format: str = Field(description="reader name, see hvrmet.data.readers.get_reader")
    path: str | None = Field(None, description="path relative to the data folder")
    glob: str | None = Field(None, description="shell pattern of several files (sequences)")
    options: dict[str, Any] = Field(default_factory=dict, description="reader keyword options")

    @field_validator("role")
    @classmethod
    def _known_role(cls, v: str) -> str:
        if v not in ROLES and v not in CONTEXT_ONLY_ROLES and not _level3_role(v):
            raise ValueError(f"unknown role; known roles: {', '.join(sorted(ROLES))}; or level3_<product> for any "
                             "Level III product (hvrmet.data.readers.nexrad_level3.level3_roles)")  # value not quoted
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "CaseFile":
        if (self.path is None) == (self.glob is None):
            raise ValueError(f"file of role {self.role!r} needs exactly one of 'path' or 'glob'")
        return self


class Location(BaseModel):
    """Where the case is: a point (degrees), for radar cases the radar site id, and, when
    the place is a region (a country, a composite's whole domain), the radius of that area.

    ``radius_km`` widens every tool's search window to at least that radius (a tool whose
    kind of data has a wider default keeps its own): the area of interest is then the
    region, not the storm or the station nearest its centre.
    """

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, description="latitude, degree north")
    lon: float = Field(ge=-180, le=360, description="longitude, degree east")
    place: str = ""
    radar_site: str | None = None
    radius_km: float | None = Field(None, gt=0, le=20038.0,
                                    description="radius (km) of the area of interest when the place is a region")


class Event(BaseModel):
    """An event type recorded for the case, and the public source that records it.

    Used for scoring only: the diagnosis never reads it.
    """

    model_config = ConfigDict(extra="forbid")

    type: str
    source: str


class Case(BaseModel):
    """One real case."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    time: dt.datetime = Field(description="reference time, UTC")
    location: Location
    events: list[Event] = Field(default_factory=list)
    files: list[CaseFile] = Field(min_length=1)
    context: list[CaseFile] = Field(default_factory=list, description="context-only files (CONTEXT_ONLY_ROLES), "
                                    "for scoring: the diagnosis never reads them")
    notes: str = ""
    data_dir: str | None = Field(None, description="data folder for a user's case file")
    source_path: str | None = Field(None, exclude=True, description="the YAML it came from")

    @field_validator("time")
    @classmethod
    def _utc(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v

    @model_validator(mode="after")
    def _unique_roles(self) -> "Case":
        inputs = sorted({f.role for f in self.files if f.role in CONTEXT_ONLY_ROLES})
        if inputs:
            raise ValueError(f"role {', '.join(inputs)} is context for scoring only, never an input of the "
                             "diagnosis: list it under 'context', not 'files'")
        wrong = sorted({f.role for f in self.context if f.role not in CONTEXT_ONLY_ROLES})
        if wrong:
            raise ValueError(f"role {', '.join(wrong)} is an input of the diagnosis: list it under 'files' "
                             f"('context' holds only {', '.join(sorted(CONTEXT_ONLY_ROLES))})")
        roles = [f.role for f in self.files]
        dup = sorted({r for r in roles if roles.count(r) > 1})
        if dup:
            raise ValueError(f"roles used twice: {', '.join(dup)}")
        return self

    def file(self, role: str) -> CaseFile:
        """The file entry of ``role``; raises ``KeyError`` listing the case's roles."""
        for f in self.files:
            if f.role == role:
                return f
        raise KeyError(f"case {self.id!r} has no file of role {role!r}; "
                       f"its roles: {', '.join(self.roles)}")

    @property
    def roles(self) -> list[str]:
        """The roles the diagnosis may read (never the context-only ones)."""
        return [f.role for f in self.files]

    @property
    def context_roles(self) -> list[str]:
        """The context-only roles the case carries for scoring (:data:`CONTEXT_ONLY_ROLES`)."""
        return sorted({f.role for f in self.context})

    def resolved_data_dir(self) -> Path | None:
        """The data folder of a user's case file (relative to the YAML's folder)."""
        if self.data_dir is None:
            return None
        p = Path(self.data_dir).expanduser()
        if not p.is_absolute() and self.source_path:
            p = Path(self.source_path).parent / p
        return p.resolve()
