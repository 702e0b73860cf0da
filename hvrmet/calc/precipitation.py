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

__all__ = ["WET_MM_H", "KM_PER_DEGREE", "to_rain_rate", "frame_minutes", "pixel_area_km2", "pixel_size_km",
           "rolling_accumulation", "window_frames", "iso", "loc", "MOTION_MAX_PIXELS", "lucas_kanade",
           "rain_rate_to_dbz", "block_reflectivity", "convective_stratiform", "SHY_RADIUS_STEPS",
           "record_rain_rate_mm_h", "quality_control", "qc_note", "value_duration_min", "QC_PREFIX"]

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
    dx, dy, scale = _pixel_steps(ds)
    shape = (ds.sizes["y"], ds.sizes["x"])
    if scale is None:
        lat = np.asarray(ds["lat"].values, dtype=np.float64)
        return dx * dy * KM_PER_DEGREE ** 2 * np.cos(np.deg2rad(lat))
    return np.full(shape, dx * scale * dy * scale)


def _pixel_steps(ds: xr.Dataset) -> tuple[float, float, float | None]:
    """The grid's pixel size along x and y in its own unit, and that unit in km (None for
    degrees of latitude and longitude)."""
    unit = str(ds.attrs.get("cartesian_unit", "m"))
    dx, dy = abs(float(ds.attrs["xpixelsize"])), abs(float(ds.attrs["ypixelsize"]))
    if unit.startswith("deg"):
        return dx, dy, None
    scale = {"m": 1e-3, "km": 1.0}.get(unit)
    if scale is None:
        raise VariableMissing(ds.attrs.get("source_file"), f"unknown grid unit {unit!r}")
    return dx, dy, scale


def pixel_size_km(ds: xr.Dataset, rows: slice | None = None, cols: slice | None = None) -> tuple[float, float]:
    """Pixel size along x and y (km): the grid's own on projected grids; on latitude-longitude
    grids the degree spacing in km at the mean latitude of ``rows``/``cols``."""
    dx, dy, scale = _pixel_steps(ds)
    if scale is None:
        lat = np.asarray(ds["lat"].values, dtype=np.float64)[rows or slice(None), cols or slice(None)]
        return dx * KM_PER_DEGREE * float(np.cos(np.deg2rad(np.nanmean(lat)))), dy * KM_PER_DEGREE
    return dx * scale, dy * scale


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


# --------------------------------------------------------------------------- convective / stratiform
#: Steiner, Houze and Yuter (1995): convective radius (km) by background reflectivity
#: (dBZ), their Fig. 7, the "medium" relation: 1 km under 20 dBZ, then 1 km more per 5 dBZ
#: up to 5 km at 35 dBZ and above.
SHY_RADIUS_STEPS = ((20.0, 1.0), (25.0, 2.0), (30.0, 3.0), (35.0, 4.0), (np.inf, 5.0))


def rain_rate_to_dbz(rate: np.ndarray, zr_a: float = 200.0, zr_b: float = 1.6) -> np.ndarray:
    """Reflectivity (dBZ) of rain rates (mm/h) by Z = a R^b (Marshall-Palmer by default);
    NaN where the rate is missing or not above :data:`WET_MM_H` (no echo)."""
    r = np.asarray(rate, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(r) & (r > WET_MM_H), 10.0 * np.log10(zr_a * np.maximum(r, 1e-9) ** zr_b), np.nan)


