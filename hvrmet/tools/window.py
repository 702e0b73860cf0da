"""The area and time of interest of a tool call: a window around the case's place and time.

Every screening and verification tool that searches data for an extreme or a feature
searches it inside a window: a circle of ``radius`` km around the case's place (the case
file's ``location``; for a case built from a folder, the place its data give, said in the
case's notes) and ``time_window`` hours either side of the case's time. The defaults
depend on the kind of data; a call overrides them with
the arguments ``radius`` and ``time_window`` (:class:`hvrmet.tools.inputs.WindowInput`).

The defaults are the one table :data:`DEFAULTS` (kind of data, scale, radius, time window
and why); ``docs/windows.md`` prints it (:func:`defaults_markdown` writes it; a test keeps
the two equal).

What a windowed tool does:

* storm-scale features (cells, couplets, TVS, mesocyclones, hail cells) are kept when
  their geodesic distance (WGS84) from the place is at most the radius; the tool reports
  the nearest and the strongest inside, each with its distance (km) and bearing (degree
  from north, from the place), and the number left outside;
* extremes of a field or of a station network are searched inside the circle (and inside
  the lat/lon box when one is given: an explicit box replaces the default radius, an
  explicit ``radius`` applies as well);
* data outside the time window: station reports outside it are left out while any report
  is inside; when none is (or a radar volume, a product or an analysis is outside), the
  data are used, the result says ``outside_time_window`` and warns, and the ledger weighs
  its numbers by ``outside_time_window`` of ``weights.yaml``.

Each windowed tool records its window among its values (:data:`WINDOW_OUTPUTS`):
``window_radius`` (km; ``None`` when no radius limits it), ``window_center_lat`` /
``window_center_lon``, ``window_center_time`` (the case's time), ``window_time_window``
(hour, either side), ``data_time`` (the valid time of the data the result comes from),
``data_time_offset`` (hour, data time minus case time) and ``outside_time_window``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hvrmet.tools.results import ToolOutput, Value

__all__ = ["DEFAULTS", "EARTH_HALF_CIRCUMFERENCE_KM", "RECORD_KEYS", "WIDER_FACTOR", "WINDOW_OUTPUTS", "Window", "WindowDefault", "defaults_markdown", "place_units",
           "distance_bearing", "utc_timestamp", "window_of", "windowed"]

DEG_N, DEG_E = "degree_north", "degree_east"

#: How much wider than the storm-scale window a replanning check may look again for a
#: storm's features (the offline policy's wider-window checks; their numbers weigh
#: ``wider_window`` of weights.yaml).
WIDER_FACTOR = 2.0

#: Half the Earth's circumference: a radius this large takes in the whole globe.
EARTH_HALF_CIRCUMFERENCE_KM = 20038.0


@dataclass(frozen=True)
class WindowDefault:
    """One row of the defaults table: a kind of data and its default window."""

    kind: str
    data: str
    scale: str
    radius_km: float
    time_window_h: float
    why: str


#: The default window of each kind of data (the one table; ``docs/windows.md`` prints it).
DEFAULTS: dict[str, WindowDefault] = {d.kind: d for d in (
    WindowDefault(
        "radar", "radar volumes (Level II, ODIM_H5, CfRadial, IRIS, Rainbow, UF)", "storm", 75.0, 1.0,
        "storm scale: a supercell's updraft, mesocyclone, hail core and tornado lie within a few tens of km of "
        "each other, and a storm moving at a typical 10-15 m/s covers 35-55 km in an hour; 75 km takes in the "
        "storm that is at the place within the hour, plus the uncertainty of a place given as a town or a radar "
        "site (about 20 km), and leaves out the neighbouring storms of an outbreak. One hour either side: a "
        "volume older than a storm's mature stage (30-60 min) shows another storm"),
    WindowDefault(
        "level3", "Level III products (storm tracks, mesocyclones, TVS, hail index, storm structure, fields)",
        "storm", 75.0, 1.0,
        "the same storm scale as a radar volume: the WSR-88D's algorithms detect features of the volume the "
        "product was made from"),
    WindowDefault(
        "gridded", "gridded analyses and reanalyses (NetCDF, GRIB)", "synoptic", 1500.0, 12.0,
        "synoptic scale: the surface low, its fronts, the upper trough and the jet streak that drive a cyclone "
        "lie within about a quarter of a baroclinic wavelength (3000-6000 km), 750-1500 km, of the surface centre; "
        "12 h either side is one analysis cycle of a radiosonde network (a system keeps its identity over a day)"),
    WindowDefault(
        "stations", "surface station networks (hourly CSV, METAR)", "synoptic", 1500.0, 12.0,
        "the same synoptic scale as an analysis: the lowest pressure, the strongest gradient winds and the largest "
        "pressure falls of one cyclone lie within about 1500 km of it; farther stations belong to other systems "
        "(an Aleutian low, a mountain summit across the continent). 12 h either side, as for an analysis"),
    WindowDefault(
        "sounding", "soundings (UWyo, IGRA2, SHARPpy, CSV): one profile at one place", "mesoscale", 300.0, 6.0,
        "a sounding stands for the air mass it was launched into: its CAPE, shear and helicity describe the "
        "storms' environment within a few hundred km (a dryline, a front or an outflow boundary between the "
        "station and the place changes it; proximity-sounding studies take 40-185 km and 1-3 h, and an "
        "operational forecaster the nearest launch), and for about half a radiosonde cycle (6 h either side "
        "of the 00 and 12 UTC launches, before the boundary layer and the flow change). A sounding farther "
        "from the place is used and said so; one outside the time window weighs less"),
    WindowDefault(
        "composite", "radar rain composites (national and continental mosaics of rain rate, accumulation or "
        "reflectivity)", "mesoscale", 250.0, 12.0,
        "the rain that matters at a place falls within a few hundred km of it: a mesoscale convective system's "
        "rain shield spans 100-500 km and a flash flood's catchments tens to a few hundred km; 250 km is about "
        "the area one forecast office covers (a WSR-88D's 230 km reflectivity range) and leaves out the other "
        "systems of a continental mosaic. 12 h either side: the longest accumulation the heavy-rain criteria "
        "grade is 24 h (GB/T 28592-2012); frames farther from the case time belong to another day's rain"),
    WindowDefault(
        "tropical", "tropical-cyclone products (NHC wind-speed probabilities)", "synoptic", 500.0, 6.0,
        "a product holds every active cyclone of its basins: the storm that matters is the one whose winds reach "
        "the place. A large hurricane's 34 kt winds reach 300-500 km from its centre, so a contour ring whose line "
        "lies within 500 km belongs to the storm at or near the place; rings farther away are another storm, or "
        "this one's track days later. NHC issues the product with each advisory, every 6 h: one more than 6 h "
        "from the case time is superseded"),
    WindowDefault(
        "surface_analysis", "WPC coded surface analyses (fronts, highs, lows)", "synoptic", 1000.0, 12.0,
        "a surface high counts as 'over the region' when it lies within about 1000 km, the width of the "
        "subsiding ridge under an upper high; 12 h either side, as for an analysis"),
)}

#: The values every windowed tool returns, and their units.
WINDOW_OUTPUTS: dict[str, str] = {
    "window_radius": "km", "window_center_lat": DEG_N, "window_center_lon": DEG_E, "window_center_time": "",
    "window_time_window": "hour", "data_time": "", "data_time_offset": "hour", "outside_time_window": "",
}


#: Values that say where and when a result's data lie (the window's record, and a
#: sounding's station distance and bearing from the place), not what they measure: a
#: report's one-line result of a call leaves them out.
RECORD_KEYS: frozenset[str] = frozenset(WINDOW_OUTPUTS) | {"station_distance", "station_bearing"}


def place_units(prefix: str) -> dict[str, str]:
    """The units of :meth:`Window.from_place`'s values."""
    return {f"{prefix}_distance": "km", f"{prefix}_bearing": "degree"}


