"""Training the learned nowcasting models on the real radar sequences, in the Lagrangian frame.

CUDA with bf16 autocast where there is a GPU, the CPU otherwise; data-parallel over
several GPUs when started with ``torchrun`` (``WORLD_SIZE`` > 1).

* Samples: :func:`hvrmet.nowcast.pool.build_pool` -- random crops over the whole domain
  of every training event, pysteps Lucas-Kanade motion and extrapolation per sample,
  random rotations by 90 degrees and flips per drawn sample.
* Losses (:func:`model_loss`): per-pixel intensity weights normalised by a constant of
  the training data (PA-Net, MeTok), IMPA-Net's normalised dynamic loss, plus a
  differentiable CSI/HSS term at 35 and 45 dBZ for every model.
* Model selection (:func:`select_best`): the validation split is verified (pysteps
  contingency tables: CSI at 35, HSS at 45 dBZ; RAPSD ratio; MAE) at the start -- the
  zero-residual model, i.e. the extrapolation nowcast -- and every ``val_every`` steps
  (or ``val_every_s`` seconds). A candidate is eligible when neither its CSI35 nor its
  HSS45 is below the zero-residual start's, its RAPSD ratio is at least 95 % of the
  start's (no smoother) and its MAE is not above the start's; the eligible one with the highest
  CSI35 + HSS45 ships. The start is always eligible, so the shipped model is never worse
  than extrapolation on the validation samples in any of these scores.
* Schedule: ``steps`` (PyTorch's one-cycle over ``epochs x steps_per_epoch``) or
  ``time`` (the same one-cycle curve, :func:`one_cycle_lr`, over the elapsed fraction of
  ``time_limit_s``: a fixed wall-clock budget, e.g. 30 minutes of a CPU or 4 of a GPU,
  gets a whole schedule whatever the machine's speed).

A checkpoint holds the weights, the model and training configuration, the sha256 of
every data file trained and validated on, how many events, frames and samples it saw,
every candidate's validation scores, and the exact command that reproduces it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

__all__ = ["TrainConfig", "train", "model_loss", "validate", "select_best", "one_cycle_lr", "write_checkpoint", "CHECKPOINT_DIR"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


@dataclass
class TrainConfig:
    """What a training run does (every field can come from a YAML file)."""

    model: str
    epochs: int = 4
    steps_per_epoch: int = 60
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patch: int = 128
    seed: int = 0
    device: str = "auto"
    threads: int = 1                        # CPU threads (torch.set_num_threads)
    time_limit_s: float | None = None       # stop (and select) when the wall time is up
    val_every: int = 50                     # steps between validation candidates
    val_every_s: float | None = None        # ... or seconds since the last one, whichever comes first
    skill_weight: float = 0.5               # weight of the differentiable CSI/HSS term
    crops_per_start: int = 8                # random crops per start frame and event
    t_stride: int = 2                       # start frames: every t_stride-th
    margin: int = 32                        # pixels around a crop for the extrapolation
    val_patch: int = 256
    val_crops_per_start: int = 2
    val_t_stride: int = 3
    max_train: int | None = None            # cap on the training samples (None: all)
    max_val: int | None = None
    cache_pool: bool = True
    pool_workers: int = 1                   # processes building the sample pools (same pools for any number)
    schedule: str = "steps"                 # "steps": one-cycle over epochs x steps_per_epoch; "time": over time_limit_s
    train_cases: list[str] | None = None    # instead of the train split (e.g. a quick smoke run)
    val_cases: list[str] | None = None      # instead of the validation split
    model_config: dict = field(default_factory=dict)

    @classmethod
    def from_file(cls, model: str, path: str | None, **overrides) -> "TrainConfig":
        data = yaml.safe_load(Path(path).read_text()) if path else {}
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}, "model": model}
        return cls(**data)


def one_cycle_lr(frac: float, max_lr: float, pct_start: float = 0.15, div_factor: float = 25.0,
                 final_div_factor: float = 1e4) -> float:
    """The learning rate of PyTorch's ``OneCycleLR`` (cosine annealing, its defaults) at the
    fraction ``frac`` in [0, 1] of the run: from ``max_lr / div_factor`` up to ``max_lr``
    over the first ``pct_start``, then down to ``max_lr / div_factor / final_div_factor``.
    The learning rate only: ``OneCycleLR`` also cycles Adam's beta1 (0.95 -> 0.85 -> 0.95);
    the ``time`` schedule leaves beta1 at the optimiser's 0.9."""
    lo, end = max_lr / div_factor, max_lr / div_factor / final_div_factor
    frac = min(max(float(frac), 0.0), 1.0)
    if frac <= pct_start:
        a, b, x = lo, max_lr, frac / pct_start
    else:
        a, b, x = max_lr, end, (frac - pct_start) / (1.0 - pct_start)
    return b + (a - b) / 2.0 * (1.0 + math.cos(math.pi * x))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


