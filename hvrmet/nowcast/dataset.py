"""Radar sequences of the real cases as one nowcasting dataset: dBZ, 5 minutes apart.

Every composite importer's unit ends in one physical quantity, reflectivity in dBZ:

* ``to_dbz`` -- rain rate (mm/h) or accumulation (mm over ``accutime_min``) becomes rain
  rate with pysteps' :func:`~pysteps.utils.conversion.to_rainrate` (through
  :func:`hvrmet.calc.precipitation.to_rain_rate`), then reflectivity with pysteps'
  :func:`~pysteps.utils.conversion.to_reflectivity` and the Marshall-Palmer relation
  Z = 200 R^1.6 (Marshall and Palmer 1948, J. Meteor. 5, 165-166), i.e.
  dBZ = 10 log10(200) + 16 log10(R): 1 mm/h is 23.0 dBZ. Reflectivity (``dBZ``, FMI) is
  kept. Every value below :data:`FLOOR_DBZ` (0 dBZ, about 0.04 mm/h), no rain included,
  is set to the floor, so "no echo" is the same number for every importer. Pixels
  outside the radar coverage stay NaN.
* ``resample_5min`` -- frames on a 5-minute grid from the first frame's time: MRMS
  (2 min) and BoM (6 min) frames between two native frames are linear interpolations in
  time, in dBZ, of the two neighbouring native frames (no advection: a moving cell is
  blended, not moved); native frames on the grid are copied; 5-minute data come back
  unchanged.
* ``frame_time_from_contents`` -- a frame's valid time read from the file itself where the
  format has one: ODIM_H5 composites (``opera_hdf5``, ``odim_hdf5``) carry it in the root
  ``/what`` group's ``date`` and ``time`` attributes (read with h5py); ``event_sequence``
  uses it instead of the time the reader took from the file name.
* ``event_sequence`` -- one case as ``(dbz5, times5, meta)``, cached in this process only
  (nothing is written to disk). MRMS (875 x 1750 at 0.04 degrees) is cropped to the
  512 x 512 window holding the most pixel-times >= 35 dBZ (:func:`heaviest_window`).
* ``export_sequences`` -- those sequences written to ``.npz`` files (float32 dBZ, times,
  meta with the source sha256), read back by ``event_sequence`` where the environment
  variable ``HVRMET_NOWCAST_SEQUENCES`` names their folder: training on a machine that
  has no radar files (a GPU machine) from the very sequences this one decoded.
* ``make_samples`` -- 18-frame (6 in + 12 out) space-time windows, ``patch`` x ``patch``
  pixels on a ``stride`` grid, skipping windows with little echo or with missing data.
* ``splits.yaml`` / ``load_split`` -- the train / validation / test split, by event.
* ``build_dataset`` -- a map-style (PyTorch) dataset of (input (6, H, W), target
  (12, H, W)) scaled as dBZ / 70 clipped to [0, 1], NaN -> 0, with the sha256 of every
  source file.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

__all__ = ["FLOOR_DBZ", "WET_DBZ", "DBZ_SCALE", "STEP_MIN", "EVENT_CROP", "CROP_ABOVE_PIXELS", "to_dbz", "grid_times",
           "resample_5min", "heaviest_window", "event_sequence", "sequence_from_dataset", "sample_index", "make_samples", "load_split",
           "SPLITS_FILE", "NowcastDataset", "build_dataset", "training_arrays", "scale_dbz",
           "rain_rate_to_dbz", "dbz_to_rain_rate", "frame_time_from_contents", "CONTENT_TIME_IMPORTERS",
           "export_sequences", "SEQUENCES_ENV"]

#: Reflectivity given to "no rain" and to every echo weaker than it (dBZ); 0 dBZ is
#: R = 0.036 mm/h under Marshall-Palmer.
FLOOR_DBZ = 0.0
#: Marshall-Palmer coefficients (Z = a R^b, Z in mm^6 m^-3, R in mm/h).
ZR_A, ZR_B = 200.0, 1.6
#: Reflectivity of 0.1 mm/h (7.0 dBZ): a pixel at or above it counts as an echo (the
#: wet threshold of :mod:`hvrmet.calc.precipitation`).
WET_DBZ = float(10.0 * np.log10(ZR_A * 0.1 ** ZR_B))
#: Scale of the learned models' inputs: dBZ / 70, clipped to [0, 1].
DBZ_SCALE = 70.0
#: Time step of every sequence after resampling (minutes).
STEP_MIN = 5.0
#: Sequences on grids of more than this many pixels (continental mosaics such as MRMS's
#: CONUS grid) are cropped by default to a square window around the heaviest rain ...
CROP_ABOVE_PIXELS = 10_000_000
#: ... of this many pixels on a side.
EVENT_CROP = 512
#: The split of the events (by event, never by frame).
SPLITS_FILE = Path(__file__).resolve().parent / "splits.yaml"
ROLE = "composite_sequence"
KM_PER_DEGREE = np.pi * 6371.0 / 180.0


# --------------------------------------------------------------------------- units

def rain_rate_to_dbz(rate: np.ndarray, floor: float = FLOOR_DBZ, zr_a: float = ZR_A,
                     zr_b: float = ZR_B) -> np.ndarray:
    """Rain rate (mm/h, NaN outside coverage) -> dBZ with pysteps' ``to_reflectivity``.

    Rates whose reflectivity is below ``floor`` (no rain included) become ``floor``.
    """
    import hvrmet._pysteps  # noqa: F401  (imports pysteps quietly)
    from pysteps.utils.conversion import to_reflectivity

    rate = np.asarray(rate, dtype=np.float64)
    finite = np.isfinite(rate)
    r_floor = (10.0 ** (floor / 10.0) / zr_a) ** (1.0 / zr_b)  # the rain rate of the floor
    meta = {"unit": "mm/h", "transform": None, "accutime": STEP_MIN, "threshold": r_floor,
            "zerovalue": 0.0}
    dbz, _ = to_reflectivity(np.where(finite, np.maximum(rate, 0.0), 0.0), meta, zr_a=zr_a, zr_b=zr_b)
    return np.where(finite, np.maximum(dbz, floor), np.nan).astype(np.float32)


def dbz_to_rain_rate(dbz: np.ndarray, floor: float = FLOOR_DBZ, zr_a: float = ZR_A,
                     zr_b: float = ZR_B) -> np.ndarray:
    """dBZ -> rain rate (mm/h) with pysteps' ``to_rainrate``; at or below ``floor`` -> 0 mm/h."""
    import hvrmet._pysteps  # noqa: F401
    from pysteps.utils.conversion import to_rainrate

    dbz = np.asarray(dbz, dtype=np.float64)
    finite = np.isfinite(dbz)
    meta = {"unit": "dBZ", "transform": "dB", "accutime": STEP_MIN, "threshold": floor,
            "zerovalue": floor}
    rate, _ = to_rainrate(np.where(finite, dbz, floor), meta, zr_a=zr_a, zr_b=zr_b)
    rate = np.where(np.where(finite, dbz, floor) > floor, rate, 0.0)
    return np.where(finite, rate, np.nan)