def _disk(radius_km: float, dx_km: float, dy_km: float) -> np.ndarray:
    """A boolean disk of ``radius_km`` on pixels of ``dx_km`` by ``dy_km`` (rows are y)."""
    ny, nx = int(radius_km // dy_km), int(radius_km // dx_km)
    y, x = np.mgrid[-ny:ny + 1, -nx:nx + 1]
    return (x * dx_km) ** 2 + (y * dy_km) ** 2 <= radius_km ** 2 + 1e-9


def block_reflectivity(dbz: np.ndarray, factor: int) -> np.ndarray:
    """``dbz`` (NaN: no echo) on blocks of ``factor`` x ``factor`` pixels: the mean linear
    reflectivity of each block's pixels (no echo counts as zero) in dBZ, NaN where no pixel
    of the block has echo; edge blocks are partial."""
    z = np.asarray(dbz, dtype=np.float64)
    f = int(factor)
    if f < 1:
        raise ValueError(f"factor must be at least 1; got {factor}")
    if f == 1:
        return z.copy()
    ny, nx = -(-z.shape[0] // f), -(-z.shape[1] // f)
    pad = np.full((ny * f, nx * f), np.nan)
    pad[:z.shape[0], :z.shape[1]] = z
    blocks = pad.reshape(ny, f, nx, f)
    present = np.zeros((ny * f, nx * f), bool)
    present[:z.shape[0], :z.shape[1]] = True
    n = present.reshape(ny, f, nx, f).sum(axis=(1, 3))
    echo = np.isfinite(blocks)
    lin = np.where(echo, 10.0 ** (np.where(echo, blocks, 0.0) / 10.0), 0.0).sum(axis=(1, 3))
    anyecho = echo.any(axis=(1, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(anyecho, 10.0 * np.log10(lin / np.maximum(n, 1)), np.nan)


def convective_stratiform(dbz: np.ndarray, dx_km: float, dy_km: float, *, background_radius_km: float = 11.0,
                          intensity_dbz: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """Convective-stratiform separation of one reflectivity field (Steiner, Houze and Yuter 1995).

    Following Steiner, Houze and Yuter (1995, J. Appl. Meteor. 34, 1978-2007, section 3):

    1. the background reflectivity of each pixel is the mean linear reflectivity (mm^6 m^-3)
       of the echo within ``background_radius_km`` (11 km), in dBZ;
    2. a pixel is a convective centre when its reflectivity reaches ``intensity_dbz``
       (40 dBZ), or when it stands above its background Z_bg by the peakedness
       dZ_cc = 10 - Z_bg^2 / 180 dB (10 dB for Z_bg under 0 dBZ, 0 from 42.43 dBZ);
    3. the echo within the convective radius of a centre (1 km for Z_bg under 20 dBZ, up
       to 5 km from 35 dBZ: :data:`SHY_RADIUS_STEPS`) is convective too;
    4. every other echo is stratiform.

    The paper worked on 2 km grids of the reflectivity at 3 km height; a surface rain
    composite is a lower level, and rain rates turned back into reflectivity
    (:func:`rain_rate_to_dbz`) carry the Z-R relation's error.

    Parameters
    ----------
    dbz
        Reflectivity (dBZ) on ``(y, x)``, NaN where there is no echo or no data.
    dx_km, dy_km
        Pixel size along x (columns) and y (rows), km.
    background_radius_km, intensity_dbz
        The paper's 11 km and 40 dBZ.

    Returns
    -------
    classes, background
        ``classes`` int8 on ``(y, x)``: 0 no echo, 1 stratiform, 2 convective;
        ``background`` the background reflectivity (dBZ, NaN without echo around).
    """
    from scipy.ndimage import binary_dilation
    from scipy.signal import fftconvolve

    z = np.asarray(dbz, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"dbz must be a 2-D field; got shape {z.shape}")
    for name, v in (("dx_km", dx_km), ("dy_km", dy_km), ("background_radius_km", background_radius_km)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive; got {v}")
    echo = np.isfinite(z)
    classes = np.zeros(z.shape, np.int8)
    background = np.full(z.shape, np.nan)
    if not echo.any():
        return classes, background
    disk = _disk(background_radius_km, dx_km, dy_km).astype(np.float64)
    lin = np.where(echo, 10.0 ** (np.where(echo, z, 0.0) / 10.0), 0.0)
    total = fftconvolve(lin, disk, mode="same")
    count = np.rint(fftconvolve(echo.astype(np.float64), disk, mode="same"))
    ok = count >= 1
    with np.errstate(invalid="ignore", divide="ignore"):
        background = np.where(ok, 10.0 * np.log10(np.maximum(total, 1e-12) / np.maximum(count, 1.0)), np.nan)
    zb = np.where(np.isfinite(background), background, 0.0)
    peak = np.where(zb < 0.0, 10.0, np.where(zb < np.sqrt(1800.0), 10.0 - zb ** 2 / 180.0, 0.0))
    with np.errstate(invalid="ignore"):
        centre = echo & ((z >= intensity_dbz) | (z - zb >= peak))
    conv = np.zeros(z.shape, bool)
    lower = -np.inf
    for upper, radius in SHY_RADIUS_STEPS:
        these = centre & (zb >= lower) & (zb < upper)
        if these.any():
            conv |= binary_dilation(these, structure=_disk(radius, dx_km, dy_km))
        lower = upper
    classes[echo] = 1
    classes[echo & conv] = 2
    return classes, background


# ------------------------------------------------------------------ quality control

#: Jennings (1950, Mon. Wea. Rev. 78, 4-5) envelope of the world's greatest observed point
#: rainfalls: P = 16.6 D^0.475 inches, D in hours (422 mm at 1 h), from 1 minute to years.
RECORD_ENVELOPE_MM = 16.6 * 25.4
RECORD_ENVELOPE_EXPONENT = 0.475
#: Duration a rain *rate* (not an accumulation) stands for when it is checked against the
#: envelope: one minute, the shortest duration of the records, so the least strict bound.
RATE_SAMPLE_MIN = 1.0
#: An isolated spike: at least this rain rate (mm/h) ...
SPIKE_MIN_MM_H = 30.0
#: ... and more than this many times the largest of its 8 neighbours in the same frame.
SPIKE_RATIO = 10.0
#: A pixel that spikes in at least this many frames is a fixed (non-meteorological)
#: target and is set missing in every frame.
FIXED_SPIKE_FRAMES = 2


def record_rain_rate_mm_h(duration_min: float) -> float:
    """The largest rain rate (mm/h) ever observed at a point over ``duration_min`` minutes,
    by the Jennings (1950) envelope ``P = 16.6 D^0.475`` inches (D in hours).

    For example 873 mm/h over 15 minutes, 1 554 over 5, 3 618 over 1 and 422 over 60.

    Raises
    ------
    ValueError
        If ``duration_min`` is not a positive number.
    """
    d = float(duration_min)
    if not d > 0:
        raise ValueError(f"duration_min must be a positive number of minutes, not {duration_min!r}")
    hours = d / 60.0
    return RECORD_ENVELOPE_MM * hours ** RECORD_ENVELOPE_EXPONENT / hours


def quality_control(rate: np.ndarray, duration_min: float, *, spike_min_mm_h: float = SPIKE_MIN_MM_H,
                    spike_ratio: float = SPIKE_RATIO, fixed_frames: int = FIXED_SPIKE_FRAMES
                    ) -> tuple[np.ndarray, dict]:
    """Rain rates with the values no rain can give set missing (NaN), and what was removed.

    Two rules, for any composite:

    * **Above the world record.** A value above :func:`record_rain_rate_mm_h` of
      ``duration_min`` (the accumulation time of an accumulation product,
      :data:`RATE_SAMPLE_MIN` for a rain-rate product) is physically impossible:
      interference, a hot pixel, a decoding fault.
    * **Isolated spikes.** A pixel of at least ``spike_min_mm_h`` that is more than
      ``spike_ratio`` times the largest of its 8 neighbours in the same frame (neighbours
      outside the grid or coverage are left out; a pixel with no valid neighbour is not
      judged) is set missing in that frame; one that spikes in ``fixed_frames`` frames or
      more is a fixed target and is set missing in every frame. Rain cells, even the
      heaviest, are wider than one pixel; a lone pixel ten times its surroundings is not.

    Parameters
    ----------
    rate
        Rain rate (mm/h), ``(time, y, x)`` or ``(y, x)``, NaN outside coverage.
    duration_min
        The time each value stands for (minutes).

    Returns
    -------
    clean, report
        A float32 copy with the removed values NaN; ``report`` counts
        ``above_record`` (values), ``spikes`` (values), ``fixed_pixels`` and gives
        ``record_mm_h`` (the bound used), ``removed`` (all values set missing) and
        ``frames`` (how many frames were checked).

    Raises
    ------
    ValueError
        Naming ``rate`` if it is not 2-D or 3-D, or ``duration_min`` if not positive.
    """
    from scipy.ndimage import maximum_filter

    a = np.asarray(rate, dtype=np.float32)
    if a.ndim not in (2, 3):
        raise ValueError(f"rate must be (time, y, x) or (y, x), not of shape {a.shape}")
    cap = record_rain_rate_mm_h(duration_min)
    squeeze = a.ndim == 2
    a = (a[None] if squeeze else a).copy()  # float32 already; never the caller's array
    finite = np.isfinite(a)
    above = finite & (a > cap)
    a[above] = np.nan
    finite &= ~above
    ring = np.ones((1, 3, 3), bool)
    ring[0, 1, 1] = False
    neigh = maximum_filter(np.where(finite, a, -np.inf), footprint=ring, mode="constant", cval=-np.inf)
    with np.errstate(invalid="ignore"):
        spike = finite & (a >= spike_min_mm_h) & np.isfinite(neigh) & (a > spike_ratio * np.maximum(neigh, 0.0))
    fixed = spike.sum(axis=0) >= int(fixed_frames)
    remove = spike | (fixed[None] & finite)
    a[remove] = np.nan
    report = {"record_mm_h": round(cap, 1), "duration_min": float(duration_min),
              "above_record": int(above.sum()), "spikes": int(spike.sum()), "fixed_pixels": int(fixed.sum()),
              "removed": int(above.sum() + remove.sum()), "frames": int(a.shape[0])}
    return (a[0] if squeeze else a), report


#: How :func:`qc_note` lines begin.
QC_PREFIX = "quality control set missing: "


def qc_note(report: dict) -> str | None:
    """One line for the stream and the report on what :func:`quality_control` removed."""
    if not report["removed"]:
        return None
    parts = []
    if report["above_record"]:
        parts.append(f"{report['above_record']} value(s) above the world-record rain envelope "
                     f"({report['record_mm_h']:g} mm/h over {report['duration_min']:g} min, Jennings 1950)")
    if report["spikes"]:
        parts.append(f"{report['spikes']} isolated single-pixel spike(s) (at least {SPIKE_MIN_MM_H:g} mm/h and over "
                     f"{SPIKE_RATIO:g} times every neighbour)")
    if report["fixed_pixels"]:
        parts.append(f"{report['fixed_pixels']} fixed pixel(s) spiking in {FIXED_SPIKE_FRAMES} frames or more, "
                     f"masked in every frame")
    scope = f" (in {report['frames']} frame(s) of the whole grid)" if "frames" in report else ""
    return QC_PREFIX + "; ".join(parts) + scope


def value_duration_min(ds: xr.Dataset) -> float:
    """The time one value of the sequence stands for, for :func:`quality_control`: the
    accumulation time of an accumulation (``mm``), :data:`RATE_SAMPLE_MIN` for a rain
    rate or a reflectivity (an instantaneous sample)."""
    p = _precip(ds)
    if str(p.attrs.get("units", "")) == "mm":
        return float(p.attrs.get("accutime_min") or ds.attrs.get("timestep_min") or RATE_SAMPLE_MIN)
    return RATE_SAMPLE_MIN
