"""Training losses of the learned nowcasting models.

All tensors are reflectivity on the model scale (dBZ / 70, clipped to [0, 1]); forecasts
and targets are ``(B, T, H, W)`` with ``T`` the lead-time axis (5-min steps). Epochs
count from 0; ``progress = epoch / (n_epochs - 1)`` runs from 0 to 1.

* :func:`dynamic_loss` / :func:`dynamic_weights` -- IMPA-Net's meteorology-aware dynamic
  loss (Cui et al., arXiv 2604.24224): three-level asymmetric weighting over training
  epochs, storm intensity and lead time.
* :func:`intensity_sample_weights` -- PA-Net's intensity-aware training (Xiao et al.,
  arXiv 2603.13818): per-sample weights that grow for heavy-rain samples over the epochs.

Neither paper gives the exact weight values; the defaults below are choices, each a
keyword argument.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["THRESHOLDS_DBZ", "DBZ_SCALE", "progress", "dynamic_weights", "dynamic_loss",
           "intensity_sample_weights"]

DBZ_SCALE = 70.0
THRESHOLDS_DBZ: tuple[float, ...] = (20.0, 35.0, 45.0)


def progress(epoch: int | float, n_epochs: int) -> float:
    """Training progress in [0, 1]: ``epoch / (n_epochs - 1)`` (1 for a single epoch)."""
    if n_epochs <= 1:
        return 1.0
    return float(min(max(epoch / (n_epochs - 1), 0.0), 1.0))


def _levels(target: torch.Tensor, thresholds_dbz: Sequence[float]) -> torch.Tensor:
    """Per-pixel indicator stack ``(..., n_thr)`` of ``target >= threshold``."""
    thr = torch.tensor([float(t) / DBZ_SCALE for t in thresholds_dbz], dtype=target.dtype,
                       device=target.device)
    return (target.unsqueeze(-1) >= thr).to(target.dtype)


def dynamic_weights(pred: torch.Tensor, target: torch.Tensor, epoch: int | float, n_epochs: int, *,
                    thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ,
                    intensity_gains: Sequence[float] = (1.0, 2.0, 4.0),
                    lead_gain: float = 1.0, under_gain: float = 2.0,
                    start_fraction: float = 0.25) -> torch.Tensor:
    """Per-pixel weights of the meteorology-aware dynamic loss, ``pred.shape``.

    ``w = w_intensity * w_lead * w_under`` with, for ``s = start_fraction +
    (1 - start_fraction) * progress(epoch, n_epochs)`` (the epoch level: intensity
    emphasis ramps in over training, a curriculum from near-uniform to full weights):

    * intensity: ``w_intensity = 1 + s * sum_i intensity_gains[i] * [target >= thr_i]``
      (1, 1+s, 1+3s, 1+7s for the defaults at <20, 20-35, 35-45, >=45 dBZ);
    * lead time: ``w_lead = 1 + lead_gain * j / (T - 1)`` for lead index ``j`` (1 to 2);
    * asymmetry: where the forecast is below the target (under-prediction) and the
      target reaches ``m`` thresholds, ``w_under = 1 + s * under_gain * m / n_thr``;
      1 otherwise. Over-predicting an intense echo by the same amount costs less.

    The weights do not depend on the gradient path (they are computed without it).
    """
    with torch.no_grad():
        s = start_fraction + (1.0 - start_fraction) * progress(epoch, n_epochs)
        lv = _levels(target, thresholds_dbz)                                    # (..., n_thr)
        gains = torch.tensor([float(g) for g in intensity_gains], dtype=target.dtype, device=target.device)
        if gains.numel() != lv.shape[-1]:
            raise ValueError("intensity_gains needs one gain per threshold")
        w_int = 1.0 + s * (lv * gains).sum(-1)
        t = target.shape[1]
        lead = torch.arange(t, dtype=target.dtype, device=target.device) / max(t - 1, 1)
        w_lead = (1.0 + lead_gain * lead).view(1, t, *([1] * (target.ndim - 2)))
        m = lv.sum(-1) / max(lv.shape[-1], 1)
        under = (pred.detach() < target).to(target.dtype)
        w_under = 1.0 + s * under_gain * m * under
        return w_int * w_lead * w_under


def dynamic_loss(pred: torch.Tensor, target: torch.Tensor, epoch: int | float, n_epochs: int,
                 **kw) -> torch.Tensor:
    """IMPA-Net's meteorology-aware dynamic loss (scalar).

    ``mean(w * (|pred - target| + (pred - target)^2))`` with ``w`` from
    :func:`dynamic_weights` (keyword arguments pass through). The mean is over all
    pixels, not normalised by the weights, so weights that grow (with the epoch, the
    intensity, the lead time, under-prediction) make the loss and its gradient grow.

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(B, T, H, W)`` on the model scale.
    epoch, n_epochs : int
        Current epoch (from 0) and number of epochs.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    err = pred - target
    w = dynamic_weights(pred, target, epoch, n_epochs, **kw)
    return (w * (err.abs() + err * err)).mean()


def intensity_sample_weights(targets: torch.Tensor, epoch: int | float, n_epochs: int, *,
                             thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ, base: float = 2.0,
                             quantile: float = 0.999) -> torch.Tensor:
    """PA-Net's intensity-aware per-sample weights, ``(B,)``.

    A sample's level ``m`` is the number of thresholds (20, 35, 45 dBZ) that the
    ``quantile`` of its target pixels reaches (a high quantile rather than the maximum,
    so that a few clutter pixels do not make a sample "severe"). Its weight is
    ``1 + progress * (base ** m - 1)``: 1 for every sample at the first epoch, rising
    linearly over the epochs to ``base ** m`` (1, 2, 4, 8) at the last one, so the
    heavy-rain tail's learning signal is amplified progressively. Samples without heavy
    rain keep weight 1. Divide by the weights' sum for a weighted mean.
    """
    b = targets.shape[0]
    with torch.no_grad():
        flat = targets.detach().reshape(b, -1).float()
        if 0.0 < quantile < 1.0:
            # kthvalue, unlike torch.quantile, has no input-size limit
            kth = max(1, min(flat.shape[1], int(round(quantile * (flat.shape[1] - 1))) + 1))
            peak = flat.kthvalue(kth, dim=1).values
        else:
            peak = flat.max(dim=1).values
        m = _levels(peak, thresholds_dbz).sum(-1)
        p = progress(epoch, n_epochs)
        return (1.0 + p * (base ** m - 1.0)).to(targets.dtype if targets.is_floating_point() else torch.float32)