def model_loss(name: str, model, pred: torch.Tensor, target: torch.Tensor, epoch: float, n_epochs: int,
               level_fractions=None, skill_weight: float = 0.5) -> torch.Tensor:
    """The training loss of each model.

    PA-Net and MeTok: per-pixel intensity weights (ramped in over the epochs, PA-Net's
    intensity-aware training) on L1 + MSE, divided by their expected value under the
    training data's intensity distribution (a constant); PA-Net adds the MoE
    load-balancing loss (0.01). IMPA-Net: the meteorology-aware dynamic loss, normalised
    by the same kind of constant. All three add ``skill_weight`` times the differentiable
    ``(1 - CSI35) + (1 - HSS45)``.
    """
    from hvrmet.nowcast import losses

    lf = tuple(level_fractions) if level_fractions is not None else losses.LEVEL_FRACTIONS
    if name == "impa_net":
        base = losses.dynamic_loss(pred, target, epoch, n_epochs, level_fractions=lf)
    else:
        w = losses.pixel_intensity_weights(target, pred, epoch, n_epochs)
        base = losses.weighted_error(pred, target, w, losses.intensity_norm(lf, epoch, n_epochs))
    loss = base + skill_weight * losses.skill_loss(pred, target)
    if name == "pa_net":
        loss = loss + 0.01 * model.aux_loss
    return loss


@torch.no_grad()
def validate(model, pool, device, batch_size: int = 4) -> dict:
    """Verification of ``model`` on the validation pool (every sample, fixed order, no
    augmentation): pysteps CSI at 35 dBZ, HSS at 45 dBZ, the RAPSD ratio (all pooled over
    the 12 leads), and the MAE in dBZ."""
    from hvrmet.nowcast.pool import batch
    from hvrmet.nowcast.verification import Verifier

    model.eval()
    ver = Verifier(thresholds=(35.0, 45.0), scales=(), lead_times=12)
    errs = []
    for i in range(0, len(pool), batch_size):
        x, adv, mot, y = (t.to(device) for t in batch(pool, np.arange(i, min(i + batch_size, len(pool)))))
        pred = model(x, adv, mot).float()
        errs.append(float((pred - y).abs().mean()) * 70.0)
        f, o = pred.cpu().numpy() * 70.0, y.cpu().numpy() * 70.0
        for k in range(len(f)):
            ver.accumulate(f[k], o[k])
    model.train()
    from hvrmet.nowcast.verification import pooled_scores

    out = pooled_scores(ver)
    out["MAE_dbz"] = float(np.mean(errs)) if errs else math.nan
    out["n_obs35"] = int(np.count_nonzero(pool.target > round(3 * 35.0)))
    out["n_obs45"] = int(np.count_nonzero(pool.target > round(3 * 45.0)))
    return out


