"""Training and validation samples in the Lagrangian frame: random crops of whole domains.

:func:`build_pool` cuts, from every event of a split, 18-frame windows (6 in + 12 out)
at every ``t_stride``-th start frame and ``crops_per_start`` random positions over the
*whole* domain (kept when at most 5 % of the window's pixel-times are missing and at
least ``min_wet`` of them hold an echo >= 0.1 mm/h). For each start the pysteps
Lucas-Kanade motion is computed once on the full domain from the last 3 input frames,
and the pysteps semi-Lagrangian extrapolation of the last input frame is computed on the
crop plus a ``margin`` (so echo advected in from outside the crop is there) and cut to
the crop: exactly what :mod:`hvrmet.nowcast.learned` feeds the models at inference.

A :class:`Pool` stores reflectivity as ``uint8`` (``round(3 dBZ)``, 1/3-dBZ steps) and
motion as ``float16`` (about 0.56 MB per 128x128 sample). :func:`batch` draws a batch,
applies a random rotation by a multiple of 90 degrees and a random flip to every field
(motion components rotated and flipped with the grid, so the extrapolation stays the
extrapolation of the transformed scene) and returns model-scale tensors.

A pool is cached under ``out/nowcast/pool/`` (not in the package) keyed by its settings
and the sha256 of its source files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hvrmet.nowcast.dataset import DBZ_SCALE, WET_DBZ, event_sequence

__all__ = ["Pool", "build_pool", "batch", "augment", "QUANT", "CACHE_DIR"]

#: uint8 storage: round(QUANT * dBZ), 0..210 for 0..70 dBZ.
QUANT = 3.0
CACHE_DIR = Path("out/nowcast/pool")
N_IN, N_OUT = 6, 12


@dataclass
class Pool:
    """Samples of one split: ``obs`` (N, 6, P, P), ``target`` (N, 12, P, P) and ``adv``
    (N, 12, P, P) as ``uint8`` 3 x dBZ; ``motion`` (N, 2, P, P) float16 pixels per step;
    ``index`` (N, 4): event number, start frame, row, col."""

    obs: np.ndarray
    target: np.ndarray
    adv: np.ndarray
    motion: np.ndarray
    index: np.ndarray
    cases: list[str]
    source_sha256: dict[str, list[str]]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def stats(self) -> dict:
        """Samples, distinct start windows and frames per event, and the fractions of target
        pixels at or above 20, 35 and 45 dBZ (the losses' normalising constants)."""
        per = {}
        for k, c in enumerate(self.cases):
            sel = self.index[:, 0] == k
            starts = np.unique(self.index[sel, 1])
            frames = set()
            for t in starts:
                frames.update(range(int(t), int(t) + N_IN + N_OUT))
            per[c] = {"samples": int(sel.sum()), "start_windows": int(len(starts)), "frames": len(frames)}
        q = self.target
        n = q.size or 1
        fr = [float(np.count_nonzero(q >= round(QUANT * t)) / n) for t in (20.0, 35.0, 45.0)]
        return {"events": len(self.cases), "samples": int(len(self)),
                "frames": int(sum(v["frames"] for v in per.values())),
                "start_windows": int(sum(v["start_windows"] for v in per.values())),
                "per_event": per, "level_fractions": fr, "patch": int(self.obs.shape[-1])}


def _q(dbz: np.ndarray) -> np.ndarray:
    return np.round(np.clip(np.nan_to_num(dbz, nan=0.0), 0.0, DBZ_SCALE) * QUANT).astype(np.uint8)


def _key(cases, **settings) -> str:
    shas = []
    for c in cases:
        shas += list(event_sequence(c)[2]["source_sha256"])
    text = json.dumps({"cases": list(cases), "sha": shas, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _start_samples(job):
    """Motion (on the whole domain, once) and the per-crop extrapolations of one start
    frame: ``job`` is ``(frames, chosen, patch, margin)`` with ``frames`` the last 3 input
    frames of the whole domain; returns ``[(advected uint8, motion float16), ...]``."""
    from hvrmet.nowcast.baselines import extrapolation, motion_field

    frames, chosen, patch, margin = job
    _n, ny, nx = frames.shape
    v = motion_field(frames)
    rows = []
    for r, c in chosen:
        r0, r1 = max(r - margin, 0), min(r + patch + margin, ny)
        c0, c1 = max(c - margin, 0), min(c + patch + margin, nx)
        e = extrapolation(frames[:, r0:r1, c0:c1], N_OUT, velocity=v[:, r0:r1, c0:c1])
        sl = (slice(r - r0, r - r0 + patch), slice(c - c0, c - c0 + patch))
        rows.append((_q(e[:, sl[0], sl[1]]), v[:, r:r + patch, c:c + patch].astype(np.float16)))
    return rows


def _worker_init():  # one thread per worker process: the parallelism is across starts
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def build_pool(cases: list[str], patch: int = 128, crops_per_start: int = 8, t_stride: int = 2,
               margin: int = 32, min_wet: float = 0.05, max_nan: float = 0.05, seed: int = 0,
               cache: bool = True, tries: int = 40, workers: int = 1) -> Pool:
    """The Lagrangian-frame samples of ``cases`` (see the module docstring).

    The crops are drawn first, in one seeded sequence; the motion and extrapolations of
    each start frame are then computed, in ``workers`` spawned processes when more than
    one (each is sent the start's last 3 frames), so the pool does not depend on
    ``workers``.
    """
    settings = dict(patch=patch, crops_per_start=crops_per_start, t_stride=t_stride, margin=margin,
                    min_wet=min_wet, max_nan=max_nan, seed=seed, version=1)
    path = CACHE_DIR / f"pool_{_key(cases, **settings)}.npz"
    sha = {c: list(event_sequence(c)[2]["source_sha256"]) for c in cases}
    if cache and path.is_file():
        z = np.load(path)
        return Pool(z["obs"], z["target"], z["adv"], z["motion"], z["index"], list(cases), sha, settings)
    rng = np.random.default_rng(seed)
    jobs, idx, obs, tgt = [], [], [], []
    n = N_IN + N_OUT
    for k, cid in enumerate(cases):
        dbz, _t, _m = event_sequence(cid)
        nt, ny, nx = dbz.shape
        if ny < patch or nx < patch:
            continue
        nan = np.isnan(dbz)
        with np.errstate(invalid="ignore"):
            wet = ~nan & (dbz >= WET_DBZ)
        for t0 in range(0, nt - n + 1, t_stride):
            win_nan = nan[t0:t0 + n].mean(0)
            win_wet = wet[t0:t0 + n].mean(0)
            chosen = []
            for _ in range(tries):
                if len(chosen) >= crops_per_start:
                    break
                r = int(rng.integers(0, ny - patch + 1))
                c = int(rng.integers(0, nx - patch + 1))
                bad = float(win_nan[r:r + patch, c:c + patch].mean())
                if bad > max_nan:
                    continue
                if float(win_wet[r:r + patch, c:c + patch].mean()) < min_wet * (1.0 - bad):
                    continue
                chosen.append((r, c))
            if not chosen:
                continue
            jobs.append((np.ascontiguousarray(dbz[t0 + N_IN - 3:t0 + N_IN]), tuple(chosen), patch, margin))
            for r, c in chosen:
                obs.append(_q(dbz[t0:t0 + N_IN, r:r + patch, c:c + patch]))
                tgt.append(_q(dbz[t0 + N_IN:t0 + n, r:r + patch, c:c + patch]))
                idx.append((k, t0, r, c))
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # spawned, not forked: a fork of a process whose OpenCV or PyTorch thread pools
        # have run can deadlock in the child
        with ProcessPoolExecutor(max_workers=int(workers), mp_context=mp.get_context("spawn"),
                                 initializer=_worker_init) as ex:
            results = list(ex.map(_start_samples, jobs, chunksize=1))
    else:
        results = [_start_samples(j) for j in jobs]
    rows = [row for res in results for row in res]
    shape = (0, 0, patch, patch)

    def stack(items, dtype):
        return np.stack(items) if items else np.zeros(shape, dtype)

    pool = Pool(stack(obs, np.uint8), stack(tgt, np.uint8), stack([r[0] for r in rows], np.uint8),
                stack([r[1] for r in rows], np.float16),
                np.asarray(idx, np.int64).reshape(-1, 4), list(cases), sha, settings)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, obs=pool.obs, target=pool.target, adv=pool.adv, motion=pool.motion, index=pool.index)
    return pool


def augment(fields: list[np.ndarray], motion: np.ndarray, k: int, flip: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """Rotate ``(..., H, W)`` arrays by ``k`` x 90 degrees (``np.rot90`` on the last two
    axes) and then, if ``flip``, mirror the columns; ``motion`` ``(..., 2, H, W)`` (u along
    columns, v along rows) is moved with the grid and its components transformed: a
    rotation maps (u, v) -> (v, -u), a column flip (u, v) -> (-u, v)."""
    out = [np.rot90(f, k, axes=(-2, -1)) for f in fields]
    m = np.rot90(motion, k, axes=(-2, -1))
    u, v = m[..., 0, :, :], m[..., 1, :, :]
    for _ in range(k % 4):
        u, v = v, -u
    if flip:
        out = [f[..., ::-1] for f in out]
        u, v = -u[..., ::-1], v[..., ::-1]
    m = np.stack([u, v], axis=-3)
    return [np.ascontiguousarray(f) for f in out], np.ascontiguousarray(m)


def batch(pool: Pool, idx: np.ndarray, rng: np.random.Generator | None = None):
    """Tensors ``x`` (B, 6), ``advected`` (B, 12), ``motion`` (B, 2), ``y`` (B, 12) of the
    samples ``idx`` on the model scale; with ``rng``, one random rotation/flip per sample."""
    import torch

    xs, advs, ms, ys = [], [], [], []
    for i in np.asarray(idx):
        f = [pool.obs[i], pool.adv[i], pool.target[i]]
        m = pool.motion[i].astype(np.float32)
        if rng is not None:
            f, m = augment(f, m, int(rng.integers(0, 4)), bool(rng.integers(0, 2)))
        xs.append(f[0])
        advs.append(f[1])
        ys.append(f[2])
        ms.append(m)
    s = np.float32(QUANT * DBZ_SCALE)
    return (torch.from_numpy(np.stack(xs).astype(np.float32) / s),
            torch.from_numpy(np.stack(advs).astype(np.float32) / s),
            torch.from_numpy(np.stack(ms).astype(np.float32)),
            torch.from_numpy(np.stack(ys).astype(np.float32) / s))