def windowed(outputs: dict[str, str]) -> dict[str, str]:
    """A tool's declared outputs with the window's (:data:`WINDOW_OUTPUTS`) added."""
    return {**outputs, **WINDOW_OUTPUTS}


def defaults_markdown() -> str:
    """The defaults table as Markdown (what ``docs/windows.md`` holds)."""
    lines = ["| kind | data | scale | radius (km) | time window (± h) | why |",
             "| --- | --- | --- | --- | --- | --- |"]
    for d in DEFAULTS.values():
        lines.append(f"| {d.kind} | {d.data} | {d.scale} | {d.radius_km:g} | {d.time_window_h:g} | {d.why} |")
    return "\n".join(lines) + "\n"


def distance_bearing(lat0: float, lon0: float, lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distance (km) and bearing (degree from north) from a place to points.

    On the WGS84 ellipsoid (:class:`pyproj.Geod`); a point without a finite position
    gives NaN for both.
    """
    from pyproj import Geod

    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat, lon = np.broadcast_arrays(lat, lon)
    dist, az = np.full(lat.shape, np.nan), np.full(lat.shape, np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.any():
        fwd, _, d = Geod(ellps="WGS84").inv(np.full(ok.sum(), float(lon0)), np.full(ok.sum(), float(lat0)),
                                            lon[ok], lat[ok])
        dist[ok], az[ok] = np.asarray(d) / 1000.0, np.asarray(fwd) % 360.0
    return dist, az


#: the last masks of large grids: ((lat, lon) arrays, window key, mask), newest first. An
#: entry is used only for the very same array objects (``is``), which it keeps alive.
_MASKS: list[tuple[tuple[np.ndarray, np.ndarray], tuple, np.ndarray]] = []
_MASKS_LOCK = threading.Lock()


def _sphere_km(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) on the sphere of the Earth's mean radius (haversine)."""
    p0, p = math.radians(lat0), np.radians(lat)
    a = np.sin((p - p0) / 2.0) ** 2 + math.cos(p0) * np.cos(p) * np.sin(np.radians(lon - lon0) / 2.0) ** 2
    return 2.0 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _near(lat0: float, lon0: float, radius_km: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points that may lie within ``radius_km`` of (lat0, lon0): a latitude/longitude box
    that holds the whole circle, so that only its points need a geodesic.

    On the ellipsoid ds >= M dphi and ds >= N cos(phi) dlambda, with the meridional radius M
    at least 6335.439 km (the equator's) and N at least the equatorial radius, so a point
    farther than radius / (110.574 km) degrees in latitude, or radius / (111.319 km
    cos(phi_max)) in longitude, cannot be inside (phi_max: the circle's latitude farthest
    from the equator; no longitude bound when the circle reaches a pole).
    """
    dlat = radius_km / 110.574 * 1.0001 + 1e-9
    ok = np.abs(lat - lat0) <= dlat
    far = min(90.0, abs(lat0) + dlat)
    if far < 89.9:
        dlon = radius_km / (111.319 * math.cos(math.radians(far))) * 1.0001 + 1e-9
        if dlon < 180.0:
            ok &= np.abs((lon - lon0 + 180.0) % 360.0 - 180.0) <= dlon
    return ok


def utc_timestamp(t: Any) -> pd.Timestamp | None:
    """A naive UTC timestamp, or ``None`` for no time."""
    if t is None or (isinstance(t, str) and not t.strip()):
        return None
    try:
        ts = pd.Timestamp(t)
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT or pd.isna(ts):
        return None
    return ts.tz_localize(None) if ts.tzinfo is None else ts.tz_convert("UTC").tz_localize(None)


def _iso(t: pd.Timestamp | None) -> str:
    return "" if t is None else t.strftime("%Y-%m-%dT%H:%MZ")


def _r(x: float | None, nd: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


@dataclass
class Window:
    """The area and time of interest of one tool call.

    Built by :meth:`hvrmet.tools.context.ToolContext.window`; ``radius_km`` is ``None``
    when no radius limits the search (an explicit box without an explicit radius).
    """

    kind: str
    lat: float
    lon: float
    center_time: pd.Timestamp | None
    radius_km: float | None
    time_window_h: float
    place: str = ""
    box: Any = None                 # a hvrmet.calc.gridded.Box, or None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    data_time: pd.Timestamp | None = None
    data_time_known: bool = True
    area_km: float | None = None    # set when the radius is the case's area of interest (a region)
    warnings: list[str] = field(default_factory=list)
    _outside: bool = False

    # ------------------------------------------------------------------ space
    def locate(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        """Distance (km) and bearing (degree from north) of points from the place."""
        return distance_bearing(self.lat, self.lon, lat, lon)

    def mask(self, lat, lon) -> np.ndarray:
        """True where a point lies inside the window's area (the radius and the box).

        Duck-typed like :class:`hvrmet.calc.gridded.Box`, so a window is a search region
        for :func:`hvrmet.calc.gridded.extremum` and ``weighted_mean``.
        """
        key = (self.lat, self.lon, self.radius_km, None if self.box is None else repr(self.box))
        with _MASKS_LOCK:
            hit = next((c for arrays, k, c in _MASKS if k == key and arrays[0] is lat and arrays[1] is lon), None)
        if hit is not None:
            return hit.copy()
        m = self._mask(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
        if isinstance(lat, np.ndarray) and isinstance(lon, np.ndarray) and lat.size > 10000:
            # the tools of one volume share its memoised grid: the same arrays, the same window
            with _MASKS_LOCK:
                _MASKS.insert(0, ((lat, lon), key, m.copy()))
                del _MASKS[8:]
        return m

    def _mask(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        m = np.isfinite(lat) & np.isfinite(lon)
        if self.box is not None:
            m &= self.box.mask(lat, lon)
        if self.radius_km is not None:
            m &= _near(self.lat, self.lon, self.radius_km, lat, lon)
            idx = np.flatnonzero(m)
            # a sphere's distance is within 0.6 % of the ellipsoid's geodesic: only points
            # near the circle need the geodesic
            ds = _sphere_km(self.lat, self.lon, lat.ravel()[idx], lon.ravel()[idx])
            band = 0.007 * self.radius_km + 0.5
            m.flat[idx] = ds < self.radius_km - band
            edge = idx[np.abs(ds - self.radius_km) <= band]
            if edge.size:
                d, _ = distance_bearing(self.lat, self.lon, lat.ravel()[edge], lon.ravel()[edge])
                m.flat[edge] = np.nan_to_num(d, nan=np.inf) <= self.radius_km
        return m

    def from_place(self, prefix: str, lat: float | None, lon: float | None) -> dict[str, Value]:
        """``prefix_distance`` (km) and ``prefix_bearing`` (degree) of a point from the
        place (both ``None`` for a point without a position); units as :func:`place_units`."""
        d = b = None
        if lat is not None and lon is not None:
            dd, bb = self.locate([lat], [lon])
            d, b = _r(float(dd[0]), 1), _r(float(bb[0]), 0)
        return {f"{prefix}_distance": Value(value=d, units="km", note="from the case's place"),
                f"{prefix}_bearing": Value(value=b, units="degree", note="from the case's place, clockwise from north")}

    def inside(self, distance_km) -> np.ndarray:
        """True where a distance (km) from the place is within the radius (always, with no radius)."""
        d = np.asarray(distance_km, dtype=np.float64)
        if self.radius_km is None:
            return np.ones(d.shape, bool)
        return np.nan_to_num(d, nan=np.inf) <= self.radius_km

    def area_text(self) -> str:
        """The area in words, e.g. 'within 75 km of 35.33N 97.28W'."""
        where = f"{abs(self.lat):.2f}{'N' if self.lat >= 0 else 'S'} {abs(self.lon):.2f}{'E' if self.lon >= 0 else 'W'}"
        parts = []
        if self.radius_km is not None:
            parts.append(f"within {self.radius_km:g} km of {where}")
        if self.box is not None and self.box.describe():
            parts.append(self.box.describe().strip())
        return " and ".join(parts) or "everywhere"

    def describe(self) -> str:
        """Text for a summary (the Box protocol): ' within 1500 km of ...'."""
        return " " + self.area_text()

    # ------------------------------------------------------------------- time
    def time_limits(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """Earliest and latest time inside the window (``start``/``end`` when given)."""
        lo = hi = None
        if self.center_time is not None:
            half = pd.Timedelta(hours=self.time_window_h)
            lo, hi = self.center_time - half, self.center_time + half
        return (self.start if self.start is not None else lo), (self.end if self.end is not None else hi)

    def in_time(self, times) -> np.ndarray:
        """True for the times (array-like) inside the time window (all, without a case time)."""
        t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
        lo, hi = self.time_limits()
        m = np.ones(len(t), bool)
        if lo is not None:
            m &= np.asarray(t >= lo)
        if hi is not None:
            m &= np.asarray(t <= hi)
        return m & ~np.asarray(t.isna())

    def offset_h(self, t: Any) -> float | None:
        """Hours from the case time to ``t`` (negative: before)."""
        ts = utc_timestamp(t)
        if ts is None or self.center_time is None:
            return None
        return (ts - self.center_time).total_seconds() / 3600.0

    def window_text(self) -> str:
        lo, hi = self.time_limits()
        if self.start is not None or self.end is not None:
            return f"{_iso(lo) or '...'} to {_iso(hi) or '...'}"
        return f"±{self.time_window_h:g} h of the case time {_iso(self.center_time)}"

    def at(self, t: Any, what: str = "the data") -> Window:
        """Record the data's valid time ``t``; warn when it lies outside the time window
        (or when the data carry no time). Returns the window."""
        ts = utc_timestamp(t)
        self.data_time = ts
        if self._outside:  # already said (every item outside the window)
            return self
        if ts is None:
            self.data_time_known = False
            self.warnings.append(f"{what} carry no time: whether they fall inside the time window "
                                 f"({self.window_text()}) cannot be checked")
            return self
        lo, hi = self.time_limits()
        if (lo is not None and ts < lo) or (hi is not None and ts > hi):
            off = self.offset_h(ts)
            rel = "" if off is None else f", {abs(off):.1f} h {'before' if off < 0 else 'after'} the case time"
            self.flag_outside(f"{what} are valid at {_iso(ts)}{rel}: outside the time window ({self.window_text()}); "
                              "they are used, and weigh less in the ledger")
        return self

    def flag_outside(self, message: str) -> None:
        """Mark the result as coming from data outside the time window, with a warning."""
        self._outside = True
        if message not in self.warnings:
            self.warnings.append(message)

    @property
    def outside_time_window(self) -> bool:
        return self._outside

    def select_times(self, times, what: str = "reports") -> tuple[np.ndarray, str]:
        """Which of many timed items to use: those inside the time window, or every one
        when none is (then flagged, with a warning naming the span). Returns the mask and
        a note ('' when nothing was left out)."""
        t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
        inside = self.in_time(t)
        if not len(t):
            return inside, ""
        if inside.any():
            n_out = int((~inside).sum())
            note = (f"{n_out} {what} outside the time window ({self.window_text()}) left out" if n_out else "")
            return inside, note
        t0, t1 = t.min(), t.max()
        o0, o1 = self.offset_h(t0), self.offset_h(t1)
        if o0 is not None and o1 is not None:
            rel = (f"{abs(o1):.1f}-{abs(o0):.1f} h before" if o1 < 0 else
                   f"{o0:.1f}-{o1:.1f} h after" if o0 > 0 else f"{o0:+.1f} to {o1:+.1f} h from")
            span = f"{_iso(t0)} to {_iso(t1)}, {rel} the case time {_iso(self.center_time)}"
        else:
            span = f"{_iso(t0)} to {_iso(t1)}"
        self.flag_outside(f"every one of the {what} ({span}) lies outside the time window ({self.window_text()}): "
                          f"all are used, and the result weighs less in the ledger")
        return np.ones(len(t), bool), ""

    # ----------------------------------------------------------------- output
    def values(self) -> dict[str, Value]:
        """The window as tool output values (:data:`WINDOW_OUTPUTS`)."""
        off = self.offset_h(self.data_time) if self.data_time is not None else None
        return {
            "window_radius": Value(value=self.radius_km, units="km",
                                   note=("no radius: " + self.area_text() if self.radius_km is None else
                                         f"the case's area of interest (its place is a region), wider than "
                                         f"the {DEFAULTS[self.kind].radius_km:g} km of {self.kind} data"
                                         if self.area_km is not None else "")),
            "window_center_lat": Value(value=round(self.lat, 4), units=DEG_N, note=self.place),
            "window_center_lon": Value(value=round(self.lon, 4), units=DEG_E),
            "window_center_time": Value(value=_iso(self.center_time), note="the case's time"),
            "window_time_window": Value(value=self.time_window_h, units="hour", note="either side of the case time"
                                        + ("" if self.start is None and self.end is None
                                           else f"; limits given: {self.window_text()}")),
            "data_time": Value(value=_iso(self.data_time) or None, note="valid time of the data the result uses"),
            "data_time_offset": Value(value=_r(off, 2), units="hour", note="data time minus case time"),
            "outside_time_window": Value(value=bool(self._outside)),
        }

    def record(self, values: dict[str, Value], warnings: list[str]) -> None:
        """Add the window's values and warnings to a tool's output (in place)."""
        values.update(self.values())
        for w in self.warnings:
            if w not in warnings:
                warnings.append(w)

    def finish(self, out: ToolOutput) -> ToolOutput:
        """A tool's output with the window recorded: its values and warnings added, and,
        for data outside the time window, the summary saying so (the summary is what a
        run's stream shows)."""
        self.record(out.values, out.warnings)
        if self._outside:
            off = self.offset_h(self.data_time) if self.data_time is not None else None
            rel = "" if off is None else f": data {off:+.1f} h from the case time"
            out.summary = f"{out.summary} [outside the time window{rel}, ±{self.time_window_h:g} h]"
        return out


def window_of(kind: str, lat: float, lon: float, time: dt.datetime | None, *, radius_km: float | None = None,
              time_window_h: float | None = None, box: Any = None, start: Any = None, end: Any = None,
              place: str = "", area_km: float | None = None) -> Window:
    """A window of ``kind`` around a place and time, with the defaults of :data:`DEFAULTS`
    for what is not given. An explicit ``box`` without an explicit ``radius_km`` limits the
    area by the box alone. ``area_km``, the radius of a place that is a region (a case's
    ``location.radius_km``), widens the default radius to at least itself."""
    if kind not in DEFAULTS:
        raise KeyError(f"unknown window kind {kind!r}; kinds: {', '.join(DEFAULTS)}")
    d = DEFAULTS[kind]
    has_box = box is not None and bool(box.describe())
    area = None
    if radius_km is not None:
        radius = radius_km
    elif has_box:
        radius = None
    else:
        radius = d.radius_km
        if area_km is not None and float(area_km) > radius:
            radius = area = float(area_km)
    return Window(kind=kind, lat=float(lat), lon=float((float(lon) + 180.0) % 360.0 - 180.0), center_time=utc_timestamp(time),
                  radius_km=None if radius is None else float(radius),
                  time_window_h=float(time_window_h if time_window_h is not None else d.time_window_h),
                  place=place, box=box if has_box else None, start=utc_timestamp(start), end=utc_timestamp(end), area_km=area)

