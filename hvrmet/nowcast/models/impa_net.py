"""IMPA-Net: integrated multi-scale predictive attention (Cui et al., arXiv 2604.24224).

The paper ("IMPA-Net: Meteorology-Aware Multi-Scale Attention and Dynamic Loss for
Extreme Convective Radar Nowcasting", 2026) was published without code. It specifies:

*Spatial Mixer* (:class:`SpatialMixer`): parameter-free; reorganises heterogeneous input
channels within 2x2 (mesoscale-gamma, ~2 km) neighbourhoods by a deterministic channel
permutation, a structured cross-field prior for the encoder. Here: pixel-unshuffle by 2
(each 2x2 block becomes 4 sub-position channels per input channel), a fixed Latin-square
permutation -- output channel ``c`` at sub-position ``s`` takes input channel
``(c - s) mod C`` at the same sub-position -- and pixel-shuffle back. Every output channel
is then a mosaic in which each 2x2 block holds four different inputs, and a 3x3
convolution on it sees all of them side by side. Nothing is learned or stored (no
parameters, no buffers); :meth:`SpatialMixer.inverse` undoes it exactly. The paper mixes
four fields (reflectivity, rain rate, terrain, upslope wind); the contract here feeds
reflectivity only, so the heterogeneous channels are the 6 input times (each 2x2 block of
an output channel holds four consecutive times).

*Integrated multi-scale predictive attention* (:class:`IMPABlock`): the spatio-temporal
translator between a convolutional encoder and decoder (SimVP layout: input times
stacked as channels), capturing dynamics from mesoscale-beta to mesoscale-gamma. Here each
block computes, from ``u = GELU(W_in LN x)``, a local depthwise 5x5 response ``a0`` and two
dilated depthwise 7x7 responses on it (dilations 2 and 4), fuses the three scales with a
1x1 conv into a spatial attention map, multiplies it by a channel attention from the
global mean (squeeze-excitation), gates ``u`` with the product and projects back
(``x += W_out(u * attn)``), followed by a convolutional FFN (1x1, depthwise 3x3, GELU,
1x1). The translator works at 1/4 resolution: with 1 km radar pixels the three branches
reach about 20, 68 and 116 km.

*Meteorology-aware dynamic loss*: :func:`hvrmet.nowcast.losses.dynamic_loss` (re-exported
here): weights that grow with intensity (20/35/45 dBZ), lead time and epoch, and cost
under-prediction of intense echoes more than the same over-prediction.

Other choices (not given by the paper): encoder ``3x3 conv (6->16) -> 3x3 stride 2
(16->64) -> 3x3 stride 2 (64->dim)``; ``dim=96``, 4 blocks, FFN ratio 2; channel
LayerNorm (independent of grid size and batch); a pixel-shuffle decoder with a skip from
the first encoder layer, predicting a change of the last frame in logit space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hvrmet.nowcast.losses import dynamic_loss
from hvrmet.nowcast.models.common import (
    T_IN, T_OUT, LayerNorm2d, NowcastModel, UpDecoder, persistence_output,
)

__all__ = ["IMPANet", "IMPABlock", "SpatialMixer", "mixer_permutation", "spatial_mix", "spatial_unmix",
           "dynamic_loss"]


def mixer_permutation(channels: int, block: int = 2, device=None) -> torch.Tensor:
    """The Spatial Mixer's channel permutation on pixel-unshuffled channels.

    Unshuffled channel ``c * block**2 + s`` is input channel ``c`` at sub-position ``s``
    (row-major in the block). Entry ``j = c * block**2 + s`` of the result is the
    unshuffled channel that output channel ``c`` takes at sub-position ``s``:
    ``((c - s) mod channels) * block**2 + s``.
    """
    bb = block * block
    c = torch.arange(channels, device=device).repeat_interleave(bb)
    s = torch.arange(bb, device=device).repeat(channels)
    return torch.remainder(c - s, channels) * bb + s


def spatial_mix(x: torch.Tensor, block: int = 2) -> torch.Tensor:
    """Apply the Spatial Mixer to ``(B, C, H, W)`` (H, W multiples of ``block``)."""
    perm = mixer_permutation(x.shape[1], block, x.device)
    return F.pixel_shuffle(F.pixel_unshuffle(x, block).index_select(1, perm), block)


def spatial_unmix(y: torch.Tensor, block: int = 2) -> torch.Tensor:
    """Inverse of :func:`spatial_mix`: ``spatial_unmix(spatial_mix(x)) == x`` exactly."""
    inv = torch.argsort(mixer_permutation(y.shape[1], block, y.device))
    return F.pixel_shuffle(F.pixel_unshuffle(y, block).index_select(1, inv), block)


class SpatialMixer(nn.Module):
    """Parameter-free Spatial Mixer (see the module docstring): a fixed permutation of values.

    It has no parameters and no buffers; the permutation is recomputed from the channel
    count (a few integers) on every call.
    """

    def __init__(self, block: int = 2):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spatial_mix(x, self.block)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return spatial_unmix(y, self.block)

    def extra_repr(self) -> str:
        return f"block={self.block}"


class IMPABlock(nn.Module):
    """Integrated multi-scale predictive attention block on ``(B, C, h, w)``.

    Parameters
    ----------
    dim : int
        Channels.
    dilations : tuple of int
        Dilations of the 7x7 depthwise branches stacked on the local 5x5 one.
    ffn_ratio : float
        Hidden width of the convolutional FFN / ``dim``.
    """

    def __init__(self, dim: int, dilations: tuple[int, ...] = (2, 4), ffn_ratio: float = 2.0):
        super().__init__()
        self.norm1 = LayerNorm2d(dim)
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.local = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.wide = nn.ModuleList(nn.Conv2d(dim, dim, 7, padding=3 * d, dilation=d, groups=dim)
                                  for d in dilations)
        self.fuse = nn.Conv2d(dim * (1 + len(dilations)), dim, 1)
        red = max(dim // 4, 8)
        self.channel = nn.Sequential(nn.Conv2d(dim, red, 1), nn.GELU(), nn.Conv2d(red, dim, 1), nn.Sigmoid())
        self.proj_out = nn.Conv2d(dim, dim, 1)
        hid = int(dim * ffn_ratio)
        self.norm2 = LayerNorm2d(dim)
        self.ffn = nn.Sequential(nn.Conv2d(dim, hid, 1), nn.Conv2d(hid, hid, 3, padding=1, groups=hid),
                                 nn.GELU(), nn.Conv2d(hid, dim, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
        u = F.gelu(self.proj_in(self.norm1(x)))
        a0 = self.local(u)
        scales = [a0] + [conv(a0) for conv in self.wide]
        spatial = self.fuse(torch.cat(scales, dim=1))
        chan = self.channel(u.mean(dim=(2, 3), keepdim=True))
        x = x + self.proj_out(u * spatial * chan)
        x = x + self.ffn(self.norm2(x))
        with torch.no_grad():
            energy = [float(a.detach().float().abs().mean()) for a in scales]
        return x, energy


class IMPANet(NowcastModel):
    """IMPA-Net nowcaster: Spatial Mixer -> encoder -> IMPA translator -> decoder.

    Parameters
    ----------
    dim : int
        Translator channels (at 1/4 resolution).
    depth : int
        Number of :class:`IMPABlock`.
    stem_channels : int
        Channels of the full-resolution first encoder layer (also the decoder's skip).
    dilations : sequence of int
        Dilations of the wide branches of each block.
    ffn_ratio : float
        FFN hidden width / ``dim``.
    mixer : bool
        Apply the Spatial Mixer to the input (off only for ablations).
    residual : bool
        Predict a change of the last frame (persistence at initialisation).

    Notes
    -----
    ``aux_loss`` is always 0. ``stats``: ``scale_share`` -- for each block, the share of
    the mean absolute response of the local, and of each dilated, branch (how much each
    scale contributes) -- and ``mixer``.
    """

    name = "impa_net"

    def __init__(self, dim: int = 96, depth: int = 4, stem_channels: int = 16,
                 dilations: tuple[int, ...] = (2, 4), ffn_ratio: float = 2.0, mixer: bool = True,
                 residual: bool = True):
        dilations = [int(d) for d in dilations]
        super().__init__(dict(dim=dim, depth=depth, stem_channels=stem_channels, dilations=dilations,
                              ffn_ratio=ffn_ratio, mixer=mixer, residual=residual))
        self.residual = residual
        self.mixer = SpatialMixer(2) if mixer else nn.Identity()
        self.enc0 = nn.Sequential(nn.Conv2d(T_IN, stem_channels, 3, padding=1), nn.GELU())
        self.enc1 = nn.Sequential(nn.Conv2d(stem_channels, 64, 3, stride=2, padding=1), nn.GELU(),
                                  nn.Conv2d(64, dim, 3, stride=2, padding=1))
        self.blocks = nn.ModuleList(IMPABlock(dim, tuple(dilations), ffn_ratio) for _ in range(depth))
        self.norm = LayerNorm2d(dim)
        self.decoder = UpDecoder(dim, 4, skip_channels=stem_channels, out_frames=T_OUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        # channels-last layout throughout: the fast one for (depthwise) convolutions on CPU
        s0 = self.enc0(self.mixer(x).contiguous(memory_format=torch.channels_last))  # full resolution
        z = self.enc1(s0)                                                        # 1/4 resolution
        shares = []
        for blk in self.blocks:
            z, energy = blk(z)
            tot = sum(energy) or 1.0
            shares.append([round(e / tot, 4) for e in energy])
        y = persistence_output(x, self.decoder(self.norm(z), s0), self.residual)
        self.aux_loss = x.new_zeros((), dtype=torch.float32)
        self.stats = {"scale_share": shares, "mixer": "latin-2x2" if self.config["mixer"] else "off"}
        return y