def to_dbz(ds, floor: float = FLOOR_DBZ, zr_a: float = ZR_A, zr_b: float = ZR_B) -> np.ndarray:
    """A decoded composite sequence as reflectivity, ``(time, y, x)`` float32 dBZ.

    Parameters
    ----------
    ds
        A ``composite_sequence`` dataset (``precip`` in ``mm/h``, ``mm`` over
        ``accutime_min`` minutes, or ``dBZ``).
    floor
        Reflectivity of no rain; every weaker value is raised to it (default 0 dBZ).

    Returns
    -------
    numpy.ndarray
        dBZ (Marshall-Palmer for rain rates and accumulations), ``floor`` for no rain,
        NaN outside the radar coverage.
    """
    from hvrmet.errors import VariableMissing
    from hvrmet.calc.precipitation import to_rain_rate

    if "precip" not in ds.data_vars or ds["precip"].ndim != 3:
        raise VariableMissing(ds.attrs.get("source_file"), "no 'precip' on (time, y, x): not a composite sequence")
    unit = str(ds["precip"].attrs.get("units", ""))
    if unit == "dBZ":
        v = np.asarray(ds["precip"].values, dtype=np.float32)
        return np.where(np.isfinite(v), np.maximum(v, floor), np.nan).astype(np.float32)
    rate = to_rain_rate(ds).values  # pysteps' to_rainrate: mm -> mm/h; raises on unknown units
    return rain_rate_to_dbz(rate, floor=floor, zr_a=zr_a, zr_b=zr_b)


