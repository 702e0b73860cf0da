"""Pieces shared by the learned nowcasting models.

Every model maps ``x`` of shape ``(B, T_IN=6, H, W)`` to ``y`` of shape
``(B, T_OUT=12, H, W)``, both reflectivity scaled to [0, 1] (dBZ / 70, clipped; 0 = no
echo), 5 minutes apart. ``H`` and ``W`` may be any multiple of 16: nothing here holds a
table whose size depends on the grid, position enters only through convolutions.

What lives here:

* the scale and the thresholds (:data:`DBZ_SCALE`, :data:`THRESHOLDS_DBZ`,
  :func:`dbz_to_unit`, :func:`unit_to_dbz`, :func:`intensity_bins`);
* :class:`NowcastModel`, the base class that holds ``config``, ``aux_loss`` and
  ``stats`` and checks the input;
* small layers: :class:`LayerNorm2d`, :class:`ConvPosEnc` (convolutional position
  encoding), :class:`FrameStem` (a strided convolutional patch embedding) and
  :class:`UpDecoder` (pixel-shuffle decoder to the 12 output frames);
* the Lagrangian residual design all three models share (:func:`lagrangian_inputs`,
  :func:`lagrangian_output`, :func:`advect`, :func:`context_channels`): every model gets,
  beside the 6 observed frames, the advection of the last observation by a motion field
  (``advected``, ``(B, 12, H, W)``, normally pysteps' Lucas-Kanade extrapolation computed
  once per sample outside the network and passed in) and the motion field itself
  (``motion``, ``(B, 2, H, W)``, pixels per 5-min step, pysteps' order ``(u, v)`` = (x, y)).
  The forecast is ``advected + delta`` (clipped to [0, 1] with a straight-through
  gradient), ``delta`` coming from a head whose last layer starts at zero: an untrained
  model *is* the extrapolation nowcast, exactly, and training learns only growth, decay
  and initiation in the frame moving with the echo. Without ``advected`` the models
  warp the last frame themselves with :func:`advect` (a differentiable semi-Lagrangian
  backward scheme, the one pysteps uses) by ``motion`` (zero motion: persistence).
* :func:`persistence_output`, the former (Eulerian) output head, kept for ablations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "DBZ_SCALE", "T_IN", "T_OUT", "SIZE_MULTIPLE", "THRESHOLDS_DBZ",
    "dbz_to_unit", "unit_to_dbz", "intensity_bins", "bin_labels",
    "NowcastModel", "LayerNorm2d", "ConvPosEnc", "FrameStem", "UpDecoder",
    "persistence_output", "count_parameters", "state_dict_nbytes",
    "MOTION_SCALE", "advect", "lagrangian_inputs", "lagrangian_output", "context_channels", "CONTEXT_CHANNELS",
]

#: Reflectivity scale: ``x = clip(dBZ, 0, 70) / 70``.
DBZ_SCALE = 70.0
#: Input and output frames (5 min apart).
T_IN, T_OUT = 6, 12
#: H and W must be multiples of this.
SIZE_MULTIPLE = 16
#: Intensity thresholds in dBZ used by the intensity-aware parts (light/moderate,
#: heavy, severe convective).
THRESHOLDS_DBZ: tuple[float, ...] = (20.0, 35.0, 45.0)

_EPS = 1e-3  # clamp before the logit of the persistence head: 0 -> logit(1e-3) = -6.9


def dbz_to_unit(dbz: float | torch.Tensor) -> float | torch.Tensor:
    """dBZ -> the model scale (no clipping)."""
    return dbz / DBZ_SCALE


def unit_to_dbz(u: float | torch.Tensor) -> float | torch.Tensor:
    """Model scale -> dBZ."""
    return u * DBZ_SCALE


def intensity_bins(u: torch.Tensor, thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ) -> torch.Tensor:
    """Number of thresholds reached (``>=``) by each value of ``u`` (model scale), as int64."""
    thr = torch.tensor([dbz_to_unit(float(t)) for t in thresholds_dbz], dtype=u.dtype, device=u.device)
    return (u.unsqueeze(-1) >= thr).sum(-1)


def bin_labels(thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ) -> list[str]:
    """Labels of the intensity bins: ``["<20", "20-35", "35-45", ">=45"]`` for the defaults."""
    t = [f"{float(v):g}" for v in thresholds_dbz]
    if not t:
        return ["all"]
    return [f"<{t[0]}"] + [f"{a}-{b}" for a, b in zip(t[:-1], t[1:])] + [f">={t[-1]}"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def state_dict_nbytes(model: nn.Module) -> int:
    """Bytes of the tensors of ``model.state_dict()`` (about the size of a checkpoint)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


