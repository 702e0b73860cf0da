"""MeTok / HyAGTransformer: distribution-centric tokenisation (Jin et al., arXiv 2603.13752).

The paper ("MeTok: An Efficient Meteorological Tokenization with Hyper-Aligned Group
Learning for Precipitation Nowcasting", 2026) was published without code. Its idea:
tokens are arranged by what they contain, not where they are -- tokens are *sorted by a
meteorological feature* and *split into groups of similar tokens*; *Grouping Attention*
(GA) runs within each group, a *Neighbourhood FFN* (N-FFN) mixes each group with its
adjacent groups in the sorted order, and the tokens are *scattered back* to their places.
Position is only "a component of the boundary conditions".

Implementation here:

* :func:`sort_tokens` / :func:`scatter_tokens` -- a stable sort of ``(B, N, C)`` tokens by a
  key ``(B, N)`` and its exact inverse (a gather and a scatter: values move, none change).
* :class:`HyAGBlock` -- ``x += CPE(x)`` on the grid (a depthwise 3x3 conv: the positional
  "boundary condition"), then on the sorted tokens ``x += GA(LN x)`` and ``x += N-FFN(LN x)``,
  then scatter back.
* GA: multi-head self-attention inside groups of ``group_size`` consecutive sorted tokens
  (the last group is padded and the padding masked out).
* N-FFN: a GELU MLP whose hidden layer also receives a projection of the mean token of the
  token's own group and of the previous and next groups (zeros past the ends), so each
  group aggregates the context of its neighbours in intensity.

Choices where the paper leaves details open: a token is an 8x8-pixel patch of all 6
input frames (frames as channels, three-stage stride-2 conv stem), width 96, 4 blocks,
4 heads, groups of 64 tokens, FFN hidden 3x width; the sort key is ``key="intensity"``
(default: the mean reflectivity of the token's patch in the latest frame, fixed for all
blocks; ties keep raster order) or ``key="learned"`` (a linear projection of each
block's normalised tokens, re-sorted in every block; sorting has no gradient, so the key
is also added to the sorted tokens along a learned direction, which trains the
projection). Decoding is a pixel-shuffle decoder that also sees the raw input frames and
predicts a change of the last frame in logit space.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hvrmet.nowcast.models.common import (
    T_IN, T_OUT, ConvPosEnc, FrameStem, NowcastModel, UpDecoder, persistence_output, unit_to_dbz,
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


class MeTok(NowcastModel):
    """MeTok tokenisation + HyAGTransformer nowcaster: 6 frames -> 12 frames.

    Parameters
    ----------
    dim : int
        Token width.
    depth : int
        Number of :class:`HyAGBlock`.
    heads : int
        Attention heads.
    group_size : int
        Tokens per group (fewer when the whole grid has fewer tokens).
    mlp_ratio : float
        N-FFN hidden width / ``dim``.
    patch : int
        Token patch size in pixels (power of two dividing 16).
    key : {"intensity", "learned"}
        The meteorological feature tokens are sorted by.
    residual : bool
        Predict a change of the last frame (persistence at initialisation).

    Notes
    -----
    ``aux_loss`` is always 0. ``stats``: ``n_tokens``, ``n_groups``, ``group_size``,
    ``padding``, ``key_unit`` ("dBZ" for the intensity key), ``key_std`` / ``within_group_std``
    -- the spread of the key over all tokens and its mean spread inside a group (small:
    groups hold similar tokens) -- and ``group_mean``, the mean key of the first sample's
    groups (for a learned key, those of the first block).
    """

    name = "metok"

    def __init__(self, dim: int = 96, depth: int = 4, heads: int = 4, group_size: int = 64,
                 mlp_ratio: float = 3.0, patch: int = 8, key: str = "intensity", residual: bool = True):
        super().__init__(dict(dim=dim, depth=depth, heads=heads, group_size=group_size, mlp_ratio=mlp_ratio,
                              patch=patch, key=key, residual=residual))
        if key not in ("intensity", "learned"):
            raise ValueError(f"key must be 'intensity' or 'learned'; got {key!r}")
        if patch > 16 or 16 % patch:
            raise ValueError(f"patch must divide 16; got {patch}")
        self.patch, self.key, self.residual, self.group_size = patch, key, residual, group_size
        self.stem = FrameStem(T_IN, dim, patch)
        self.blocks = nn.ModuleList(HyAGBlock(dim, heads, group_size, mlp_ratio, key == "learned")
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.decoder = UpDecoder(dim, patch, skip_channels=T_IN, out_frames=T_OUT)

    def intensity_key(self, x: torch.Tensor) -> torch.Tensor:
        """Sort key ``(B, N)``: mean reflectivity of each token's patch in the latest frame."""
        return F.avg_pool2d(x[:, -1:].float(), self.patch).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        # channels-last layout throughout: the fast one for (depthwise) convolutions on CPU
        tok = self.stem(x.contiguous(memory_format=torch.channels_last))         # (B, C, h, w)
        key = self.intensity_key(x) if self.key == "intensity" else None
        keys = []
        for blk in self.blocks:
            tok, k = blk(tok, key)
            keys.append(k)
        tok = self.norm(tok.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        skip = x.contiguous(memory_format=torch.channels_last)
        y = persistence_output(x, self.decoder(tok, skip), self.residual)
        self.aux_loss = x.new_zeros((), dtype=torch.float32)
        self._record_stats(keys[0] if keys else key, tok.shape[-2] * tok.shape[-1])
        return y

    @torch.no_grad()
    def _record_stats(self, key: torch.Tensor, n: int) -> None:
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
            stats.update(key_unit="dBZ" if self.key == "intensity" else "learned",
                         key_std=float(ks.std(dim=1, unbiased=False).mean() * scale),
                         within_group_std=float(var.sqrt().mean() * scale),
                         group_mean=[round(float(v) * scale, 2) for v in mean[0]])
        self.stats = stats