def scale_dbz(dbz: np.ndarray) -> np.ndarray:
    """dBZ -> the learned models' scale: dBZ / 70 clipped to [0, 1], NaN -> 0 (float32)."""
    return (np.clip(np.nan_to_num(np.asarray(dbz, np.float32), nan=0.0), 0.0, DBZ_SCALE)
            / np.float32(DBZ_SCALE)).astype(np.float32)


# ------------------------------------------------------------------------- time grid

def grid_times(times, step_min: float = STEP_MIN) -> np.ndarray:
    """The times :func:`resample_5min` gives frames at (``datetime64[ns]``): ``times``
    themselves when there are fewer than two or they are already ``step_min`` apart, else
    every ``step_min`` minutes from the first to the last."""
    t = np.asarray(times).astype("datetime64[ns]")
    step = np.timedelta64(int(round(step_min * 60e9)), "ns")
    if len(t) < 2 or np.all(np.diff(t) == step):
        return t
    return np.arange(t[0], t[-1] + np.timedelta64(1, "ns"), step)


def resample_5min(dbz: np.ndarray, times, step_min: float = STEP_MIN,
                  max_gap_min: float = 15.0, grid=None) -> tuple[np.ndarray, np.ndarray]:
    """Frames every ``step_min`` minutes from the first frame's time to the last one's
    (or at the times ``grid``, each within the frames' span).

    A grid time that is a native frame time takes that frame; any other takes the linear
    interpolation in time (in dBZ) of the two native frames around it, e.g. for 6-min
    BoM data 10:05 = 1/6 * 10:00 + 5/6 * 10:06. NaN in either neighbour gives NaN. Native
    frames more than ``max_gap_min`` apart are not bridged: the grid frames between them
    are all NaN. A sequence already ``step_min`` apart is returned unchanged.

    Returns
    -------
    dbz5, times5
        ``(time5, y, x)`` float32 and the grid times (``datetime64[ns]``).
    """
    dbz = np.asarray(dbz)
    t = np.asarray(times).astype("datetime64[ns]")
    if dbz.ndim != 3 or len(t) != dbz.shape[0]:
        raise ValueError(f"dbz must be (time, y, x) with one time per frame; got {dbz.shape} and {len(t)} times")
    if len(t) > 1 and np.any(np.diff(t) <= np.timedelta64(0, "ns")):
        raise ValueError("times must be strictly increasing")
    if grid is not None:
        grid = np.asarray(grid).astype("datetime64[ns]")
        if grid.ndim != 1 or grid.size == 0 or grid[0] < t[0] or grid[-1] > t[-1]:
            raise ValueError(f"grid must be times within the frames' span {t[0]} to {t[-1]}")
    else:
        grid = grid_times(t, step_min)
        if np.array_equal(grid, t):  # already on the grid
            return dbz.astype(np.float32, copy=False), t
    out = np.empty((len(grid),) + dbz.shape[1:], np.float32)
    gap = np.timedelta64(int(round(max_gap_min * 60e9)), "ns")
    for k, g in enumerate(grid):
        i0 = int(np.searchsorted(t, g, side="right")) - 1
        if t[i0] == g:
            out[k] = dbz[i0]
            continue
        t0, t1 = t[i0], t[i0 + 1]
        if t1 - t0 > gap:
            out[k] = np.nan
            continue
        w = float((g - t0) / (t1 - t0))
        out[k] = (1.0 - w) * dbz[i0].astype(np.float64) + w * dbz[i0 + 1].astype(np.float64)
    return out, grid


