"""The reference nowcasts, behind the package's one contract (see :mod:`hvrmet.nowcast`).

``forecast(frames, timesteps, **kw)``: ``frames`` is ``(time, y, x)`` dBZ 5 minutes apart
(the last one the analysis time), NaN outside the radar coverage; the result is
``(timesteps, y, x)`` dBZ, :data:`~hvrmet.nowcast.dataset.FLOOR_DBZ` (0 dBZ) for no rain
and NaN exactly where the input frames were never covered (NaN in every frame).

* ``persistence`` -- the last frame, unchanged, at every lead time (NaN where it is NaN).
* ``extrapolation`` -- pysteps' dense Lucas-Kanade optical flow (``motion.get_method("LK")``)
  on the last 3 frames in dBZ (a dB quantity, as pysteps' examples run it on dBR) with
  NaN set to the no-rain floor, then pysteps' semi-Lagrangian advection of the last frame
  (``nowcasts.get_method("extrapolation")``). Rain cannot come in from outside the grid
  or the coverage: such pixels get the floor.
* ``sprog`` -- pysteps' S-PROG (Seed 2003, J. Appl. Meteor. 42, 381-388) as the pysteps
  example runs it: dBZ -> rain rate (Marshall-Palmer) -> dBR with pysteps' ``dB_transform``
  (threshold 0.1 mm/h, no rain -15 dBR), Lucas-Kanade motion on the last 3 dBR frames,
  ``nowcasts.get_method("sprog")`` with 6 cascade levels, AR(2), FFT decomposition,
  Gaussian band-pass filter and mean probability matching, then back to rain rate (below
  0.1 mm/h -> 0; pixels advected in from outside the grid -> 0) and to dBZ.

Keywords shared by the motion-based methods: ``velocity`` (a precomputed ``(2, y, x)``
motion field in pixels per time step, e.g. from :func:`motion_field`, so that several
methods can share one), ``lk_kwargs`` (for pysteps' LK). Every method raises
``ValueError`` naming the argument on a bad ``frames`` shape or ``timesteps``.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from hvrmet.calc.precipitation import lucas_kanade
from hvrmet.nowcast.dataset import FLOOR_DBZ, dbz_to_rain_rate, rain_rate_to_dbz

__all__ = ["persistence", "extrapolation", "sprog", "motion_field", "check_inputs"]

#: Frames the motion field is estimated from (pysteps' examples use the last 3).
MOTION_FRAMES = 3
#: S-PROG in dBR: the rain threshold (mm/h) and the value given to no rain (dBR).
SPROG_THRESHOLD_MM_H = 0.1
SPROG_ZEROVALUE_DBR = -15.0


def check_inputs(frames, timesteps, min_frames: int = 1) -> tuple[np.ndarray, int, np.ndarray]:
    """Validate the contract's inputs.

    Returns
    -------
    frames, timesteps, never
        ``frames`` as float64 ``(time, y, x)``, ``timesteps`` as int, and the mask of
        pixels NaN in every frame.

    Raises
    ------
    ValueError
        Naming ``frames`` (not 3-D, fewer than ``min_frames`` frames, an empty grid, or
        no finite value) or ``timesteps`` (not a positive integer).
    """
    arr = np.asarray(frames)
    if arr.ndim != 3:
        raise ValueError(f"frames must be a (time, y, x) array of dBZ; got shape {arr.shape}")
    if arr.shape[0] < min_frames:
        raise ValueError(f"frames must hold at least {min_frames} frames (time axis first); got shape {arr.shape}")
    if arr.shape[1] < 2 or arr.shape[2] < 2:
        raise ValueError(f"frames must have a grid of at least 2 x 2 pixels; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"frames must be real numbers (dBZ); got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).any():
        raise ValueError("frames hold no finite value (all NaN)")
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) or timesteps < 1:
        raise ValueError(f"timesteps must be a positive integer (number of 5-min lead times); got {timesteps!r}")
    return arr, int(timesteps), np.isnan(arr).all(axis=0)


def persistence(frames, timesteps: int, **kw) -> np.ndarray:
    """The last frame repeated ``timesteps`` times (Eulerian persistence); NaN wherever
    the last frame is NaN (so at least where the input was never covered)."""
    arr, n, _never = check_inputs(frames, timesteps)
    return np.repeat(arr[-1:].astype(np.float32), n, axis=0)


def motion_field(frames, floor: float = FLOOR_DBZ, lk_kwargs: dict | None = None, max_pixels: int | None = None,
                 **lk_options) -> np.ndarray:
    """pysteps' dense Lucas-Kanade motion ``(2, y, x)`` (u, v in pixels per time step) from
    the last :data:`MOTION_FRAMES` frames, NaN set to ``floor``; frames of more than
    ``max_pixels`` pixels are tracked on block means (see
    :func:`hvrmet.calc.precipitation.lucas_kanade`; ``None``,
    the default, tracks every pixel, as the verification does)."""
    arr = np.asarray(frames, dtype=np.float64)[-MOTION_FRAMES:]
    arr = np.where(np.isfinite(arr), arr, floor)
    return lucas_kanade(arr, max_pixels, floor, lk_kwargs, **lk_options)


def _velocity(velocity, shape) -> np.ndarray:
    v = np.asarray(velocity, dtype=np.float64)
    if v.shape != (2,) + tuple(shape):
        raise ValueError(f"velocity must be (2, y, x) = (2, {shape[0]}, {shape[1]}); got {v.shape}")
    return v


def extrapolation(frames, timesteps: int, velocity=None, lk_kwargs: dict | None = None,
                  floor: float = FLOOR_DBZ, extrap_kwargs: dict | None = None, **kw) -> np.ndarray:
    """Lucas-Kanade motion of the last 3 frames; semi-Lagrangian advection of the last one."""
    import hvrmet._pysteps  # noqa: F401
    from pysteps import nowcasts

    arr, n, never = check_inputs(frames, timesteps, MOTION_FRAMES)
    v = motion_field(arr, floor, lk_kwargs) if velocity is None else _velocity(velocity, arr.shape[1:])
    last = np.where(np.isfinite(arr[-1]), arr[-1], floor)
    ek = {"outval": floor, **(extrap_kwargs or {})}
    with contextlib.redirect_stdout(io.StringIO()):
        out = nowcasts.get_method("extrapolation")(last, v, n, extrap_kwargs=ek)
    out = np.maximum(np.nan_to_num(np.asarray(out, dtype=np.float64), nan=floor), floor)
    out[:, never] = np.nan
    return out.astype(np.float32)


def sprog(frames, timesteps: int, velocity=None, lk_kwargs: dict | None = None, n_cascade_levels: int = 6,
          ar_order: int = 2, probmatching_method: str = "mean", floor: float = FLOOR_DBZ,
          extrap_kwargs: dict | None = None, **kw) -> np.ndarray:
    """pysteps S-PROG in dBR; back to dBZ (Marshall-Palmer) at the end.

    ``velocity``, if given, must be in pixels per time step (it is estimated on dBR
    otherwise); other keywords of :func:`pysteps.nowcasts.sprog.forecast` pass through.
    """
    import hvrmet._pysteps  # noqa: F401
    from pysteps import nowcasts
    from pysteps.utils.transformation import dB_transform

    arr, n, never = check_inputs(frames, timesteps, max(MOTION_FRAMES, ar_order + 1))
    rate = dbz_to_rain_rate(arr[-max(MOTION_FRAMES, ar_order + 1):], floor=floor)
    meta = {"unit": "mm/h", "transform": None, "threshold": SPROG_THRESHOLD_MM_H, "zerovalue": 0.0}
    dbr, meta = dB_transform(rate, meta, threshold=SPROG_THRESHOLD_MM_H, zerovalue=SPROG_ZEROVALUE_DBR)
    dbr[~np.isfinite(dbr)] = meta["zerovalue"]
    v = motion_field(dbr, meta["zerovalue"], lk_kwargs) if velocity is None else _velocity(velocity, arr.shape[1:])
    if np.any(dbr[-1] >= meta["threshold"]):
        opts = {k: kw[k] for k in ("decomp_method", "bandpass_filter_method", "conditional", "num_workers",
                                    "fft_method", "domain", "filter_kwargs", "norain_thr", "extrap_method") if k in kw}
        with contextlib.redirect_stdout(io.StringIO()):
            f = nowcasts.get_method("sprog")(
                dbr[-(ar_order + 1):], v, n, precip_thr=meta["threshold"], n_cascade_levels=n_cascade_levels,
                ar_order=ar_order, probmatching_method=probmatching_method, extrap_kwargs=extrap_kwargs,
                **{"decomp_method": "fft", "bandpass_filter_method": "gaussian", **opts})
        # pixels advected in from outside the grid come back NaN: no rain there
        f = np.nan_to_num(np.asarray(f, dtype=np.float64), nan=meta["zerovalue"])
        r, _ = dB_transform(f, meta, threshold=meta["threshold"], inverse=True)  # below 0.1 mm/h -> 0
    else:  # nothing above the threshold in the analysis: S-PROG forecasts no rain
        r = np.zeros((n,) + arr.shape[1:])
    out = rain_rate_to_dbz(r, floor=floor).astype(np.float64)
    out[:, never] = np.nan
    return out.astype(np.float32)
