"""MeTok / HyAGTransformer: distribution-centric tokenisation (Jin et al., arXiv 2603.13752).

The paper ("MeTok: An Efficient Meteorological Tokenization with Hyper-Aligned Group
Learning for Precipitation Nowcasting", 2026) was published without code.

What the paper says
-------------------
Tokens are arranged by what they contain, not where they are: they are *sorted by
meteorological features* and *split into groups of similar tokens*; *Grouping
Attention* (GA) runs within each group, a *Neighbourhood FFN* (N-FFN) mixes each group
with its adjacent groups in the sorted order, and the tokens are *scattered back* to
their places. Position is only "a component of the boundary conditions".

What hvrmet chose
-----------------
* *Lagrangian residual*: the network sees the 6 observed frames, the pysteps
  Lucas-Kanade extrapolation of the last one (12 leads) and the motion field, and
  predicts a residual on the extrapolation from a zero-initialised head
  (:func:`~hvrmet.nowcast.models.common.lagrangian_output`): an untrained MeTok is the
  extrapolation nowcast exactly.
* *A richer grouping key* (``key="composite"``, the default; the seed sorted by one
  scalar, the patch-mean reflectivity): three features per token, combined
  lexicographically into one sort key so that a group holds tokens alike in all three:
  (1) the *intensity level* of the advected forecast (patch mean over the 12 leads --
  where the rain will be) in the bins < 7, 7-20, 20-35, 35-45, >= 45 dBZ; (2) its
  *Lagrangian trend*: the last frame minus the previous frame advected one step
  (growth > +1.5 dBZ, steady, decay < -1.5 dBZ per 5 min, patch mean); (3) *texture*:
  the patch standard deviation of the last frame, ``std / (std + 5 dBZ)`` in [0, 1),
  continuous inside each (level, trend) class. ``key = 3 * level + trend_class +
  0.999 * texture``. ``key="intensity"`` (the seed's) and ``key="learned"`` remain.
* :func:`sort_tokens` / :func:`scatter_tokens`: a stable sort of ``(B, N, C)`` tokens
  and its exact inverse. :class:`HyAGBlock`: ``x += CPE(x)`` on the grid, GA and N-FFN
  on the sorted tokens, scatter back. GA: multi-head attention inside groups of
  ``group_size`` sorted tokens (padding masked). N-FFN: a GELU MLP whose hidden layer
  also receives the mean tokens of its own and the two neighbouring groups.
* Sizes (CPU training in minutes): 8x8-pixel tokens over the 20 context channels,
  width 48, 2 blocks, 4 heads, groups of 64, FFN 2x; a pixel-shuffle decoder that also
  sees the context channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hvrmet.nowcast.models.common import (
    T_IN, T_OUT, CONTEXT_CHANNELS, ConvPosEnc, FrameStem, NowcastModel, UpDecoder, advect, context_channels,
    lagrangian_inputs, lagrangian_output, unit_to_dbz,
)

__all__ = ["MeTok", "HyAGBlock", "GroupingAttention", "NeighbourhoodFFN", "sort_tokens", "scatter_tokens"]


def sort_tokens(x: torch.Tensor, key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort tokens by ``key`` (ascending, stable).

    Parameters
    ----------
    x : torch.Tensor
        ``(B, N, C)`` tokens (or ``(B, N)``).
    key : torch.Tensor
        ``(B, N)`` sort key.

    Returns
    -------
    sorted : torch.Tensor
        ``x`` with its tokens reordered, same shape.
    index : torch.Tensor
        ``(B, N)`` int64: ``sorted[b, i] = x[b, index[b, i]]``.
    """
    if key.shape != x.shape[:2]:
        raise ValueError(f"key must be (B, N) = {tuple(x.shape[:2])}; got {tuple(key.shape)}")
    index = torch.sort(key.detach(), dim=1, stable=True).indices
    idx = index.view(*index.shape, *([1] * (x.ndim - 2))).expand_as(x)
    return torch.gather(x, 1, idx), index


