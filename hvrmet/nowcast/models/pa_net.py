"""PA-Net: a Transformer whose compute follows rain intensity (Xiao et al., arXiv 2603.13818).

The paper ("PA-Net: Precipitation-Adaptive Mixture-of-Experts for Long-Tail Rainfall
Nowcasting", 2026) was published without code.

What the paper says
-------------------
*Precipitation-Adaptive MoE*: the number of experts active for a token grows with the
precipitation magnitude of the token, so the heavy-rain tail gets more capacity.
*Dual-Axis Compressed Latent Attention*: spatio-temporal attention factorised along the
time and space axes, with keys and values compressed (strided reduction and a low-rank
latent). *Intensity-aware training*: the learning signal of heavy-rain samples is
amplified progressively over training.

What hvrmet chose
-----------------
*Lagrangian residual* (the change from the seed model, which started as Eulerian
persistence and had to learn advection itself): the network gets the pysteps
Lucas-Kanade extrapolation of the last observation (``advected``, 12 leads, computed
once per sample outside the network) and the motion field, and predicts only a residual
added to ``advected`` (:func:`~hvrmet.nowcast.models.common.lagrangian_output`); the last
decoder layer starts at zero, so an untrained PA-Net *is* the extrapolation nowcast.
Tokens are 8x8-pixel patches of each of the 12 *lead times*: the stem sees, per lead,
the advected frame, the last observation, the last 25-min change (last minus first
input frame) and the two motion components. So the token of lead ``j`` sits where the
rain is expected to be at lead ``j``.

*PA-MoE* (:class:`PAMoE`): ``k = min(k_min + #{thresholds reached}, k_max)`` experts with
thresholds 20, 35, 45 dBZ (1, 2, 3, 4 experts), the routing intensity of a token being
the maximum of the *advected* reflectivity in its patch at its lead (where the rain
will be, not where it was); a linear router with softmax, top-``k`` gates renormalised
over the chosen experts, an always-on shared expert; the Switch load-balancing loss
``E * sum_e f_e * P_e`` averaged over the blocks is ``aux_loss``. Tokens are dispatched
sparsely (gather, run, weighted scatter-add), so the compute really follows intensity.

*Dual-axis latent attention* (:class:`DualAxisBlock`): temporal attention among the 12
lead tokens at each place, then spatial attention among the places of each lead; keys
and values reduced by a strided merge (2 over time, 2x2 over space) and compressed
through a low-rank latent (``dim -> latent_dim``, LayerNorm, up-projections).

*Intensity-aware training* (:mod:`hvrmet.nowcast.losses`): per-*pixel* intensity weights
(not per sample) normalised by a constant taken from the training data rather than by
the batch's own weight sum -- the seed's per-sample weights divided by their batch sum
cancelled whenever a batch was all heavy rain -- ramped in over training, plus a
differentiable CSI/HSS term at 35 and 45 dBZ; the per-sample weights of the seed
(:func:`intensity_sample_weights`) are kept for reference.

Sizes (chosen for CPU training in minutes): width 32, 2 blocks, 2 heads, latent 16, 4
routed experts (GELU MLPs, hidden 64) plus a shared one; the 12 lead tokens of a place
are concatenated and a pixel-shuffle decoder that also sees the observed frames, the
advected frames and the motion gives the 12 residual maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hvrmet.nowcast.losses import intensity_sample_weights
from hvrmet.nowcast.models.common import (
    MOTION_SCALE,
    THRESHOLDS_DBZ, T_IN, T_OUT, ConvPosEnc, FrameStem, NowcastModel, UpDecoder,
    bin_labels, dbz_to_unit, persistence_output, CONTEXT_CHANNELS,
    context_channels, lagrangian_inputs, lagrangian_output,
)

__all__ = ["PANet", "PAMoE", "LatentAttention", "MergeReduce", "DualAxisBlock", "experts_per_token",
           "intensity_sample_weights"]


def experts_per_token(intensity: torch.Tensor, thresholds_dbz: Sequence[float], k_min: int, k_max: int) -> torch.Tensor:
    """Number of active experts per token from its intensity (model scale, any shape).

    ``k = min(k_min + #{t in thresholds : intensity >= t / 70}, k_max)`` (int64).
    """
    thr = torch.tensor([dbz_to_unit(float(t)) for t in thresholds_dbz], dtype=intensity.dtype,
                       device=intensity.device)
    n = (intensity.unsqueeze(-1) >= thr).sum(-1)
    return (k_min + n).clamp(max=k_max)


class _Expert(nn.Sequential):
    def __init__(self, dim: int, hidden: int):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class PAMoE(nn.Module):
    """Precipitation-Adaptive Mixture of Experts on tokens ``(N, dim)``.

    Parameters
    ----------
    dim, hidden : int
        Token and expert hidden widths.
    num_experts : int
        Routed experts ``E``.
    k_min, k_max : int
        Experts for a token below every threshold, and the cap (``k_max <= E``).
    thresholds_dbz : sequence of float
        Each threshold the token's patch maximum reaches adds one expert.
    shared_expert : bool
        Add an expert every token goes through (not routed, not counted in ``k``).
    """

    def __init__(self, dim: int, hidden: int, num_experts: int = 6, k_min: int = 1, k_max: int = 4,
                 thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ, shared_expert: bool = True):
        super().__init__()
        if not 1 <= k_min <= k_max <= num_experts:
            raise ValueError(f"need 1 <= k_min <= k_max <= num_experts; got {k_min}, {k_max}, {num_experts}")
        self.num_experts, self.k_min, self.k_max = num_experts, k_min, k_max
        self.thresholds_dbz = tuple(float(t) for t in thresholds_dbz)
        self.router = nn.Linear(dim, num_experts)
        nn.init.normal_(self.router.weight, std=0.02)
        nn.init.zeros_(self.router.bias)
        self.experts = nn.ModuleList(_Expert(dim, hidden) for _ in range(num_experts))
        self.shared = _Expert(dim, hidden) if shared_expert else None

    def forward(self, x: torch.Tensor, intensity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Route ``x`` ``(N, dim)`` given each token's ``intensity`` ``(N,)`` (model scale).

        Returns
        -------
        out : torch.Tensor
            ``(N, dim)``.
        balance : torch.Tensor
            Scalar Switch load-balancing loss (>= 0; 1 when perfectly balanced).
        info : dict
            ``k`` (active experts per token, ``(N,)`` int64) and ``load`` (fraction of
            assignments per expert, ``(E,)``).
        """
        probs = torch.softmax(self.router(x).float(), dim=-1)                    # (N, E)
        k = experts_per_token(intensity, self.thresholds_dbz, self.k_min, self.k_max)
        top_p, top_i = probs.topk(self.k_max, dim=-1)                             # (N, k_max)
        active = torch.arange(self.k_max, device=x.device) < k.unsqueeze(-1)      # (N, k_max)
        gates = top_p * active
        gates = gates / gates.sum(-1, keepdim=True).clamp_min(1e-9)               # renormalised
        # Sparse dispatch: the active (token, slot) pairs sorted by expert, one gather,
        # each expert on its contiguous chunk (an empty one when no token chose it, so
        # that every parameter stays in the graph, as DistributedDataParallel needs),
        # one weighted scatter-add back.
        rows, slots = torch.nonzero(active, as_tuple=True)
        chosen = top_i[rows, slots]
        order = torch.argsort(chosen, stable=True)
        rows, slots = rows[order], slots[order]
        counts = torch.bincount(chosen, minlength=self.num_experts)
        chunks = torch.split(x[rows], counts.tolist())
        y = torch.cat([expert(c) for expert, c in zip(self.experts, chunks)])
        y = y * gates[rows, slots].unsqueeze(-1).to(y.dtype)
        out = torch.zeros(x.shape, dtype=y.dtype, device=x.device).index_add(0, rows, y)
        if self.shared is not None:
            out = out + self.shared(x).to(out.dtype)
        load = counts.to(probs.dtype) / counts.sum().clamp_min(1).to(probs.dtype)
        balance = self.num_experts * (load * probs.mean(0)).sum()
        return out, balance, {"k": active.sum(-1), "load": load.detach()}


class LatentAttention(nn.Module):
    """Multi-head attention with low-rank latent keys and values.

    ``q = W_q x``; ``c = LN(W_down kv)`` of width ``latent_dim``; ``k = W_k c``,
    ``v = W_v c``; scaled dot-product attention per head; ``W_o``. ``kv`` is the
    (already convolutionally reduced) key/value sequence.
    """

    def __init__(self, dim: int, heads: int, latent_dim: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.down = nn.Linear(dim, latent_dim)
        self.latent_norm = nn.LayerNorm(latent_dim)
        self.k = nn.Linear(latent_dim, dim)
        self.v = nn.Linear(latent_dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        n, lq, d = x.shape
        h = self.heads
        c = self.latent_norm(self.down(kv))
        q = self.q(x).view(n, lq, h, d // h).transpose(1, 2)
        k = self.k(c).view(n, -1, h, d // h).transpose(1, 2)
        v = self.v(c).view(n, -1, h, d // h).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.o(y.transpose(1, 2).reshape(n, lq, d))


class MergeReduce(nn.Module):
    """Strided convolution with kernel = stride = ``r`` along one or two token axes.

    Implemented as merging each ``r`` (or ``r x r``) block of tokens into one vector and a
    linear map back to ``dim`` -- the same operator as ``Conv1d/Conv2d(dim, dim, r,
    stride=r)``, faster on CPU. Axes not divisible by ``r`` are padded by replication.
    """

    def __init__(self, dim: int, r: int, axes: int):
        super().__init__()
        self.r, self.axes = r, axes
        self.proj = nn.Linear(dim * r ** axes, dim) if r > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, L, d) -> (N, ceil(L/r), d)`` for ``axes=1``; ``(N, h, w, d) -> (N, h'w', d)`` for 2."""
        r = self.r
        if self.axes == 1:
            n, length, d = x.shape
            if r == 1:
                return x
            pad = (-length) % r
            if pad:
                x = torch.cat([x, x[:, -1:].expand(n, pad, d)], dim=1)
            return self.proj(x.reshape(n, -1, r * d))
        n, h, w, d = x.shape
        if r == 1:
            return x.reshape(n, h * w, d)
        ph, pw = (-h) % r, (-w) % r
        if ph or pw:
            x = F.pad(x.permute(0, 3, 1, 2), (0, pw, 0, ph), mode="replicate").permute(0, 2, 3, 1)
            h, w = h + ph, w + pw
        x = x.reshape(n, h // r, r, w // r, r, d).permute(0, 1, 3, 2, 4, 5)
        return self.proj(x.reshape(n, (h // r) * (w // r), r * r * d))


class DualAxisBlock(nn.Module):
    """One PA-Net block on tokens ``(B, T, h, w, dim)``.

    ``x += CPE(x)`` (depthwise 3x3 conv in each frame), ``x += TemporalAttn(LN x)``,
    ``x += SpatialAttn(LN x)``, ``x += PA-MoE(LN x)``. Both attentions take keys and
    values through a strided reduction (:class:`MergeReduce`) and a low-rank latent
    (:class:`LatentAttention`).
    """

    def __init__(self, dim: int, heads: int, latent_dim: int, spatial_reduction: int, temporal_reduction: int,
                 moe: PAMoE):
        super().__init__()
        self.pos = ConvPosEnc(dim, 3, ndim=2)
        self.norm_t = nn.LayerNorm(dim)
        self.reduce_t = MergeReduce(dim, temporal_reduction, axes=1)
        self.attn_t = LatentAttention(dim, heads, latent_dim)
        self.norm_s = nn.LayerNorm(dim)
        self.reduce_s = MergeReduce(dim, spatial_reduction, axes=2)
        self.attn_s = LatentAttention(dim, heads, latent_dim)
        self.norm_m = nn.LayerNorm(dim)
        self.moe = moe

    def forward(self, x: torch.Tensor, intensity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        b, t, h, w, d = x.shape
        # (B*T, d, h, w) view with channels-last strides: the fast depthwise-conv layout
        x = self.pos(x.reshape(b * t, h, w, d).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(b, t, h, w, d)
        # temporal attention at each place: sequences of T tokens
        u = self.norm_t(x).permute(0, 2, 3, 1, 4).reshape(b * h * w, t, d)
        u = self.attn_t(u, self.reduce_t(u)).view(b, h, w, t, d).permute(0, 3, 1, 2, 4)
        x = x + u
        # spatial attention at each time: sequences of h*w tokens, keys/values strided
        u = self.norm_s(x).reshape(b * t, h, w, d)
        u = self.attn_s(u.reshape(b * t, h * w, d), self.reduce_s(u)).view(b, t, h, w, d)
        x = x + u
        # precipitation-adaptive mixture of experts on every token
        y, balance, info = self.moe(self.norm_m(x).reshape(-1, d), intensity)
        x = x + y.view(b, t, h, w, d).to(x.dtype)
        return x, balance, info


class PANet(NowcastModel):
    """PA-Net nowcaster: 6 frames (+ advected forecast, motion) -> 12 frames.

    Parameters
    ----------
    dim, depth, heads, latent_dim : int
        Token width, dual-axis blocks, attention heads, key/value latent width.
    patch : int
        Token patch size in pixels (power of two, at most 16).
    spatial_reduction, temporal_reduction : int
        Strides of the key/value reduction over space and over the lead tokens.
    num_experts, expert_hidden, k_min, k_max, shared_expert, thresholds_dbz
        The PA-MoE (see :class:`PAMoE`).
    residual : bool
        Lagrangian residual on the advected forecast (``False``: the output is
        ``sigmoid(delta)``, an ablation with no prior).

    Notes
    -----
    ``forward(x, advected=None, motion=None)``; see
    :func:`~hvrmet.nowcast.models.common.lagrangian_inputs`. ``aux_loss`` is the
    load-balancing loss averaged over the blocks. ``stats``: ``k_by_bin`` (mean active
    experts per token by the token's routing-intensity bin, ``None`` for an empty bin),
    ``tokens_by_bin``, ``mean_k``, ``load_balance``, ``expert_load`` (per block).
    """

    name = "pa_net"

    def __init__(self, dim: int = 32, depth: int = 2, heads: int = 2, latent_dim: int = 16, patch: int = 8,
                 spatial_reduction: int = 2, temporal_reduction: int = 2, num_experts: int = 4,
                 expert_hidden: int = 64, k_min: int = 1, k_max: int = 4, shared_expert: bool = True,
                 thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ, residual: bool = True):
        thresholds_dbz = [float(t) for t in thresholds_dbz]
        super().__init__(dict(dim=dim, depth=depth, heads=heads, latent_dim=latent_dim, patch=patch,
                              spatial_reduction=spatial_reduction, temporal_reduction=temporal_reduction,
                              num_experts=num_experts, expert_hidden=expert_hidden, k_min=k_min, k_max=k_max,
                              shared_expert=shared_expert, thresholds_dbz=thresholds_dbz, residual=residual))
        if patch > 16 or 16 % patch:
            raise ValueError(f"patch must divide 16; got {patch}")
        self.patch, self.residual = patch, residual
        self.thresholds_dbz = tuple(thresholds_dbz)
        self.stem = FrameStem(5, dim, patch)
        self.lead_embed = nn.Parameter(torch.randn(T_OUT, dim) * 0.02)
        self.blocks = nn.ModuleList(
            DualAxisBlock(dim, heads, latent_dim, spatial_reduction, temporal_reduction,
                          PAMoE(dim, expert_hidden, num_experts, k_min, k_max, thresholds_dbz, shared_expert))
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.time_fuse = nn.Conv2d(T_OUT * dim, 2 * dim, 1)
        self.decoder = UpDecoder(2 * dim, patch, skip_channels=CONTEXT_CHANNELS, out_frames=T_OUT)

    def forward(self, x: torch.Tensor, advected: torch.Tensor | None = None,
                motion: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        x = x.float()
        adv, motion = lagrangian_inputs(x, advected, motion)
        b, _, hh, ww = x.shape
        t = T_OUT
        p = self.patch
        h, w = hh // p, ww // p
        intensity = F.max_pool2d(adv, p)                                         # (B, 12, h, w): where rain will be
        per_lead = torch.stack([adv, x[:, -1:].expand_as(adv), (x[:, -1:] - x[:, :1]).expand_as(adv),
                                (motion[:, :1] / MOTION_SCALE).expand_as(adv),
                                (motion[:, 1:] / MOTION_SCALE).expand_as(adv)], dim=2)  # (B, 12, 5, H, W)
        tok = self.stem(per_lead.reshape(b * t, 5, hh, ww).contiguous(memory_format=torch.channels_last))
        d = tok.shape[1]
        tok = tok.view(b, t, d, h, w).permute(0, 1, 3, 4, 2) + self.lead_embed.view(1, t, 1, 1, d)
        flat_int = intensity.reshape(-1)
        balances, ks, loads = [], [], []
        for blk in self.blocks:
            tok, bal, info = blk(tok, flat_int)
            balances.append(bal)
            ks.append(info["k"])
            loads.append(info["load"])
        tok = self.norm(tok)
        feat = self.time_fuse(tok.permute(0, 2, 3, 1, 4).reshape(b, h, w, t * d).permute(0, 3, 1, 2))
        skip = context_channels(x, adv, motion).contiguous(memory_format=torch.channels_last)
        delta = self.decoder(feat, skip)
        y = lagrangian_output(adv, delta) if self.residual else torch.sigmoid(delta.float())
        self.aux_loss = torch.stack(balances).mean() if balances else x.new_zeros(())
        self._record_stats(flat_int, ks, loads, balances)
        return y

    @torch.no_grad()
    def _record_stats(self, intensity, ks, loads, balances) -> None:
        labels = bin_labels(self.thresholds_dbz)
        if not ks:
            self.stats = {"k_by_bin": {lab: None for lab in labels}, "mean_k": 0.0}
            return
        k = torch.stack(ks).float().mean(0)                                     # mean over blocks
        bins = torch.tensor([dbz_to_unit(v) for v in self.thresholds_dbz], dtype=intensity.dtype)
        idx = torch.bucketize(intensity.cpu(), bins, right=True)
        k = k.cpu()
        k_by_bin, n_by_bin = {}, {}
        for i, lab in enumerate(labels):
            sel = idx == i
            n = int(sel.sum())
            n_by_bin[lab] = n
            k_by_bin[lab] = float(k[sel].mean()) if n else None
        self.stats = {
            "k_by_bin": k_by_bin,
            "tokens_by_bin": n_by_bin,
            "mean_k": float(k.mean()),
            "load_balance": float(torch.stack(balances).mean()),
            "expert_load": [[round(float(v), 4) for v in ld] for ld in loads],
        }
