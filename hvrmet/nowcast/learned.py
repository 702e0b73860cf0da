"""The learned nowcasting models behind the common contract, from the shipped checkpoints.

Each model maps the last 6 frames (dBZ, 5 min apart) to the next 12. The checkpoint of
each is in ``hvrmet/nowcast/checkpoints/<name>.pt`` with a ``.json`` beside it naming the
exact command that reproduces it. A GPU is used when there is one, the CPU otherwise.
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


def _forecast(name: str, frames: np.ndarray, timesteps: int = N_OUT, checkpoint: str | None = None,
              **_kw) -> np.ndarray:
    torch = require("torch", f"the learned nowcasting model {name!r}", extra="nowcast")

    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3 or frames.shape[0] < N_IN:
        raise ValueError(f"frames must be (time>={N_IN}, y, x) dBZ; got shape {frames.shape}")
    if not 1 <= timesteps <= N_OUT:
        raise ValueError(f"timesteps must be 1..{N_OUT} for {name}; got {timesteps}")
    x = frames[-N_IN:]
    never = np.isnan(x).all(axis=0)
    x = np.clip(np.nan_to_num(x, nan=0.0), 0.0, DBZ_SCALE) / DBZ_SCALE
    ny, nx = x.shape[1:]
    py, px = (-ny) % MULTIPLE, (-nx) % MULTIPLE
    x = np.pad(x, ((0, 0), (0, py), (0, px)))
    model = load_model(name, checkpoint)
    dev = next(model.parameters()).device
    with torch.inference_mode():
        y = model(torch.from_numpy(x)[None].to(dev)).float().cpu().numpy()[0]
    out = np.clip(y[:timesteps, :ny, :nx], 0.0, 1.0) * DBZ_SCALE
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