# ---------------------------------------------------------------------------- events

def heaviest_window(dbz: np.ndarray, size: int, threshold: float = 35.0) -> tuple[int, int]:
    """Top-left ``(row, col)`` of the ``size`` x ``size`` window with the most pixel-times
    at or above ``threshold`` dBZ (ties: the first in row-major order; a window that fits
    the grid is returned whole, a grid smaller than ``size`` gives (0, 0))."""
    dbz = np.asarray(dbz)
    ny, nx = dbz.shape[-2:]
    sy, sx = min(size, ny), min(size, nx)
    count = np.sum(np.nan_to_num(dbz, nan=-np.inf) >= threshold, axis=0, dtype=np.int64)
    count = count + 1e-6 * np.sum(np.nan_to_num(dbz, nan=-np.inf) >= WET_DBZ, axis=0)  # dry ties: most echo
    c = np.zeros((ny + 1, nx + 1))
    c[1:, 1:] = count.cumsum(0).cumsum(1)
    sums = c[sy:, sx:] - c[:-sy, sx:] - c[sy:, :-sx] + c[:-sy, :-sx]
    r, q = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(r), int(q)


def _pixel_km(ds) -> tuple[float, float]:
    unit = str(ds.attrs.get("cartesian_unit", "m"))
    dx, dy = abs(float(ds.attrs["xpixelsize"])), abs(float(ds.attrs["ypixelsize"]))
    if unit.startswith("deg"):
        lat = float(np.nanmean(ds["lat"].values))
        return dy * KM_PER_DEGREE, dx * KM_PER_DEGREE * float(np.cos(np.deg2rad(lat)))
    s = {"m": 1e-3, "km": 1.0}[unit]
    return dy * s, dx * s


#: Importers whose files state their own valid time (read by :func:`frame_time_from_contents`).
CONTENT_TIME_IMPORTERS = ("opera_hdf5", "odim_hdf5")


def frame_time_from_contents(path: str | Path, importer: str) -> np.datetime64 | None:
    """The valid time a composite file states inside itself, or ``None`` when its format
    has none this reads.

    ODIM_H5 (``opera_hdf5``, ``odim_hdf5``): the root ``/what`` group's ``date``
    (``YYYYMMDD``) and ``time`` (``HHMMSS``) attributes, the nominal time of the product
    (ODIM_H5 2.x, section 3.1), read with h5py.
    """
    if importer not in CONTENT_TIME_IMPORTERS:
        return None
    import h5py

    with h5py.File(path, "r") as h5:
        if "what" not in h5:
            return None
        w = h5["what"].attrs

        def text(v) -> str:
            v = v[0] if isinstance(v, np.ndarray) and v.shape else v
            return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)

        if "date" not in w or "time" not in w:
            return None
        d, t = text(w["date"]).strip(), text(w["time"]).strip()
    if len(d) != 8 or len(t) < 4 or not (d + t[:6]).isdigit():
        return None
    t = (t + "00")[:6]
    return np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:6]}", "ns")


def _content_times(ds, native: np.ndarray) -> tuple[np.ndarray, str]:
    """The frame times from the files' contents where the importer has them."""
    importer = str(ds.attrs.get("importer", ""))
    files = list(ds.attrs.get("source_files", []))
    if importer not in CONTENT_TIME_IMPORTERS or len(files) != len(native):
        return native, "reader"
    got = [frame_time_from_contents(f, importer) for f in files]
    if any(g is None for g in got):
        return native, "reader"
    return np.asarray(got, dtype="datetime64[ns]"), "file contents (ODIM /what date, time)"


#: Environment variable naming a folder of sequences written by :func:`export_sequences`;
#: where it holds ``<case_id>.npz`` for the crop asked for, :func:`event_sequence` reads
#: that file instead of the case's radar files (training on a machine without the data).
SEQUENCES_ENV = "HVRMET_NOWCAST_SEQUENCES"
SEQUENCE_FORMAT = 1