def select_best(candidates: list[dict], min_events: int = 200, rapsd_tolerance: float = 0.05,
                mae_tolerance: float = 0.0) -> int:
    """Index of the candidate to ship: the first is the zero-residual start (the
    extrapolation nowcast).

    A candidate is eligible when

    * its ``CSI35`` and ``HSS45`` are both at least the start's;
    * it is no smoother than the start: its ``RAPSD_ratio`` is at least ``(1 -
      rapsd_tolerance)`` times the start's (a forecast that gains CSI by smearing
      intense echo over a wider area loses power at small scales first);
    * its ``MAE_dbz`` is at most ``(1 + mae_tolerance)`` times the start's.

    Among the eligible ones the highest ``CSI35 + HSS45`` wins (ties: the earliest), so
    the start ships unless a trained candidate beats it on the skill scores without
    smoothing more or erring more. A score is left out of both the rule and the sum when
    it is NaN at the start or when the validation samples hold fewer than ``min_events``
    observed event pixels at its threshold (``n_obs35`` / ``n_obs45`` of the start):
    such a score is noise. A guard (RAPSD ratio, MAE) is left out when the start lacks
    it or it is NaN there.
    """
    if not candidates:
        raise ValueError("no candidates")
    base = dict(candidates[0])
    for k, n in (("CSI35", "n_obs35"), ("HSS45", "n_obs45")):
        if base.get(n) is not None and int(base[n]) < min_events:
            base[k] = math.nan

    def val(c, k):
        v = c.get(k, math.nan)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    used = [k for k in ("CSI35", "HSS45") if val(base, k) is not None]
    floor = {k: val(base, k) for k in used}
    if val(base, "RAPSD_ratio") is not None:
        floor["RAPSD_ratio"] = (1.0 - float(rapsd_tolerance)) * val(base, "RAPSD_ratio")
    ceiling = {}
    if val(base, "MAE_dbz") is not None:
        ceiling["MAE_dbz"] = (1.0 + float(mae_tolerance)) * val(base, "MAE_dbz")

    def ok(c):
        for k, b in floor.items():
            v = val(c, k)
            if v is None or v < b:
                return False
        for k, b in ceiling.items():
            v = val(c, k)
            if v is None or v > b:
                return False
        return True

    def score(c):
        return sum(val(c, k) or 0.0 for k in used)

    best = 0
    for i, c in enumerate(candidates):
        if ok(c) and score(c) > score(candidates[best]):
            best = i
    return best


def _pools(cfg: TrainConfig):
    from hvrmet.nowcast.dataset import load_split
    from hvrmet.nowcast.pool import build_pool

    train_cases = list(cfg.train_cases) if cfg.train_cases else load_split("train")
    val_cases = list(cfg.val_cases) if cfg.val_cases else (list(cfg.train_cases) if cfg.train_cases
                                                           else load_split("validation"))
    tp = build_pool(train_cases, patch=cfg.patch, crops_per_start=cfg.crops_per_start, t_stride=cfg.t_stride,
                    margin=cfg.margin, seed=cfg.seed, cache=cfg.cache_pool, workers=cfg.pool_workers)
    vp = build_pool(val_cases, patch=cfg.val_patch, crops_per_start=cfg.val_crops_per_start,
                    t_stride=cfg.val_t_stride, margin=cfg.margin, min_wet=0.10, seed=cfg.seed + 1,
                    cache=cfg.cache_pool, workers=cfg.pool_workers)
    for pool, cap in ((tp, cfg.max_train), (vp, cfg.max_val)):
        if cap is not None and len(pool) > cap:
            keep = np.sort(np.random.default_rng(cfg.seed).choice(len(pool), size=int(cap), replace=False))
            for name in ("obs", "target", "adv", "motion", "index"):
                setattr(pool, name, getattr(pool, name)[keep])
    return tp, vp


