"""Shared computations of the precipitation-composite tools.

One converter (:func:`to_rain_rate`) turns every decoded composite sequence into rain
rate in mm/h with pysteps' own unit conversion; :func:`frame_minutes` gives the time
each frame stands for, :func:`pixel_area_km2` the area of each pixel, and
:func:`rolling_accumulation` the largest accumulation over a moving window and
:func:`lucas_kanade` the motion of a sequence of frames.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import xarray as xr

from hvrmet.errors import VariableMissing

__all__ = ["WET_MM_H", "KM_PER_DEGREE", "to_rain_rate", "frame_minutes", "pixel_area_km2",
           "rolling_accumulation", "window_frames", "iso", "loc", "MOTION_MAX_PIXELS", "lucas_kanade"]

#: Rain rate above which a pixel counts as wet (mm/h), as pysteps' examples threshold.
WET_MM_H = 0.1
#: Length of one degree of latitude on a sphere of radius 6371 km (km).
KM_PER_DEGREE = np.pi * 6371.0 / 180.0
#: Largest grid (pixels) the tools track motion on at full resolution (see :func:`lucas_kanade`).
MOTION_MAX_PIXELS = 1_000_000


def _precip(ds: xr.Dataset) -> xr.DataArray:
    if "precip" not in ds.data_vars or ds["precip"].ndim != 3:
        raise VariableMissing(ds.attrs.get("source_file"),
                              "the dataset holds no 'precip' on (time, y, x): not a composite sequence")
    return ds["precip"]


def to_rain_rate(ds: xr.Dataset, zr_a: float = 200.0, zr_b: float = 1.6) -> xr.DataArray:
    """The sequence's precipitation as rain rate (mm/h), whatever the importer's unit.

    Uses :func:`pysteps.utils.conversion.to_rainrate`: an accumulation (``mm`` over
    ``precip.attrs["accutime_min"]`` minutes) is divided by its duration; reflectivity
    (``dBZ``) goes through pysteps' inverse dB transform and the Z-R relation
    Z = a R^b, by default Marshall and Palmer's a = 200, b = 1.6 (Marshall and Palmer
    1948, J. Meteor. 5, 165-166); echoes below the importer's threshold become 0 mm/h.

    Returns
    -------
    xarray.DataArray
        Rain rate (mm/h) on ``(time, y, x)``, NaN outside the radar coverage.
    """
    import hvrmet._pysteps  # noqa: F401  (imports pysteps quietly)
    from pysteps.utils.conversion import to_rainrate

    p = _precip(ds)
    unit = str(p.attrs.get("units", ""))
    meta = {"unit": unit, "transform": "dB" if unit == "dBZ" else None,
            "accutime": float(p.attrs.get("accutime_min") or ds.attrs.get("timestep_min") or 0.0),
            "threshold": float(ds.attrs.get("threshold", 0.0)),
            "zerovalue": float(ds.attrs.get("zerovalue", 0.0))}
    if unit == "mm" and not meta["accutime"] > 0:
        raise VariableMissing(ds.attrs.get("source_file"),
                              "precipitation in mm without its accumulation time (accutime_min)")
    if unit not in ("mm/h", "mm", "dBZ"):
        raise VariableMissing(ds.attrs.get("source_file"),
                              f"cannot convert precipitation in {unit!r} to rain rate")
    values = np.asarray(p.values, dtype=np.float32)
    finite = np.isfinite(values)
    rate, _ = to_rainrate(np.where(finite, values, meta["zerovalue"] if unit == "dBZ" else 0.0),
                          meta, zr_a=zr_a if unit == "dBZ" else None, zr_b=zr_b if unit == "dBZ" else None)
    rate = np.where(finite, np.maximum(rate, 0.0), np.nan).astype(np.float32, copy=False)
    return xr.DataArray(rate, dims=p.dims, coords=p.coords,
                        attrs={"units": "mm/h", "source_units": unit,
                               **({"zr_a": zr_a, "zr_b": zr_b} if unit == "dBZ" else {})})


def frame_minutes(ds: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    """The minutes each frame stands for, and notes on gaps in the sequence.

    An accumulation frame covers its accumulation time (ending at its time stamp); a
    rain-rate or reflectivity frame is held over the sequence's time step. A gap longer
    than 1.5 time steps is not filled (so accumulations across it are underestimates).
    """
    p = _precip(ds)
    n = p.sizes["time"]
    times = ds["time"].values.astype("datetime64[s]")
    steps = np.diff(times).astype(float) / 60.0
    step = float(np.median(steps)) if len(steps) else float(p.attrs.get("accutime_min") or 0.0)
    if str(p.attrs.get("units")) == "mm":
        step = float(p.attrs["accutime_min"])
    if not step > 0:
        raise VariableMissing(ds.attrs.get("source_file"), "cannot tell how long each frame lasts")
    notes = []
    gaps = np.flatnonzero(steps > 1.5 * step)
    if len(gaps):
        missing = float(np.sum(steps[gaps] - step))
        notes.append(f"{len(gaps)} gap(s) in the sequence ({missing:.0f} min without data, e.g. after "
                     f"{iso(times[gaps[0]])}): accumulations there are underestimates")
    return np.full(n, step), notes


def pixel_area_km2(ds: xr.Dataset) -> np.ndarray:
    """Area of every pixel (km2), shape ``(y, x)``.

    Projected grids: the nominal pixel size in the projection's units (m or km), i.e. the
    map-plane area, without the projection's scale factor. Latitude-longitude grids
    (``cartesian_unit`` degrees): dx dy (pi R / 180)^2 cos(lat) on a sphere of radius
    R = 6371 km.
    """
    unit = str(ds.attrs.get("cartesian_unit", "m"))
    dx, dy = abs(float(ds.attrs["xpixelsize"])), abs(float(ds.attrs["ypixelsize"]))
    shape = (ds.sizes["y"], ds.sizes["x"])
    if unit.startswith("deg"):
        lat = np.asarray(ds["lat"].values, dtype=np.float64)
        return dx * dy * KM_PER_DEGREE ** 2 * np.cos(np.deg2rad(lat))
    scale = {"m": 1e-3, "km": 1.0}.get(unit)
    if scale is None:
        raise VariableMissing(ds.attrs.get("source_file"), f"unknown grid unit {unit!r}")
    return np.full(shape, dx * scale * dy * scale)


def window_frames(minutes: float, step: float) -> int:
    """How many frames of ``step`` minutes make a window of ``minutes``."""
    return max(1, int(round(minutes / step)))


def rolling_accumulation(acc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest accumulation over ``k`` consecutive frames, per pixel.

    Parameters
    ----------
    acc
        Per-frame accumulations (mm), ``(time, ...)``, NaN where missing (counted as 0).
    k
        Window length in frames (<= number of frames).

    Returns
    -------
    best, end
        The largest window sum per pixel (mm) and the index of the window's last frame.
    """
    c = np.cumsum(np.nan_to_num(acc, nan=0.0), axis=0, dtype=np.float64)
    c = np.concatenate([np.zeros((1,) + c.shape[1:]), c])
    sums = c[k:] - c[:-k]  # window ending at frame j + k - 1
    j = np.argmax(sums, axis=0)
    best = np.take_along_axis(sums, j[None], axis=0)[0]
    return best, j + k - 1