def _exported_path(folder: str | Path, case_id: str, crop: int | None) -> Path:
    tag = "full" if crop is None else ("default" if crop == -1 else f"crop{int(crop)}")
    return Path(folder) / f"{case_id}.{tag}.npz"


def export_sequences(case_ids: list[str], folder: str | Path, crop: int | None = -1) -> list[Path]:
    """Write each case's :func:`event_sequence` to ``folder/<case_id>.<crop>.npz``.

    The file holds the dBZ on the 5-minute grid exactly as decoded (``float32``, NaN
    outside coverage kept), the frame times and the meta, the sha256 of every source file
    included, so a pool built from it (:mod:`hvrmet.nowcast.pool`) has the same cache key
    and the same samples as one built from the radar files. Point :data:`SEQUENCES_ENV`
    at ``folder`` on the machine without the data, before the first
    :func:`event_sequence` call of the process (its results are cached per process).
    """
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    crop = int(crop) if crop else None  # as event_sequence reads it: 0 and None are the whole grid
    out = []
    for cid in case_ids:
        dbz5, t5, meta = event_sequence(cid, crop)
        path = _exported_path(folder, cid, crop)
        np.savez_compressed(path, dbz=np.asarray(dbz5, np.float32), times=np.asarray(t5, "datetime64[ns]").astype(np.int64),
                            meta=np.array(json.dumps({**meta, "format": SEQUENCE_FORMAT}, default=list)))
        out.append(path)
    return out


