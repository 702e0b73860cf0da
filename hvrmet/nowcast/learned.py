"""The learned nowcasting models behind the common contract, from the shipped checkpoints.

Each model maps the last 6 frames (dBZ, 5 min apart) to the next 12, as a residual on
the pysteps Lucas-Kanade extrapolation of the last frame: the motion field (``velocity``,
pixels per step) and the extrapolation (``advected``, dBZ) are computed here with
:func:`hvrmet.nowcast.baselines.motion_field` / :func:`~hvrmet.nowcast.baselines.extrapolation`
-- the same functions as the ``extrapolation`` method, so an untrained model returns that
method's forecast -- or taken from the caller (``velocity=``, ``advected=``) so that
several methods share one. The checkpoint of each model is in
``hvrmet/nowcast/checkpoints/<name>.pt`` with a ``.json`` beside it naming the exact
command that reproduces it. A GPU is used when there is one, the CPU otherwise.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from hvrmet.extras import require

__all__ = ["pa_net", "metok", "impa_net", "load_model", "checkpoint_path", "DBZ_SCALE"]

DBZ_SCALE = 70.0
N_IN, N_OUT, MULTIPLE = 6, 12, 16


def checkpoint_path(name: str) -> Path:
    """Where the shipped checkpoint of ``name`` lives."""
    from hvrmet.nowcast.train import CHECKPOINT_DIR

    return CHECKPOINT_DIR / f"{name}.pt"


@functools.cache
def load_model(name: str, path: str | None = None, device: str | None = None):
    """The model with its trained weights, in evaluation mode, on ``device``.

    Raises :class:`~hvrmet.extras.MissingExtra` when torch (the ``nowcast`` extra) is not
    installed.
    """
    torch = require("torch", f"the learned nowcasting model {name!r}", extra="nowcast")

    from hvrmet.nowcast.models import build_model

    p = Path(path) if path else checkpoint_path(name)
    if not p.is_file():
        raise FileNotFoundError(f"no checkpoint for {name!r} at {p}; train one with "
                                f"`hvrmet nowcast train {name}`")
    ckpt = torch.load(p, map_location="cpu", weights_only=False)
    model = build_model(name, **ckpt["meta"]["config"])
    model.load_state_dict(ckpt["state_dict"])
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return model.to(dev).eval()


#: Grids larger than TILE x TILE pixels are forecast tile by tile (TILE-pixel tiles that
#: overlap by 2 x HALO, each keeping its centre): the networks were trained on 128-pixel
#: crops, and attention over a whole 1 000 x 1 000 grid costs quadratically more.
TILE, HALO = 512, 32


def _tiles(h: int, w: int, tile: int, halo: int):
    """``((r0, r1, c0, c1), (core r0, r1, c0, c1))`` per tile: run windows (multiples of
    16) and the part of each written back; the cores cover the grid exactly once."""
    def spans(n):
        if n <= tile:
            return [((0, n), (0, n))]
        step = tile - 2 * halo
        cores = [(a, min(a + step, n)) for a in range(0, n, step)]
        out = []
        for a, b in cores:
            r0 = max(0, a - halo)
            r1 = min(n, r0 + tile)
            r0 = max(0, r1 - tile)
            out.append(((r0, r1), (a, b)))
        return out
    for (r, cr) in spans(h):
        for (c, cc) in spans(w):
            yield (r[0], r[1], c[0], c[1]), (cr[0], cr[1], cc[0], cc[1])


def _forecast(name: str, frames: np.ndarray, timesteps: int = N_OUT, checkpoint: str | None = None,
              velocity=None, advected=None, model=None, tile: int = TILE, halo: int = HALO, **_kw) -> np.ndarray:
    torch = require("torch", f"the learned nowcasting model {name!r}", extra="nowcast")
    from hvrmet.nowcast.baselines import extrapolation, motion_field

    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3 or frames.shape[0] < N_IN:
        raise ValueError(f"frames must be (time>={N_IN}, y, x) dBZ; got shape {frames.shape}")
    if not 1 <= timesteps <= N_OUT:
        raise ValueError(f"timesteps must be 1..{N_OUT} for {name}; got {timesteps}")
    x = frames[-N_IN:]
    never = np.isnan(x).all(axis=0)
    ny, nx = x.shape[1:]
    v = motion_field(x) if velocity is None else np.asarray(velocity, dtype=np.float64)
    if v.shape != (2, ny, nx):
        raise ValueError(f"velocity must be (2, {ny}, {nx}); got {v.shape}")
    adv = extrapolation(x, N_OUT, velocity=v) if advected is None or np.asarray(advected).shape[0] < N_OUT \
        else np.asarray(advected, dtype=np.float32)[:N_OUT]
    if adv.shape != (N_OUT, ny, nx):
        raise ValueError(f"advected must be ({N_OUT}, {ny}, {nx}); got {adv.shape}")

    def scale(a):
        return np.clip(np.nan_to_num(a, nan=0.0), 0.0, DBZ_SCALE).astype(np.float32) / np.float32(DBZ_SCALE)

    py, px = (-ny) % MULTIPLE, (-nx) % MULTIPLE
    pad = ((0, 0), (0, py), (0, px))
    xs, advs = np.pad(scale(x), pad), np.pad(scale(adv), pad)
    vs = np.pad(v.astype(np.float32), pad)
    model = model if model is not None else load_model(name, checkpoint)
    dev = next(model.parameters()).device
    y = np.empty_like(advs)
    for (r0, r1, c0, c1), (cr0, cr1, cc0, cc1) in _tiles(xs.shape[1], xs.shape[2], tile, halo):
        with torch.inference_mode():
            t = model(torch.from_numpy(xs[None, :, r0:r1, c0:c1]).to(dev),
                      torch.from_numpy(advs[None, :, r0:r1, c0:c1]).to(dev),
                      torch.from_numpy(vs[None, :, r0:r1, c0:c1]).to(dev)).float().cpu().numpy()[0]
        y[:, cr0:cr1, cc0:cc1] = t[:, cr0 - r0:cr1 - r0, cc0 - c0:cc1 - c0]
    # the forecast as the extrapolation plus the network's change, in dBZ: where the
    # change is 0 (an untrained model) this is the extrapolation, bit for bit
    base = np.clip(np.nan_to_num(adv, nan=0.0), 0.0, DBZ_SCALE).astype(np.float32)
    change = (y[:, :ny, :nx] - advs[:, :ny, :nx]) * np.float32(DBZ_SCALE)
    out = np.clip(base + change, 0.0, DBZ_SCALE)[:timesteps]
    out[:, never] = np.nan
    return out.astype(np.float32)


def pa_net(frames: np.ndarray, timesteps: int = N_OUT, **kw) -> np.ndarray:
    """PA-Net forecast (see :mod:`hvrmet.nowcast.models.pa_net`)."""
    return _forecast("pa_net", frames, timesteps, **kw)


def metok(frames: np.ndarray, timesteps: int = N_OUT, **kw) -> np.ndarray:
    """MeTok / HyAGTransformer forecast (see :mod:`hvrmet.nowcast.models.metok`)."""
    return _forecast("metok", frames, timesteps, **kw)


def impa_net(frames: np.ndarray, timesteps: int = N_OUT, **kw) -> np.ndarray:
    """IMPA-Net forecast (see :mod:`hvrmet.nowcast.models.impa_net`)."""
    return _forecast("impa_net", frames, timesteps, **kw)