def train(cfg: TrainConfig, out: str | Path, progress: bool = True, command: str | None = None) -> dict:
    """Train one model and write its (best validation) checkpoint; returns its metadata."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hvrmet.nowcast.models import build_model
    from hvrmet.nowcast.pool import batch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if cfg.schedule not in ("steps", "time"):
        raise ValueError(f"schedule must be 'steps' or 'time', not {cfg.schedule!r}")
    by_time = cfg.schedule == "time"
    if by_time and not cfg.time_limit_s:
        raise ValueError("schedule 'time' needs time_limit_s")
    if by_time and world > 1:  # each rank's own clock would end the loop at a different step
        raise ValueError("schedule 'time' runs on one process; use schedule 'steps' with torchrun")
    device = _device(cfg.device)
    if device.type == "cpu" and cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed + rank)
    rng = np.random.default_rng(cfg.seed + rank)
    t_data = time.perf_counter()
    tpool, vpool = _pools(cfg)
    data_seconds = time.perf_counter() - t_data
    tstats, vstats = tpool.stats(), vpool.stats()
    lf = tstats["level_fractions"]
    model = build_model(cfg.model, **cfg.model_config).to(device)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * cfg.steps_per_epoch
    sched = None if by_time else torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total,
                                                                      pct_start=0.15)
    amp = dict(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    t0 = time.perf_counter()
    candidates = [{"step": 0, **validate(model, vpool, device)}]
    t_val = time.perf_counter()
    states = [copy.deepcopy(model.state_dict())]
    best_i = 0
    history, step, losses_seen, last_val_step = [], 0, [], 0
    stopped_early = False
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                  disable=not progress or rank != 0, transient=False) as bar:
        task = bar.add_task(f"train {cfg.model} on {device.type}", total=total, loss=float("nan"))
        net.train()
        while by_time or step < total:
            if by_time:  # the same one-cycle shape over the elapsed fraction of the time limit
                frac = min((time.perf_counter() - t0) / float(cfg.time_limit_s), 1.0)
                for g in opt.param_groups:
                    g["lr"] = one_cycle_lr(frac, cfg.lr)
                epoch = frac * cfg.epochs
            else:
                epoch = step / cfg.steps_per_epoch
            idx = rng.integers(0, len(tpool), size=cfg.batch_size)
            x, adv, mot, y = (t.to(device) for t in batch(tpool, idx, rng))
            with torch.autocast(**amp) if amp else _null():
                pred = net(x, adv, mot)
                loss = model_loss(cfg.model, model, pred.float(), y, epoch, cfg.epochs, lf, cfg.skill_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            losses_seen.append(float(loss.detach()))
            bar.update(task, advance=1, loss=losses_seen[-1])
            out_of_time = cfg.time_limit_s is not None and time.perf_counter() - t0 > cfg.time_limit_s
            due = cfg.val_every_s is not None and time.perf_counter() - t_val >= float(cfg.val_every_s)
            if step % cfg.val_every == 0 or due or (step == total and not by_time) or out_of_time:
                t_val = time.perf_counter()
                cand = {"step": step, "epoch": round(epoch if by_time else step / cfg.steps_per_epoch, 3),
                        "train_loss": float(np.mean(losses_seen[last_val_step:])), **validate(model, vpool, device)}
                last_val_step = step
                candidates.append(cand)
                new_best = select_best(candidates)
                if new_best != best_i:
                    best_i = new_best
                    states = [copy.deepcopy(model.state_dict())]
                if progress and rank == 0 and not sys.stderr.isatty():  # a plain line per candidate in logs
                    print(f"{cfg.model} step {step} {time.perf_counter() - t0:.0f} s: loss {cand['train_loss']:.4f} "
                          f"val CSI35 {cand['CSI35']:.4f} HSS45 {cand['HSS45']:.4f} "
                          f"RAPSD {cand['RAPSD_ratio']:.3f} (best: step {candidates[best_i]['step']})",
                          file=sys.stderr, flush=True)
                history.append({"epoch": cand["epoch"], "step": step, "train_loss": cand["train_loss"],
                                "val_mae_dbz": cand["MAE_dbz"], "val_CSI35": cand["CSI35"],
                                "val_HSS45": cand["HSS45"], "val_RAPSD_ratio": cand["RAPSD_ratio"]})
            if out_of_time:
                stopped_early = True
                break
    model.load_state_dict(states[-1])
    seconds = round(time.perf_counter() - t0, 1)
    meta = {
        "model": cfg.model, "config": model.config, "train_config": asdict(cfg),
        "data_sha256": {"train": tpool.source_sha256, "validation": vpool.source_sha256},
        "data": {"train": tstats, "validation": vstats, "seconds_to_build": round(data_seconds, 1),
                 "samples_drawn": int(step * cfg.batch_size),
                 "augmentation": "random rot90 x k and column flip per drawn sample"},
        "history": history, "candidates": candidates, "selected": candidates[best_i],
        "selected_is_zero_residual_start": best_i == 0,
        "seconds": seconds, "steps": step, "stopped_at_time_limit": stopped_early,
        "device": device.type, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
        "train_samples": int(len(tpool)), "val_samples": int(len(vpool)),
    }
    if rank == 0:
        write_checkpoint(out, model, meta)
    if world > 1:
        torch.distributed.destroy_process_group()
    return meta


def write_checkpoint(path: str | Path, model: torch.nn.Module, meta: dict) -> None:
    """Write ``path`` (the weights as float32 on the CPU, with ``meta``) and ``meta`` alone
    beside it as ``.json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.cpu()
             for k, v in model.state_dict().items()}
    torch.save({"meta": meta, "state_dict": state}, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=float))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
