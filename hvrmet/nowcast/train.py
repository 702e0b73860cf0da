"""Training the learned nowcasting models on the real radar sequences.

CUDA with bf16 autocast where there is a GPU, the CPU otherwise; data-parallel over
several GPUs when started with ``torchrun`` (``WORLD_SIZE`` > 1). A checkpoint holds the
weights, the model and training configuration, the sha256 of every data file trained on,
the validation loss, and the exact command that reproduces it.
"""

from __future__ import annotations

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

__all__ = ["TrainConfig", "train", "model_loss", "CHECKPOINT_DIR"]

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
    stride: int = 64
    seed: int = 0
    device: str = "auto"
    max_val_batches: int = 20
    max_train: int = 1200
    max_val: int = 200
    train_cases: list[str] | None = None   # instead of the train split (e.g. a quick smoke run)
    val_cases: list[str] | None = None     # instead of the validation split
    model_config: dict = field(default_factory=dict)

    @classmethod
    def from_file(cls, model: str, path: str | None, **overrides) -> "TrainConfig":
        data = yaml.safe_load(Path(path).read_text()) if path else {}
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}, "model": model}
        return cls(**data)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is available")
    return torch.device(name)


def model_loss(name: str, model, pred: torch.Tensor, target: torch.Tensor, epoch: int, n_epochs: int) -> torch.Tensor:
    """The training loss of each model, as its paper describes it.

    PA-Net: intensity-aware sample weights that grow over the epochs on an L1 + MSE loss,
    plus the mixture-of-experts load-balancing loss (weight 0.01); IMPA-Net: the
    meteorology-aware dynamic loss; MeTok: L1 + MSE.
    """
    from hvrmet.nowcast import losses

    if name == "impa_net":
        return losses.dynamic_loss(pred, target, epoch, n_epochs)
    per_sample = (pred - target).abs().mean(dim=(1, 2, 3)) + ((pred - target) ** 2).mean(dim=(1, 2, 3))
    if name == "pa_net":
        w = losses.intensity_sample_weights(target, epoch, n_epochs).to(per_sample)
        return (w * per_sample).sum() / w.sum() + 0.01 * model.aux_loss
    return per_sample.mean()


def _batches(arr: np.ndarray, batch_size: int, rng: np.random.Generator, steps: int):
    for _ in range(steps):
        idx = rng.integers(0, len(arr), size=batch_size)
        b = torch.from_numpy(arr[idx])
        yield b[:, :6], b[:, 6:]


def train(cfg: TrainConfig, out: str | Path, progress: bool = True, command: str | None = None) -> dict:
    """Train one model and write its checkpoint; returns the checkpoint's metadata."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hvrmet.nowcast.dataset import training_arrays
    from hvrmet.nowcast.models import build_model

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = _device(cfg.device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed + rank)
    rng = np.random.default_rng(cfg.seed + rank)
    if cfg.train_cases:
        train_arr, val_arr, sha = _arrays_for(cfg)
    else:
        train_arr, val_arr, sha = training_arrays(patch=cfg.patch, stride=cfg.stride, max_train=cfg.max_train,
                                                  max_val=cfg.max_val, rng_seed=cfg.seed)
    model = build_model(cfg.model, **cfg.model_config).to(device)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * cfg.steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total)
    amp = dict(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    history = []
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                  disable=not progress or rank != 0, transient=False) as bar:
        task = bar.add_task(f"train {cfg.model} on {device.type}", total=total, loss=float("nan"))
        for epoch in range(cfg.epochs):
            net.train()
            for x, y in _batches(train_arr, cfg.batch_size, rng, cfg.steps_per_epoch):
                x, y = x.to(device), y.to(device)
                with torch.autocast(**amp) if amp else _null():
                    pred = net(x)
                    loss = model_loss(cfg.model, model, pred.float(), y, epoch, cfg.epochs)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                sched.step()
                bar.update(task, advance=1, loss=float(loss))
            history.append({"epoch": epoch, "train_loss": float(loss), "val_mae_dbz": _validate(model, val_arr, device, cfg)})
    meta = {
        "model": cfg.model, "config": model.config, "train_config": asdict(cfg),
        "data_sha256": sha, "history": history, "seconds": round(time.perf_counter() - t0, 1),
        "device": device.type, "torch": torch.__version__, "parameters": sum(p.numel() for p in model.parameters()),
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
        "train_samples": int(len(train_arr)), "val_samples": int(len(val_arr)),
    }
    if rank == 0:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.cpu()
                 for k, v in model.state_dict().items()}
        torch.save({"meta": meta, "state_dict": state}, out)
        out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    if world > 1:
        torch.distributed.destroy_process_group()
    return meta


def _arrays_for(cfg: TrainConfig):
    """Samples of explicit case lists (seeded order, capped like the splits)."""
    from hvrmet.nowcast.dataset import build_dataset

    out, sha = [], {}
    for name, cases, cap in (("train", cfg.train_cases, cfg.max_train),
                             ("validation", cfg.val_cases or cfg.train_cases, cfg.max_val)):
        ds = build_dataset(list(cases), patch=cfg.patch, stride=cfg.stride)
        order = np.random.default_rng(cfg.seed).permutation(len(ds))[:cap]
        ds.index = ds.index[order]
        out.append(ds.arrays())
        sha[name] = ds.source_sha256
    return out[0], out[1], sha


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@torch.no_grad()
def _validate(model, val_arr: np.ndarray, device, cfg: TrainConfig) -> float:
    """Mean absolute error in dBZ on the validation samples (first batches, fixed order)."""
    model.eval()
    errs = []
    for i in range(0, min(len(val_arr), cfg.max_val_batches * cfg.batch_size), cfg.batch_size):
        b = torch.from_numpy(val_arr[i:i + cfg.batch_size]).to(device)
        pred = model(b[:, :6]).float()
        errs.append(float((pred - b[:, 6:]).abs().mean()) * 70.0)
    return float(np.mean(errs)) if errs else math.nan