class NowcastModel(nn.Module):
    """Base class of the nowcasting models: the contract's attributes and input check.

    Attributes
    ----------
    name : str
        Registry name of the model (set by subclasses).
    config : dict
        The constructor's keyword arguments; ``build_model(name, **config)`` rebuilds the
        same architecture (plain JSON types only).
    aux_loss : torch.Tensor
        Scalar auxiliary loss of the last forward (0 when the model has none). It is the
        raw value: a training loop adds ``coefficient * model.aux_loss``.
    stats : dict
        Diagnostics of the last forward (plain Python numbers, lists and dicts).
    """

    name = "base"
    t_in = T_IN
    t_out = T_OUT

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        self.aux_loss = torch.zeros(())
        self.stats: dict = {}

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``(B, 6, H, W)`` with H, W multiples of 16."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.t_in:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{self.name}: input must be (B, {self.t_in}, H, W); got {shape}")
        h, w = x.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE or h == 0 or w == 0:
            raise ValueError(f"{self.name}: H and W must be positive multiples of {SIZE_MULTIPLE}; got {h}x{w}")
        if not x.is_floating_point():
            raise ValueError(f"{self.name}: input must be floating point; got {x.dtype}")

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a ``(B, C, H, W)`` map, at every pixel.

    Independent of the grid size and of the batch (unlike BatchNorm or GroupNorm
    statistics), so a model trained on 128x128 patches behaves the same on 256x256.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvPosEnc(nn.Module):
    """Convolutional (conditional) position encoding: ``x + depthwise_conv(x)``.

    Zero padding at the borders and the kernel's offsets give every token relative (and,
    near the edges, absolute) position without a size-dependent table (Chu et al., CPVT).
    Works on ``(B, C, H, W)`` (``ndim=2``) or ``(B, C, T, H, W)`` (``ndim=3``).
    """

    def __init__(self, channels: int, kernel: int = 3, ndim: int = 2):
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        self.proj = conv(channels, channels, kernel, padding=kernel // 2, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(x)


class FrameStem(nn.Module):
    """Strided convolutional patch embedding: ``(N, C_in, H, W) -> (N, dim, H/p, W/p)``.

    ``log2(p)`` stages of ``3x3`` stride-2 convolutions with GELU (a convolutional stem
    sees across patch borders, unlike a single ``p x p`` linear patch projection).
    """

    def __init__(self, in_channels: int, dim: int, patch: int, widths: Sequence[int] | None = None):
        super().__init__()
        n = int(round(math.log2(patch)))
        if 2 ** n != patch or n < 1:
            raise ValueError(f"patch must be a power of two >= 2; got {patch}")
        if widths is None:
            widths = [max(dim // 2 ** (n - 1 - i), 8) for i in range(n)]
        widths = list(widths)[:n - 1] + [dim]
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            layers.append(nn.Conv2d(c, w, 3, stride=2, padding=1))
            if i < n - 1:
                layers.append(nn.GELU())
            c = w
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class UpDecoder(nn.Module):
    """Pixel-shuffle decoder from a coarse feature map to the ``T_OUT`` output frames.

    ``log2(scale)`` stages of ``conv3x3 -> PixelShuffle(2) -> GELU`` halve the channels
    (not below ``min_channels``) and double the resolution; at full resolution the
    features are concatenated with a skip input (the raw input frames, or early encoder
    features) and a ``3x3`` conv and a ``1x1`` conv give one map per output frame. The
    last conv starts at zero so that, with :func:`persistence_output`, an untrained model
    is exactly persistence.
    """

    def __init__(self, in_channels: int, scale: int, skip_channels: int, out_frames: int = T_OUT,
                 min_channels: int = 16):
        super().__init__()
        n = int(round(math.log2(scale)))
        if 2 ** n != scale:
            raise ValueError(f"scale must be a power of two; got {scale}")
        stages: list[nn.Module] = []
        c = in_channels
        for _ in range(n):
            o = max(c // 2, min_channels)
            stages += [nn.Conv2d(c, 4 * o, 3, padding=1), nn.PixelShuffle(2), nn.GELU()]
            c = o
        self.up = nn.Sequential(*stages)
        self.fuse = nn.Sequential(nn.Conv2d(c + skip_channels, c, 3, padding=1), nn.GELU())
        self.out = nn.Conv2d(c, out_frames, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feat: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        u = self.up(feat)
        return self.out(self.fuse(torch.cat([u, skip.to(u.dtype)], dim=1)))


def persistence_output(x: torch.Tensor, delta: torch.Tensor, residual: bool = True) -> torch.Tensor:
    """The forecast from the network's output ``delta`` ``(B, T_OUT, H, W)``.

    With ``residual`` the forecast is ``sigmoid(logit(last frame) + delta)``: persistence
    when ``delta`` is 0, always inside [0, 1], with a gradient everywhere (a clamp would
    have none where it clips). Without it, ``sigmoid(delta)``.
    """
    delta = delta.float()
    if not residual:
        return torch.sigmoid(delta)
    last = x[:, -1:].float().clamp(_EPS, 1.0 - _EPS)
    return torch.sigmoid(torch.logit(last) + delta)


# ------------------------------------------------------------------ Lagrangian frame

#: Motion (pixels per 5-min step) is fed to the networks divided by this.
MOTION_SCALE = 10.0
#: Channels of :func:`context_channels`: 6 observed, 12 advected, u, v.
CONTEXT_CHANNELS = T_IN + T_OUT + 2


def _sample(field: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bilinear sample of ``field`` ``(B, C, H, W)`` at pixel coordinates ``px``/``py``
    ``(B, H, W)`` (column, row); outside the grid -> 0."""
    h, w = field.shape[-2:]
    gx = 2.0 * px / max(w - 1, 1) - 1.0
    gy = 2.0 * py / max(h - 1, 1) - 1.0
    grid = torch.stack([gx, gy], dim=-1).to(field.dtype)
    return F.grid_sample(field, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def advect(frame: torch.Tensor, motion: torch.Tensor, steps: int = T_OUT, n_iter: int = 1) -> torch.Tensor:
    """Semi-Lagrangian extrapolation of ``frame`` ``(B, H, W)`` by ``motion`` ``(B, 2, H, W)``.

    The backward scheme of pysteps' ``extrapolation.semilagrangian``: at every step the
    displacement ``D`` of each target pixel grows by the motion interpolated at the
    trajectory's midpoint (``n_iter`` fixed-point passes), and the frame is sampled
    bilinearly at ``x + D``; a trajectory from outside the grid brings 0 (no echo).
    Differentiable in ``frame`` and ``motion``. Returns ``(B, steps, H, W)``.
    """
    b, h, w = frame.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=frame.dtype, device=frame.device),
                            torch.arange(w, dtype=frame.dtype, device=frame.device), indexing="ij")
    xs, ys = xs.expand(b, h, w), ys.expand(b, h, w)
    dx = torch.zeros_like(xs)
    dy = torch.zeros_like(ys)
    out = []
    src = frame.unsqueeze(1)
    for _ in range(steps):
        inc = _sample(motion, xs + dx, ys + dy)
        for _ in range(n_iter):
            inc = _sample(motion, xs + dx - inc[:, 0] / 2.0, ys + dy - inc[:, 1] / 2.0)
        dx = dx - inc[:, 0]
        dy = dy - inc[:, 1]
        out.append(_sample(src, xs + dx, ys + dy)[:, 0])
    return torch.stack(out, dim=1)


def lagrangian_inputs(x: torch.Tensor, advected: torch.Tensor | None, motion: torch.Tensor | None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(advected, motion)`` checked, or made: zero motion when none is given, and the
    last frame warped by :func:`advect` when no ``advected`` is given."""
    b, _, h, w = x.shape
    if motion is None:
        motion = x.new_zeros((b, 2, h, w), dtype=torch.float32)
    if tuple(motion.shape) != (b, 2, h, w):
        raise ValueError(f"motion must be (B, 2, H, W) = {(b, 2, h, w)}; got {tuple(motion.shape)}")
    motion = motion.float()
    if advected is None:
        with torch.no_grad():
            advected = advect(x[:, -1].float(), motion, T_OUT) if bool(motion.abs().sum() > 0) \
                else x[:, -1:].float().expand(b, T_OUT, h, w)
    if tuple(advected.shape) != (b, T_OUT, h, w):
        raise ValueError(f"advected must be (B, {T_OUT}, H, W) = {(b, T_OUT, h, w)}; got {tuple(advected.shape)}")
    return advected.float(), motion


def context_channels(x: torch.Tensor, advected: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """The networks' common input ``(B, 20, H, W)``: 6 observed frames, the 12 advected
    ones, and the motion components divided by :data:`MOTION_SCALE`."""
    return torch.cat([x.float(), advected.float(), motion.float() / MOTION_SCALE], dim=1)


def lagrangian_output(advected: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``advected + delta`` clipped to [0, 1] with a straight-through gradient.

    The forward value is ``clamp(advected + delta, 0, 1)``; the gradient is that of
    ``advected + delta`` (a plain clamp would give none where it clips, so a zero-
    initialised head on a no-echo pixel could never learn initiation). With ``delta`` = 0
    the result is ``advected`` itself, bit for bit (it is already inside [0, 1]).
    """
    y = advected.float() + delta.float()
    return y + (y.clamp(0.0, 1.0) - y).detach()