def _read_exported(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    import json

    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        if meta.pop("format", None) != SEQUENCE_FORMAT:
            raise ValueError(f"{path}: not a sequence file of format {SEQUENCE_FORMAT} (written by export_sequences)")
        dbz5 = z["dbz"].astype(np.float32)
        t5 = z["times"].astype("datetime64[ns]")
    for k in ("native_shape", "shape", "pixel_km", "lat_range", "lon_range", "zr"):
        if isinstance(meta.get(k), list):
            meta[k] = tuple(meta[k])
    meta["read_from"] = str(path)
    dbz5.setflags(write=False)
    t5.setflags(write=False)
    return dbz5, t5, meta


@functools.lru_cache(maxsize=None)
def _event(case_id: str, crop: int | None):
    import os

    folder = os.environ.get(SEQUENCES_ENV)
    exported = _exported_path(folder, case_id, crop) if folder else None
    if exported is not None and exported.is_file():
        return _read_exported(exported)
    from hvrmet.cases import get_case, load_role

    return sequence_from_dataset(load_role(get_case(case_id), ROLE), crop, case_id=case_id)


def sequence_from_dataset(ds, crop: int | None = -1, case_id: str = "") -> tuple[np.ndarray, np.ndarray, dict]:
    """A loaded composite sequence (a reader's ``xarray.Dataset``) as read-only dBZ on the
    5-minute grid, with the same meta as :func:`event_sequence` (which calls this on the
    catalogue's sequence); ``meta["crop"]`` says which window of ``ds`` was kept."""
    crop = int(crop) if crop else None
    dbz = to_dbz(ds)
    native, time_source = _content_times(ds, ds["time"].values.astype("datetime64[ns]"))
    order = np.argsort(native, kind="stable")
    if np.any(order != np.arange(len(order))):
        dbz, native = dbz[order], native[order]
    dbz5, t5 = resample_5min(dbz, native)
    window = None
    if crop == -1:  # the default: only continental mosaics are cropped
        crop = EVENT_CROP if dbz5.shape[1] * dbz5.shape[2] > CROP_ABOVE_PIXELS else None
    if crop:
        r, c = heaviest_window(dbz5, crop)
        dbz5 = np.ascontiguousarray(dbz5[:, r:r + crop, c:c + crop])
        window = {"row": r, "col": c, "size": int(crop)}
        lat = ds["lat"].values[r:r + crop, c:c + crop]
        lon = ds["lon"].values[r:r + crop, c:c + crop]
    else:
        lat, lon = ds["lat"].values, ds["lon"].values
    dbz5.setflags(write=False)
    t5 = np.asarray(t5)
    t5.setflags(write=False)
    dy, dx = _pixel_km(ds)
    meta = {
        "case_id": case_id, "importer": ds.attrs.get("importer"),
        "source_units": str(ds["precip"].attrs.get("units")),
        "native_step_min": float(ds.attrs.get("timestep_min")),
        "step_min": STEP_MIN, "interpolated": [bool(not np.any(native == t)) for t in t5],
        "time_source": time_source, "native_times": [str(t) for t in native],
        "native_shape": tuple(int(n) for n in ds["precip"].shape), "shape": tuple(int(n) for n in dbz5.shape),
        "crop": window, "pixel_km": (round(dy, 4), round(dx, 4)),
        "lat_range": (float(np.nanmin(lat)), float(np.nanmax(lat))),
        "lon_range": (float(np.nanmin(lon)), float(np.nanmax(lon))),
        "max_dbz": float(np.nanmax(dbz5)), "max_dbz_native": float(np.nanmax(dbz)),
        "floor_dbz": FLOOR_DBZ, "zr": (ZR_A, ZR_B),
        "source_files": list(ds.attrs.get("source_files", [])),
        "source_sha256": list(ds.attrs.get("source_sha256", [])),
    }
    return dbz5, t5, meta


def event_sequence(case_id: str, crop: int | None = -1) -> tuple[np.ndarray, np.ndarray, dict]:
    """One case's composite sequence as read-only dBZ on the 5-minute grid.

    Parameters
    ----------
    case_id
        A catalogue case with a ``composite_sequence`` (e.g. ``fmi``, ``mrms20190610``).
    crop
        Side of the square window around the heaviest rain to keep (pixels); ``None``
        keeps the whole grid; the default (``-1``) crops grids of more than
        :data:`CROP_ABOVE_PIXELS` pixels to :data:`EVENT_CROP` on a side (a CONUS mosaic).

    Returns
    -------
    dbz5, times5, meta
        ``(time, y, x)`` float32 dBZ (read-only, shared by every caller in this process),
        the frame times, and a dict with the case id, source unit, native time step,
        which frames are interpolated, the crop window, the pixel size in km (dy, dx),
        the maximum dBZ, and the source files with their sha256.
    """
    return _event(case_id, int(crop) if crop else None)


# --------------------------------------------------------------------------- samples

def _box_sums(a: np.ndarray, patch: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Count of True in ``a`` (time, y, x) over patch x patch boxes with top-left corners ys x xs."""
    c = np.cumsum(a, axis=1, dtype=np.int32)  # rows first, then only the rows needed
    c = np.concatenate([np.zeros((a.shape[0], 1, a.shape[2]), np.int32), c], axis=1)
    rows = c[:, ys + patch, :] - c[:, ys, :]  # (time, len(ys), x)
    c = np.concatenate([np.zeros(rows.shape[:2] + (1,), np.int64), rows.cumsum(axis=2, dtype=np.int64)], axis=2)
    return c[:, :, xs + patch] - c[:, :, xs]


def sample_index(dbz5: np.ndarray, n_in: int = 6, n_out: int = 12, patch: int = 128, stride: int = 64,
                 min_wet_fraction: float = 0.05, rng_seed: int = 0, *, t_stride: int = 1,
                 max_nan_fraction: float = 0.05, wet_dbz: float = WET_DBZ,
                 max_samples: int | None = None) -> np.ndarray:
    """The kept windows as ``(N, 3)`` int rows ``(t0, row, col)`` (see :func:`make_samples`)."""
    dbz5 = np.asarray(dbz5)
    if dbz5.ndim != 3:
        raise ValueError(f"dbz5 must be (time, y, x); got shape {dbz5.shape}")
    for name, v in (("n_in", n_in), ("n_out", n_out), ("patch", patch), ("stride", stride), ("t_stride", t_stride)):
        if int(v) < 1:
            raise ValueError(f"{name} must be >= 1; got {v}")
    n = n_in + n_out
    nt, ny, nx = dbz5.shape
    if nt < n or ny < patch or nx < patch:
        return np.zeros((0, 3), np.int64)
    ys = np.arange(0, ny - patch + 1, stride)
    xs = np.arange(0, nx - patch + 1, stride)
    nan = np.isnan(dbz5)
    with np.errstate(invalid="ignore"):
        wet = _box_sums(~nan & (dbz5 >= wet_dbz), patch, ys, xs)
    bad = _box_sums(nan, patch, ys, xs)
    cw = np.concatenate([np.zeros((1,) + wet.shape[1:]), wet.cumsum(0)])
    cb = np.concatenate([np.zeros((1,) + bad.shape[1:]), bad.cumsum(0)])
    t0 = np.arange(0, nt - n + 1, t_stride)
    wet_w = cw[t0 + n] - cw[t0]
    bad_w = cb[t0 + n] - cb[t0]
    total = n * patch * patch
    valid = total - bad_w
    keep = (bad_w <= max_nan_fraction * total) & (wet_w >= min_wet_fraction * np.maximum(valid, 1))
    it, iy, ix = np.nonzero(keep)
    idx = np.stack([t0[it], ys[iy], xs[ix]], axis=1).astype(np.int64)
    if max_samples is not None and len(idx) > max_samples:
        rng = np.random.default_rng(rng_seed)
        idx = idx[np.sort(rng.choice(len(idx), size=int(max_samples), replace=False))]
    return idx


def make_samples(dbz5: np.ndarray, n_in: int = 6, n_out: int = 12, patch: int = 128, stride: int = 64,
                 min_wet_fraction: float = 0.05, rng_seed: int = 0, **kw) -> np.ndarray:
    """Space-time windows of a dBZ sequence, ``(N, n_in + n_out, patch, patch)`` float32 dBZ.

    Windows start at every ``t_stride``-th frame (default every frame) and at every
    ``stride``-th row and column, in (time, row, column) order. A window is skipped when
    more than ``max_nan_fraction`` (default 5 %) of its pixel-times are NaN (outside the
    coverage) or when fewer than ``min_wet_fraction`` of its valid pixel-times hold an echo
    (>= :data:`WET_DBZ`, 0.1 mm/h). ``max_samples`` (default all) keeps a random subset,
    drawn with ``rng_seed``, in the same order. The result is deterministic.
    """
    idx = sample_index(dbz5, n_in, n_out, patch, stride, min_wet_fraction, rng_seed, **kw)
    n = n_in + n_out
    out = np.empty((len(idx), n, patch, patch), np.float32)
    for k, (t, r, c) in enumerate(idx):
        out[k] = dbz5[t:t + n, r:r + patch, c:c + patch]
    return out


# ---------------------------------------------------------------------------- splits

def load_split(name: str) -> list[str]:
    """The case ids of one split (``train``, ``validation`` or ``test``) in ``splits.yaml``."""
    import yaml

    splits = yaml.safe_load(SPLITS_FILE.read_text())["splits"]
    if name not in splits:
        raise ValueError(f"unknown split {name!r}; known splits: {', '.join(splits)}")
    return list(splits[name])


try:  # a torch Dataset when torch is there (DataLoader accepts any map-style object)
    from torch.utils.data import Dataset as _Base
except ImportError:  # pragma: no cover
    _Base = object


class NowcastDataset(_Base):
    """(input, target) pairs of one split, cut lazily from the event sequences.

    ``ds[i]`` is ``(x, y)``: float32 numpy arrays ``(n_in, H, W)`` and ``(n_out, H, W)``,
    dBZ / 70 clipped to [0, 1], NaN -> 0 (a DataLoader turns them into tensors).
    Attributes: ``cases``, ``index`` (``(N, 4)`` rows: event number, t0, row, col),
    ``source_sha256`` (case -> sha256 of every source file), ``meta`` (case -> event meta).
    """

    def __init__(self, events: dict[str, np.ndarray], index: np.ndarray, n_in: int, n_out: int,
                 patch: int, source_sha256: dict[str, list[str]], meta: dict[str, dict]):
        self.cases = list(events)
        self._seq = [events[c] for c in self.cases]
        self.index = index
        self.n_in, self.n_out, self.patch = n_in, n_out, patch
        self.source_sha256 = source_sha256
        self.meta = meta

    def __len__(self) -> int:
        return len(self.index)

    def window(self, i: int) -> np.ndarray:
        """Sample ``i`` as scaled ``(n_in + n_out, H, W)``."""
        e, t, r, c = (int(v) for v in self.index[i])
        n, p = self.n_in + self.n_out, self.patch
        return scale_dbz(self._seq[e][t:t + n, r:r + p, c:c + p])

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        w = self.window(i % len(self))
        return w[:self.n_in], w[self.n_in:]

    def arrays(self) -> np.ndarray:
        """Every sample, ``(N, n_in + n_out, H, W)`` float32 scaled (memory: N x 1.2 MB at 128 px)."""
        n, p = self.n_in + self.n_out, self.patch
        out = np.empty((len(self), n, p, p), np.float32)
        for i in range(len(self)):
            out[i] = self.window(i)
        return out

    def counts(self) -> dict[str, int]:
        """Number of samples per case."""
        return {c: int(np.sum(self.index[:, 0] == k)) for k, c in enumerate(self.cases)}


def build_dataset(split: str | list[str], patch: int = 128, stride: int = 64, n_in: int = 6, n_out: int = 12,
                  min_wet_fraction: float = 0.05, rng_seed: int = 0, **kw) -> NowcastDataset:
    """The samples of a split (a name in ``splits.yaml`` or a list of case ids).

    Keywords after ``rng_seed`` go to :func:`sample_index` (``t_stride``,
    ``max_nan_fraction``, ``max_samples`` -- per event --, ``wet_dbz``).
    """
    cases = load_split(split) if isinstance(split, str) else list(split)
    events, rows, sha, meta = {}, [], {}, {}
    for k, cid in enumerate(cases):
        dbz5, _t, m = event_sequence(cid)
        events[cid] = dbz5
        meta[cid] = m
        sha[cid] = list(m["source_sha256"])
        idx = sample_index(dbz5, n_in, n_out, patch, stride, min_wet_fraction, rng_seed + k, **kw)
        rows.append(np.concatenate([np.full((len(idx), 1), k, np.int64), idx], axis=1))
    index = np.concatenate(rows) if rows else np.zeros((0, 4), np.int64)
    return NowcastDataset(events, index, n_in, n_out, patch, sha, meta)


def training_arrays(patch: int = 128, stride: int = 64, max_train: int | None = None,
                    max_val: int | None = None, **kw) -> tuple[np.ndarray, np.ndarray, dict]:
    """The ``train`` and ``validation`` splits as scaled arrays ``(N, 18, patch, patch)``
    and the sha256 of their source files (``{"train": {case: [...]}, "validation": ...}``).

    Both arrays are in a seeded random order (``rng_seed``, default 0), so the first
    validation batches span the whole validation event rather than its first frames.
    ``max_train`` / ``max_val`` keep that many samples (memory: 1.2 MB per sample at
    128 px; at the defaults the train split holds about 4 700 samples, 5.5 GB).
    Other keywords go to :func:`build_dataset` (e.g. ``t_stride=2`` halves the memory).
    """
    out, sha = [], {}
    for split, cap in (("train", max_train), ("validation", max_val)):
        ds = build_dataset(split, patch=patch, stride=stride, **kw)
        rng = np.random.default_rng(kw.get("rng_seed", 0))
        order = rng.permutation(len(ds))
        if cap is not None:
            order = order[:int(cap)]
        ds.index = ds.index[order]
        out.append(ds.arrays())
        sha[split] = ds.source_sha256
    return out[0], out[1], sha
