"""Present weather of station reports: METAR/SPECI weather groups into kinds of weather.

A METAR present-weather group (WMO FM 15 code table 4678; FMH-1 chapter 12 in the United
States) is an optional intensity or proximity (``-`` light, ``+`` heavy, ``VC`` in the
vicinity), an optional descriptor (``MI PR BC DR BL SH TS FZ``), then precipitation
(``DZ RA SN SG IC PL GR GS UP``, several in one group for mixed precipitation, the
dominant first), obscuration (``BR FG FU VA DU SA HZ PY``) or other phenomena
(``PO SQ FC SS DS``). A report may hold several groups, separated by spaces
(``-SN BLSN``). The functions here parse those groups and say, report by report, which
kinds of weather a report names (:data:`KINDS`). Nothing here knows about stations,
windows or cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["KINDS", "WeatherGroup", "parse_weather_group", "parse_present_weather", "weather_kinds"]

_PRECIP = ("DZ", "RA", "SN", "SG", "IC", "PL", "GR", "GS", "UP")
_GROUP = re.compile(r"^(?P<intensity>[-+]|VC)?(?P<descriptor>MI|PR|BC|DR|BL|SH|TS|FZ)?"
                    rf"(?P<precip>(?:{'|'.join(_PRECIP)})*)"
                    r"(?P<obscuration>BR|FG|FU|VA|DU|SA|HZ|PY)?(?P<other>PO|SQ|FC|SS|DS)?$")

#: The kinds of weather :func:`weather_kinds` tells apart, with what each means.
KINDS: dict[str, str] = {
    "precipitation": "any precipitation at the station (not in the vicinity): DZ, RA, SN, SG, IC, PL, GR, GS or UP",
    "snow": "falling snow or snow grains (SN, SG; SHSN, -RASN, ...), not snow only blown or drifted from the ground",
    "heavy_snow": "heavy falling snow (+SN, +SHSN, ...)",
    "freezing_precipitation": "freezing rain or freezing drizzle (FZRA, FZDZ)",
    "ice_pellets": "ice pellets (sleet, PL)",
    "hail": "hail or small hail / snow pellets (GR, GS)",
    "rain": "rain or drizzle that is not freezing (RA, DZ, SHRA, TSRA, ...)",
    "thunder": "a thunderstorm at the station or in its vicinity (TS, VCTS, TSRA, ...)",
    "blowing_snow": "snow raised by the wind above 2 m (BLSN)",
    "funnel_cloud": "a funnel cloud, tornado or waterspout (FC, +FC)",
    "tornado": "a tornado or waterspout (+FC; FC alone is a funnel cloud not reaching the ground)",
    "squall": "a squall (SQ)",
}


@dataclass(frozen=True)
class WeatherGroup:
    """One present-weather group, split into its parts (empty strings where absent)."""

    intensity: str
    descriptor: str
    precipitation: tuple[str, ...]
    obscuration: str
    other: str

    @property
    def vicinity(self) -> bool:
        """The phenomenon is in the vicinity (5-10 statute miles), not at the station."""
        return self.intensity == "VC"


def parse_weather_group(code: str) -> WeatherGroup | None:
    """Split one present-weather group into its parts.

    Parameters
    ----------
    code : str
        One group, e.g. ``"-FZRA"``, ``"+TSRAGR"``, ``"VCSH"``, ``"BLSN"``.

    Returns
    -------
    WeatherGroup or None
        ``None`` when the text is not a present-weather group (a remark, a bad report).

    Examples
    --------
    >>> parse_weather_group("-FZRA")
    WeatherGroup(intensity='-', descriptor='FZ', precipitation=('RA',), obscuration='', other='')
    >>> parse_weather_group("RERA") is None
    True
    """
    text = code.strip().upper()
    m = _GROUP.match(text) if text else None
    if m is None or not (m["descriptor"] or m["precip"] or m["obscuration"] or m["other"]):
        return None  # not a group, or an intensity / proximity alone
    p = m["precip"]
    return WeatherGroup(m["intensity"] or "", m["descriptor"] or "", tuple(p[i:i + 2] for i in range(0, len(p), 2)),
                        m["obscuration"] or "", m["other"] or "")


def parse_present_weather(report: str) -> list[WeatherGroup]:
    """The present-weather groups of one report's present-weather text (groups separated by
    spaces; the text of a station without significant weather is empty). Words that are not
    weather groups are left out."""
    return [g for g in map(parse_weather_group, str(report or "").split()) if g is not None]


def _kinds_of(groups: list[WeatherGroup]) -> set[str]:
    kinds: set[str] = set()
    for g in groups:
        at_station = not g.vicinity
        precip = set(g.precipitation)
        if g.descriptor == "TS":
            kinds.add("thunder")
        if g.other == "FC":
            kinds.add("funnel_cloud")
            if g.intensity == "+":
                kinds.add("tornado")
        if g.other == "SQ":
            kinds.add("squall")
        if not at_station or not precip:
            continue
        blown = g.descriptor in ("BL", "DR")
        if blown and precip == {"SN"}:
            if g.descriptor == "BL":
                kinds.add("blowing_snow")
            continue
        kinds.add("precipitation")
        if precip & {"SN", "SG"}:
            kinds.add("snow")
            if g.intensity == "+":
                kinds.add("heavy_snow")
        if g.descriptor == "FZ" and precip & {"RA", "DZ"}:
            kinds.add("freezing_precipitation")
        elif precip & {"RA", "DZ"}:
            kinds.add("rain")
        if "PL" in precip:
            kinds.add("ice_pellets")
        if precip & {"GR", "GS"}:
            kinds.add("hail")
    return kinds


def weather_kinds(reports: Iterable[str]) -> dict[str, np.ndarray]:
    """Which kinds of weather (:data:`KINDS`) each report names.

    Parameters
    ----------
    reports : iterable of str
        Each report's present-weather text (one or more groups separated by spaces; empty
        for no significant weather).

    Returns
    -------
    dict of str to numpy.ndarray
        For every kind in :data:`KINDS`, a boolean array aligned with ``reports``.

    Notes
    -----
    ``+`` on a mixed group (``+RASN``) is the intensity of the whole precipitation, so
    ``heavy_snow`` counts it; ``BLSN`` or ``DRSN`` alone is snow lifted from the ground, not
    falling snow (``-SN BLSN`` is both); a group in the vicinity (``VCSH``, ``VCTS``) is no
    precipitation at the station, but a thunderstorm in the vicinity is thunder.
    ``FZFG`` (freezing fog) is no freezing precipitation.

    Examples
    --------
    >>> k = weather_kinds(["-SN BLSN", "FZRA", "VCTS", ""])
    >>> [name for name in k if k[name][0]]
    ['precipitation', 'snow', 'blowing_snow']
    >>> bool(k["freezing_precipitation"][1]), bool(k["thunder"][2]), bool(k["precipitation"][2])
    (True, True, False)
    """
    found = [_kinds_of(parse_present_weather(r)) for r in reports]
    return {kind: np.array([kind in f for f in found], dtype=bool) for kind in KINDS}