def iso(t: np.datetime64) -> str:
    """A time as ``YYYY-MM-DDTHH:MMZ``."""
    return np.datetime_as_string(np.datetime64(t, "m")) + "Z"


def loc(ds: xr.Dataset, idx: tuple[int, int]) -> tuple[float, float]:
    """Latitude and longitude (degrees, 4 decimals) of pixel ``(row, col)``."""
    return (round(float(ds["lat"].values[idx]), 4), round(float(ds["lon"].values[idx]), 4))


def minutes_between(a: np.datetime64, b: np.datetime64) -> float:
    """Minutes from ``a`` to ``b``."""
    return float((np.datetime64(b, "s") - np.datetime64(a, "s")).astype(float) / 60.0)



def peak_area_km2(field: np.ndarray, idx: tuple[int, int], area: np.ndarray) -> float:
    """Area (km2) of the connected region around ``idx`` where ``field`` >= half its value there.

    A maximum whose half-peak region is only a few pixels, in an accumulation, is often a
    fixed echo (ground clutter) rather than rain; labelling with :func:`scipy.ndimage.label`.
    """
    from scipy import ndimage

    labels, _ = ndimage.label(np.nan_to_num(field, nan=-np.inf) >= 0.5 * field[idx])
    return float(area[labels == labels[idx]].sum())


def lucas_kanade(arr: np.ndarray, max_pixels: int | None = None, fill: float = 0.0,
                 lk_kwargs: dict | None = None, **lk_options) -> np.ndarray:
    """pysteps' dense Lucas-Kanade motion ``(2, y, x)`` (pixels per time step) of finite
    frames ``(time, y, x)``, NaN vectors set to 0.

    With ``max_pixels``, a frame of more pixels (a continental composite) is tracked on its
    mean over ``f`` x ``f`` blocks, ``f`` the smallest integer that brings it to
    ``max_pixels`` or fewer (the padding takes ``fill``), and each block's vector, times
    ``f``, is given to its pixels. pysteps spreads its tracked vectors to every pixel by
    inverse-distance weighting, whose cost grows with the pixels times the vectors; the
    block means keep the motion of features larger than a block.
    """
    import hvrmet._pysteps  # noqa: F401  (imports pysteps quietly)
    from pysteps import motion

    arr = np.asarray(arr, dtype=np.float64)
    t, ny, nx = arr.shape
    f = 1 if max_pixels is None or ny * nx <= max_pixels else int(np.ceil(np.sqrt(ny * nx / max_pixels)))
    if f > 1:
        pad = np.pad(arr, ((0, 0), (0, -ny % f), (0, -nx % f)), constant_values=fill)
        arr = pad.reshape(t, pad.shape[1] // f, f, pad.shape[2] // f, f).mean(axis=(2, 4))
    with contextlib.redirect_stdout(io.StringIO()):  # pysteps prints its progress
        v = motion.get_method("LK")(arr, lk_kwargs=lk_kwargs, **lk_options)
    v = np.nan_to_num(np.asarray(v, dtype=np.float64), nan=0.0)
    if f > 1:
        v = np.repeat(np.repeat(v * f, f, axis=1), f, axis=2)[:, :ny, :nx]
    return v