def scatter_tokens(sorted_x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Put sorted tokens back in their original places: the exact inverse of :func:`sort_tokens`."""
    idx = index.view(*index.shape, *([1] * (sorted_x.ndim - 2))).expand_as(sorted_x)
    return torch.zeros_like(sorted_x).scatter(1, idx, sorted_x)


def _group(x: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """``(B, N, C) -> (B, G, S, C)``, zero-padding the end; returns the validity mask ``(G, S)``."""
    b, n, c = x.shape
    s = min(group_size, n)
    g = math.ceil(n / s)
    pad = g * s - n
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
        valid = (torch.arange(g * s, device=x.device) < n).view(g, s)
    else:
        valid = None
    return x.view(b, g, s, c), valid, pad


class GroupingAttention(nn.Module):
    """Multi-head self-attention within each group of sorted tokens ``(B, G, S, C)``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        b, g, s, c = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(b * g, s, 3, h, c // h).permute(2, 0, 3, 1, 4)
        mask = None
        if valid is not None:   # keys that are padding are never attended to
            mask = valid.view(1, g, 1, 1, s).expand(b, g, 1, 1, s).reshape(b * g, 1, 1, s)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(b, g, s, c))


class NeighbourhoodFFN(nn.Module):
    """FFN whose hidden layer also sees the mean tokens of the group and its two neighbours."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.ctx = nn.Linear(3 * dim, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        b, g, s, c = x.shape
        if valid is None:
            mean = x.mean(2)                                                     # (B, G, C)
        else:
            m = valid.to(x.dtype).view(1, g, s, 1)
            mean = (x * m).sum(2) / m.sum(2).clamp_min(1.0)
        padded = F.pad(mean, (0, 0, 1, 1))                                      # zeros past the ends
        ctx = torch.cat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], dim=-1)  # (B, G, 3C)
        hid = self.fc1(x) + self.ctx(ctx).unsqueeze(2)
        return self.fc2(F.gelu(hid))


class HyAGBlock(nn.Module):
    """Hyper-Aligned Grouping block on grid tokens ``(B, C, h, w)``."""

    def __init__(self, dim: int, heads: int, group_size: int, mlp_ratio: float, learned_key: bool):
        super().__init__()
        self.group_size = group_size
        self.pos = ConvPosEnc(dim, 3, ndim=2)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = GroupingAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = NeighbourhoodFFN(dim, int(dim * mlp_ratio))
        if learned_key:
            self.key_proj = nn.Linear(dim, 1)
            self.key_dir = nn.Parameter(torch.zeros(dim))
        else:
            self.key_proj = None

    def forward(self, x: torch.Tensor, key: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        x = self.pos(x).permute(0, 2, 3, 1).reshape(b, h * w, c)                 # (B, N, C)
        if self.key_proj is not None:
            key = self.key_proj(self.norm1(x)).squeeze(-1)
        xs, index = sort_tokens(x, key)
        if self.key_proj is not None:
            ks, _ = sort_tokens(key.unsqueeze(-1), key)
            xs = xs + ks * self.key_dir
        n = xs.shape[1]
        grouped, valid, pad = _group(xs, self.group_size)
        grouped = grouped + self.attn(self.norm1(grouped), valid)
        grouped = grouped + self.ffn(self.norm2(grouped), valid)
        xs = grouped.reshape(b, -1, c)[:, :n]
        x = scatter_tokens(xs, index)
        return x.view(b, h, w, c).permute(0, 3, 1, 2), key          # channels-last strides


#: Intensity-level edges of the composite key (dBZ).
KEY_LEVELS_DBZ = (7.0, 20.0, 35.0, 45.0)
#: Lagrangian trend (dBZ per 5 min) beyond which a token counts as growing / decaying.
KEY_TREND_DBZ = 1.5
#: Texture scale of the composite key (dBZ): texture = std / (std + this).
KEY_TEXTURE_DBZ = 5.0


def composite_key(x: torch.Tensor, advected: torch.Tensor, motion: torch.Tensor, patch: int
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """MeTok's grouping key ``(B, N)`` and its three components (each ``(B, N)``).

    ``level`` (0-4: advected patch mean < 7, 7-20, 20-35, 35-45, >= 45 dBZ),
    ``trend`` (-1, 0, 1: Lagrangian change over the last 5 min, patch mean), ``texture``
    (patch std of the last frame mapped to [0, 1)); ``key = 3 level + trend + 1 +
    0.999 texture``: sorted, tokens of one level come together, within it those of one
    trend, within those by texture.
    """
    with torch.no_grad():
        adv_mean = F.avg_pool2d(advected.float().mean(1, keepdim=True), patch).flatten(1) * 70.0
        lv = torch.tensor(KEY_LEVELS_DBZ, dtype=adv_mean.dtype, device=adv_mean.device)
        level = (adv_mean.unsqueeze(-1) >= lv).sum(-1).to(adv_mean.dtype)
        prev = advect(x[:, -2].float(), motion, 1)[:, 0] if bool(motion.abs().sum() > 0) else x[:, -2].float()
        trend_dbz = F.avg_pool2d((x[:, -1].float() - prev).unsqueeze(1), patch).flatten(1) * 70.0
        trend = (trend_dbz > KEY_TREND_DBZ).to(adv_mean.dtype) - (trend_dbz < -KEY_TREND_DBZ).to(adv_mean.dtype)
        last = x[:, -1:].float() * 70.0
        var = (F.avg_pool2d(last * last, patch) - F.avg_pool2d(last, patch) ** 2).clamp_min(0.0)
        std = var.sqrt().flatten(1)
        texture = std / (std + KEY_TEXTURE_DBZ)
        key = 3.0 * level + (trend + 1.0) + 0.999 * texture
    return key, {"level": level, "trend": trend, "texture": texture, "trend_dbz": trend_dbz}


class MeTok(NowcastModel):
    """MeTok tokenisation + HyAGTransformer nowcaster on the Lagrangian residual.

    Parameters
    ----------
    dim, depth, heads : int
        Token width, number of :class:`HyAGBlock`, attention heads.
    group_size : int
        Tokens per group (fewer when the whole grid has fewer tokens).
    mlp_ratio : float
        N-FFN hidden width / ``dim``.
    patch : int
        Token patch size in pixels (power of two dividing 16).
    key : {"composite", "intensity", "learned"}
        The grouping key (see the module docstring).
    residual : bool
        Lagrangian residual on the advected forecast (``False``: ``sigmoid(delta)``).

    Notes
    -----
    ``forward(x, advected=None, motion=None)``. ``aux_loss`` is always 0. ``stats``:
    ``n_tokens``, ``n_groups``, ``group_size``, ``padding``, ``key``, ``key_std`` /
    ``within_group_std`` (spread of the key overall and inside a group), ``group_mean``
    (first sample), and for the composite key ``within_group_level_std`` and
    ``within_group_trend_std`` (near 0: groups are pure in level and trend).
    """

    name = "metok"

    def __init__(self, dim: int = 48, depth: int = 2, heads: int = 4, group_size: int = 64,
                 mlp_ratio: float = 2.0, patch: int = 8, key: str = "composite", residual: bool = True):
        super().__init__(dict(dim=dim, depth=depth, heads=heads, group_size=group_size, mlp_ratio=mlp_ratio,
                              patch=patch, key=key, residual=residual))
        if key not in ("composite", "intensity", "learned"):
            raise ValueError(f"key must be 'composite', 'intensity' or 'learned'; got {key!r}")
        if patch > 16 or 16 % patch:
            raise ValueError(f"patch must divide 16; got {patch}")
        self.patch, self.key, self.residual, self.group_size = patch, key, residual, group_size
        self.stem = FrameStem(CONTEXT_CHANNELS, dim, patch)
        self.blocks = nn.ModuleList(HyAGBlock(dim, heads, group_size, mlp_ratio, key == "learned")
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.decoder = UpDecoder(dim, patch, skip_channels=CONTEXT_CHANNELS, out_frames=T_OUT)

    def intensity_key(self, x: torch.Tensor) -> torch.Tensor:
        """The seed's key ``(B, N)``: mean reflectivity of each token's patch in the latest frame."""
        return F.avg_pool2d(x[:, -1:].float(), self.patch).flatten(1)

    def forward(self, x: torch.Tensor, advected: torch.Tensor | None = None,
                motion: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        x = x.float()
        adv, motion = lagrangian_inputs(x, advected, motion)
        ctx = context_channels(x, adv, motion).contiguous(memory_format=torch.channels_last)
        tok = self.stem(ctx)                                                     # (B, C, h, w)
        parts = None
        if self.key == "composite":
            key, parts = composite_key(x, adv, motion, self.patch)
        elif self.key == "intensity":
            key = self.intensity_key(x)
        else:
            key = None
        keys = []
        for blk in self.blocks:
            tok, k = blk(tok, key)
            keys.append(k)
        tok = self.norm(tok.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        delta = self.decoder(tok, ctx)
        y = lagrangian_output(adv, delta) if self.residual else torch.sigmoid(delta.float())
        self.aux_loss = x.new_zeros((), dtype=torch.float32)
        self._record_stats(keys[0] if keys else key, tok.shape[-2] * tok.shape[-1], parts)
        return y

    @torch.no_grad()
    def _group_spread(self, key: torch.Tensor, value: torch.Tensor, s: int) -> float:
        """Mean within-group standard deviation of ``value`` with tokens sorted by ``key``."""
        vs, _ = sort_tokens(value.float().unsqueeze(-1), key)
        grouped, valid, _ = _group(vs, s)
        grouped = grouped.squeeze(-1)
        if valid is None:
            valid = torch.ones(grouped.shape[1:], dtype=torch.bool, device=grouped.device)
        m = valid.to(grouped.dtype)
        cnt = m.sum(-1)
        mean = (grouped * m).sum(-1) / cnt
        var = (((grouped - mean.unsqueeze(-1)) * m) ** 2).sum(-1) / cnt
        return float(var.sqrt().mean())

    @torch.no_grad()
    def _record_stats(self, key: torch.Tensor, n: int, parts: dict | None = None) -> None:
        s = min(self.group_size, n)
        g = math.ceil(n / s)
        stats = {"n_tokens": n, "n_groups": g, "group_size": s, "padding": g * s - n, "key": self.key}
        if key is not None:
            ks = torch.sort(key.detach().float(), dim=1).values
            grouped, valid, _ = _group(ks.unsqueeze(-1), s)
            grouped = grouped.squeeze(-1)                                        # (B, G, S)
            if valid is None:
                valid = torch.ones(grouped.shape[1:], dtype=torch.bool, device=grouped.device)
            m = valid.to(grouped.dtype)
            cnt = m.sum(-1)
            mean = (grouped * m).sum(-1) / cnt
            var = (((grouped - mean.unsqueeze(-1)) * m) ** 2).sum(-1) / cnt
            scale = unit_to_dbz(1.0) if self.key == "intensity" else 1.0
            if parts is not None:
                stats.update(within_group_level_std=self._group_spread(key, parts["level"], s),
                             within_group_trend_std=self._group_spread(key, parts["trend"], s),
                             level_std=float(parts["level"].std(dim=1, unbiased=False).mean()),
                             trend_std=float(parts["trend"].std(dim=1, unbiased=False).mean()))
            stats.update(key_unit={"intensity": "dBZ", "composite": "3 level + trend + texture"}.get(self.key, "learned"),
                         key_std=float(ks.std(dim=1, unbiased=False).mean() * scale),
                         within_group_std=float(var.sqrt().mean() * scale),
                         group_mean=[round(float(v) * scale, 2) for v in mean[0]])
        self.stats = stats
