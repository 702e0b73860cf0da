"""Training losses of the learned nowcasting models.

All tensors are reflectivity on the model scale (dBZ / 70, clipped to [0, 1]); forecasts
and targets are ``(B, T, H, W)`` with ``T`` the lead-time axis (5-min steps). Epochs
count from 0; ``progress = epoch / (n_epochs - 1)`` runs from 0 to 1.

* :func:`dynamic_loss` / :func:`dynamic_weights` -- IMPA-Net's meteorology-aware dynamic
  loss (Cui et al., arXiv 2604.24224): three-level asymmetric weighting over training
  epochs, storm intensity and lead time.
  Now normalised: divided by the expected weight of the epoch under a *fixed* intensity
  distribution (:func:`dynamic_norm`, the training data's fractions of pixels at or
  above each threshold), so its scale stays put over the epochs while heavy pixels keep
  their weight relative to light ones in every batch.
* :func:`pixel_intensity_weights` / :func:`weighted_error` -- per-*pixel* intensity
  weights (1 + sum of gains of the thresholds that the target or the forecast reaches),
  ramped in over training, divided by a constant (:func:`intensity_norm`) and never by
  the batch's own weights: a batch of heavy rain costs more than the same errors on
  light rain. (The seed's per-sample weights, :func:`intensity_sample_weights`, were
  divided by their batch sum, which cancels them in an all-heavy batch.)
* :func:`soft_contingency` / :func:`soft_csi` / :func:`soft_hss` / :func:`skill_loss` --
  differentiable CSI and HSS: the event indicator ``[y > thr]`` of the forecast
  replaced by ``sigmoid((y - thr) / tau)``, hits/misses/false alarms/correct negatives
  summed over the batch; ``skill_loss = (1 - CSI35) + (1 - HSS45)``.

Neither paper gives the exact weight values; the defaults below are choices, each a
keyword argument.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["THRESHOLDS_DBZ", "DBZ_SCALE", "progress", "dynamic_weights", "dynamic_loss", "dynamic_norm",
           "intensity_sample_weights", "pixel_intensity_weights", "intensity_norm", "weighted_error",
           "soft_contingency", "soft_csi", "soft_hss", "skill_loss", "LEVEL_FRACTIONS", "PIXEL_GAINS"]

#: Default fractions of target pixels at or above 20, 35 and 45 dBZ (the constant the
#: weighted losses are normalised by; the training loop passes the measured ones).
LEVEL_FRACTIONS: tuple[float, ...] = (0.15, 0.02, 0.002)
#: Default per-pixel intensity gains at 20, 35 and 45 dBZ: weights 1, 2, 5, 13.
PIXEL_GAINS: tuple[float, ...] = (1.0, 3.0, 8.0)

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


def dynamic_norm(epoch: int | float, n_epochs: int, level_fractions: Sequence[float] = LEVEL_FRACTIONS, *,
                 intensity_gains: Sequence[float] = (1.0, 2.0, 4.0), lead_gain: float = 1.0,
                 under_gain: float = 2.0, start_fraction: float = 0.25, under_share: float = 0.5, **_kw) -> float:
    """Expected dynamic weight of an epoch under a fixed intensity distribution.

    With ``p_i`` the fraction of pixels at or above threshold ``i`` and ``s`` the epoch
    level of :func:`dynamic_weights`: ``E[w] = (1 + s sum_i g_i p_i) (1 + lead_gain / 2)
    (1 + s under_gain under_share sum_i p_i / n)`` (lead index uniform over the leads,
    ``under_share`` of the pixels under-predicted). A constant: it never looks at a batch.
    """
    s = start_fraction + (1.0 - start_fraction) * progress(epoch, n_epochs)
    p = [float(v) for v in level_fractions]
    w_int = 1.0 + s * sum(float(g) * v for g, v in zip(intensity_gains, p))
    w_lead = 1.0 + lead_gain / 2.0
    w_under = 1.0 + s * under_gain * under_share * sum(p) / max(len(p), 1)
    return float(w_int * w_lead * w_under)


def dynamic_loss(pred: torch.Tensor, target: torch.Tensor, epoch: int | float, n_epochs: int,
                 normalise: bool = True, level_fractions: Sequence[float] = LEVEL_FRACTIONS,
                 **kw) -> torch.Tensor:
    """IMPA-Net's meteorology-aware dynamic loss (scalar).

    ``mean(w * (|pred - target| + (pred - target)^2)) / dynamic_norm(epoch)`` with ``w``
    from :func:`dynamic_weights` (keyword arguments pass through). The normaliser is a
    constant of the epoch (:func:`dynamic_norm`), so the loss does not grow with the
    schedule, yet in every batch an intense pixel keeps its larger weight
    (``normalise=False``: the seed's unnormalised mean).

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
    loss = (w * (err.abs() + err * err)).mean()
    if normalise:
        loss = loss / dynamic_norm(epoch, n_epochs, level_fractions, **kw)
    return loss


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


# --------------------------------------------------------------- per-pixel weights

def pixel_intensity_weights(target: torch.Tensor, pred: torch.Tensor | None = None, epoch: int | float = 1,
                            n_epochs: int = 1, *, thresholds_dbz: Sequence[float] = THRESHOLDS_DBZ,
                            gains: Sequence[float] = PIXEL_GAINS, start_fraction: float = 0.25) -> torch.Tensor:
    """Per-pixel intensity weights, ``target.shape``, without gradient.

    ``w = 1 + s * sum_i gains[i] * [max(target, pred) >= thr_i]`` with ``s =
    start_fraction + (1 - start_fraction) * progress`` (heavy-rain emphasis ramped in over
    training, PA-Net's progressive amplification). Taking the forecast too means a false
    alarm of heavy rain is weighted like a miss. With the defaults at the last epoch: 1
    (< 20 dBZ), 2 (20-35), 5 (35-45), 13 (>= 45 dBZ).
    """
    with torch.no_grad():
        ref = target if pred is None else torch.maximum(target, pred.detach())
        lv = _levels(ref, thresholds_dbz)
        g = torch.tensor([float(v) for v in gains], dtype=ref.dtype, device=ref.device)
        if g.numel() != lv.shape[-1]:
            raise ValueError("gains needs one gain per threshold")
        s = start_fraction + (1.0 - start_fraction) * progress(epoch, n_epochs)
        return 1.0 + s * (lv * g).sum(-1)


def intensity_norm(level_fractions: Sequence[float] = LEVEL_FRACTIONS, epoch: int | float = 1, n_epochs: int = 1,
                   *, gains: Sequence[float] = PIXEL_GAINS, start_fraction: float = 0.25) -> float:
    """The constant :func:`pixel_intensity_weights` are divided by: their expected value,
    ``1 + s sum_i gains[i] p_i``, under the fixed fractions ``p_i`` of pixels at or
    above each threshold (the training data's)."""
    s = start_fraction + (1.0 - start_fraction) * progress(epoch, n_epochs)
    return float(1.0 + s * sum(float(g) * float(p) for g, p in zip(gains, level_fractions)))


def weighted_error(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, norm: float) -> torch.Tensor:
    """``mean(weights * (|e| + e^2)) / norm`` with ``e = pred - target``: the weights are
    divided by the constant ``norm``, never by their own batch sum, so they survive it."""
    if pred.shape != target.shape or weights.shape != target.shape:
        raise ValueError(f"pred, target and weights must share a shape; got {tuple(pred.shape)}, "
                         f"{tuple(target.shape)}, {tuple(weights.shape)}")
    e = pred - target
    return (weights * (e.abs() + e * e)).mean() / float(norm)


# ------------------------------------------------------- differentiable CSI and HSS

def soft_contingency(pred: torch.Tensor, target: torch.Tensor, threshold_dbz: float,
                     tau_dbz: float = 2.0) -> dict[str, torch.Tensor]:
    """Soft contingency table at ``threshold_dbz`` summed over every pixel.

    The forecast event is ``sigmoid((pred - thr) / tau)`` (differentiable; the hard
    ``[pred > thr]`` as ``tau -> 0``), the observed one ``[target > thr]`` (pysteps'
    convention). Returns ``hits``, ``misses``, ``false_alarms``, ``correct_negatives``.
    """
    thr = float(threshold_dbz) / DBZ_SCALE
    p = torch.sigmoid((pred.float() - thr) / (float(tau_dbz) / DBZ_SCALE))
    o = (target.float() > thr).float()
    return {"hits": (p * o).sum(), "misses": ((1 - p) * o).sum(), "false_alarms": (p * (1 - o)).sum(),
            "correct_negatives": ((1 - p) * (1 - o)).sum()}


def soft_csi(ct: dict[str, torch.Tensor], eps: float = 1e-6) -> torch.Tensor:
    """CSI = H / (H + M + F) of a (soft) contingency table."""
    return ct["hits"] / (ct["hits"] + ct["misses"] + ct["false_alarms"] + eps)


def soft_hss(ct: dict[str, torch.Tensor], eps: float = 1e-6) -> torch.Tensor:
    """HSS = 2 (H CN - M F) / ((H + M)(M + CN) + (H + F)(F + CN)), pysteps' formula."""
    h, m, f, c = ct["hits"], ct["misses"], ct["false_alarms"], ct["correct_negatives"]
    n = h + m + f + c
    h, m, f, c = h / n, m / n, f / n, c / n  # fractions: the same score, no overflow
    return 2.0 * (h * c - m * f) / ((h + m) * (m + c) + (h + f) * (f + c) + eps)


def skill_loss(pred: torch.Tensor, target: torch.Tensor, csi_dbz: float = 35.0, hss_dbz: float = 45.0,
               tau_dbz: float = 2.0, min_events: int = 16) -> torch.Tensor:
    """``(1 - soft CSI at csi_dbz) + (1 - soft HSS at hss_dbz)`` over the batch.

    A term whose threshold has fewer than ``min_events`` observed event pixels in the
    batch is left out (its score would be noise, or undefined); 0 when both are.
    """
    total = pred.new_zeros((), dtype=torch.float32)
    for thr, score in ((csi_dbz, soft_csi), (hss_dbz, soft_hss)):
        if int((target > float(thr) / DBZ_SCALE).sum()) < min_events:
            continue
        total = total + (1.0 - score(soft_contingency(pred, target, thr, tau_dbz)))
    return total
