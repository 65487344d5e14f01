"""One readable ``train(cfg)``: data, model, optimiser, then epochs of step / validate / save.

The same code runs in one process (``darklens train``) and on N processes, GPUs or nodes
(``accelerate launch -m darklens.train``); accelerate handles devices, DDP, mixed precision and
gradient accumulation. Batches are split across processes (``split_batches``), so the global
batch and the learning-rate schedule do not depend on the process count. Only the main process
writes files and shows progress.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from darklens import __version__
from darklens.analysis.metrics import regression_metrics
from darklens.errors import DarklensError
from darklens.train.config import TrainConfig, resolved_yaml
from darklens.train.export import save_export
from darklens.train.optim import SAM, build_optimizer, frozen_bn_stats, warmup_cosine

__all__ = ["train"]


class EpochSampler(torch.utils.data.Sampler):
    """A permutation of the training samples that depends only on (seed, epoch)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


def _build_data(cfg: TrainConfig):
    """Datasets for train/val with normalisations fitted on the training split."""
    from darklens.data.catalog import describe, split_indices
    from darklens.data.dataset import LensDataset
    from darklens.data.normalize import ImageNorm, TargetNorm

    d = cfg.data
    info = describe(d.files)
    if d.val_files:
        val_info = describe(d.val_files)
        if val_info.image_shape != info.image_shape:
            raise DarklensError(f"data.val_files: image shape {val_info.image_shape} differs "
                                f"from {info.image_shape} of data.files")
        split = {"train": np.arange(info.n), "val": np.arange(val_info.n)}
    else:
        split = split_indices(info.n, tuple(d.split), d.split_seed)
    if len(split["train"]) < cfg.train.batch_size or len(split["val"]) == 0:
        raise DarklensError(
            f"data.split: {len(split['train'])} training and {len(split['val'])} validation "
            f"images for batch_size {cfg.train.batch_size}; use more data or a smaller batch"
        )
    probe = LensDataset(d.files, d.targets, d.inputs, split["train"])
    target_norm = TargetNorm.fit(probe.raw_targets, d.targets)
    # known inputs (redshifts, exposure) are standardised too, with their own statistics
    input_norm = TargetNorm.fit(probe.raw_inputs, d.inputs) if d.inputs else None
    # image statistics from (up to) the first 512 training images
    first = probe.load_images(np.arange(min(512, len(probe))))
    image_norm = ImageNorm(mode=d.image_norm, stretch=d.stretch).fit(first)
    make = lambda files, idx, aug: LensDataset(  # noqa: E731
        files, d.targets, d.inputs, idx, augment=aug, image_norm=image_norm,
        target_norm=target_norm, seed=cfg.train.seed,
    )
    norms = {"image": image_norm, "target": target_norm, "input": input_norm}
    val = make(d.val_files or d.files, split["val"], False)
    return info, make(d.files, split["train"], d.augment), val, norms


def _inputs(batch, norms):
    x = batch["inputs"]
    return norms["input"].encode(x) if norms["input"] is not None else x


def _loader(ds, cfg: TrainConfig, train: bool):
    import os

    sampler = EpochSampler(len(ds), cfg.train.seed) if train else None
    workers = cfg.data.num_workers
    if workers is None:
        workers = min(8, (os.cpu_count() or 2) // 2) if torch.cuda.is_available() else 0
    return torch.utils.data.DataLoader(
        ds, batch_size=cfg.train.batch_size, sampler=sampler, drop_last=train,
        num_workers=workers, pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,  # set_epoch reaches them (shared memory)
    )


def _checkpoints(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("epoch_*"))


def _evaluate(model, loader, accelerator, norms, head):
    """Validation loss (standardised units, mean over samples) and true / predicted values in
    physical units; every process gets the same numbers whatever the process count."""
    model.eval()
    outs, trues = [], []
    with torch.no_grad():
        for batch in loader:
            out = model(batch["image"], _inputs(batch, norms))
            outs.append(accelerator.gather_for_metrics({k: v.float() for k, v in out.items()}))
            trues.append(accelerator.gather_for_metrics(batch["target"].float()))
    out = {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
    true = torch.cat(trues)
    val_loss = float(head.loss(out, true))
    decode = norms["target"].decode_mean
    return val_loss, decode(true.cpu().numpy()), decode(out["mean"].cpu().numpy())


def train(cfg: TrainConfig, resume: str | Path | None = None, on_epoch=None) -> dict:
    """Train a model as configured; returns the training state (best epoch and loss).

    Parameters
    ----------
    cfg : TrainConfig
        Validated config (data, model, optim, train).
    resume : path, optional
        A run directory to continue from its latest checkpoint; the continuation equals an
        uninterrupted run (same data order, augmentations, RNG states).
    on_epoch : callable, optional
        ``on_epoch(row) -> bool`` after each epoch's validation with that epoch's metrics row
        (the ``metrics.csv`` columns); returning True stops training (e.g. an optuna pruner).
    """
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from tqdm.auto import tqdm

    from darklens.models.build import build_model

    run = Path(resume) if resume else cfg.out
    accelerator = Accelerator(
        mixed_precision=cfg.train.mixed_precision,
        gradient_accumulation_steps=cfg.train.grad_accum,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        cpu=not torch.cuda.is_available(),
    )
    main = accelerator.is_main_process
    if cfg.optim.sam and cfg.train.grad_accum > 1:
        raise DarklensError("optim.sam: cannot be combined with train.grad_accum > 1")
    if cfg.train.batch_size % accelerator.num_processes:
        raise DarklensError(f"train.batch_size: {cfg.train.batch_size} must divide evenly over "
                            f"{accelerator.num_processes} processes")
    set_seed(cfg.train.seed)

    # data and model
    info, train_ds, val_ds, norms = _build_data(cfg)
    bands, size = info.image_shape[0], info.image_shape[-1]
    model = build_model(cfg.model, bands, size, len(cfg.data.targets), len(cfg.data.inputs))
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    head = model.head
    backbone = list(model.backbone_parameters())
    ids = {id(p) for p in backbone}
    optimizer = build_optimizer(cfg.optim, backbone,
                                [p for p in model.parameters() if id(p) not in ids])
    train_loader, val_loader = _loader(train_ds, cfg, True), _loader(val_ds, cfg, False)
    steps_per_epoch = len(train_loader) // cfg.train.grad_accum
    total = steps_per_epoch * cfg.train.epochs
    warmup = int(cfg.optim.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, total, warmup, cfg.optim.min_lr_ratio))
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, val_loader, scheduler)
    sam = SAM(optimizer, cfg.optim.sam_rho) if cfg.optim.sam else None
    ema = None
    if cfg.train.ema_decay > 0:
        from timm.utils import ModelEmaV3

        # warm-up: decay 1 - (1 + step)^(-2/3), capped at ema_decay, so the average forgets
        # the random initial weights within the first epochs of a short run
        ema = ModelEmaV3(accelerator.unwrap_model(model), decay=cfg.train.ema_decay,
                         use_warmup=True)

    # run directory and resume
    state = {"epoch": 0, "best": float("inf"), "best_epoch": -1, "bad_epochs": 0}
    if resume:
        ckpts = _checkpoints(run)
        if not ckpts:
            raise DarklensError(f"{run}: no checkpoints to resume from")
        accelerator.load_state(str(ckpts[-1]))
        state = json.loads((ckpts[-1] / "trainer.json").read_text())
        if ema is not None:
            from safetensors.torch import load_file

            ema.module.load_state_dict(load_file(str(ckpts[-1] / "ema.safetensors")))
    elif run.exists() and any(run.iterdir()):  # every process checks, so all stop together
        raise DarklensError(f"{run}: run directory exists and is not empty; choose another "
                            "train.out or resume it with --resume")
    accelerator.wait_for_everyone()
    if main and not resume:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.yaml").write_text(resolved_yaml(cfg))
        (run / "versions.json").write_text(json.dumps(_versions(), indent=2))
    writer = _tensorboard(run) if main else None
    names = cfg.data.targets

    for epoch in range(state["epoch"], cfg.train.epochs):
        # freeze the backbone (zero learning rate) for the first epochs
        frozen = epoch < cfg.model.freeze_backbone_epochs
        model.train()
        train_loader.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        t0, seen, loss_sum, step = time.perf_counter(), 0, 0.0, epoch * steps_per_epoch
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
                   disable=not (main and cfg.train.progress), leave=False)
        for batch in bar:
            x = batch["image"]
            if cfg.train.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            known = _inputs(batch, norms)
            with accelerator.accumulate(model):
                out = model(x, known)
                loss = head.loss(out, batch["target"])
                accelerator.backward(loss)
                if sam is not None:
                    sam.ascend()
                    optimizer.zero_grad()
                    with frozen_bn_stats(model):
                        accelerator.backward(head.loss(model(x, known), batch["target"]))
                if accelerator.sync_gradients and cfg.optim.grad_clip > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                if frozen:
                    optimizer.param_groups[0]["lr"] = 0.0
                if sam is not None:
                    sam.descend()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if ema is not None and accelerator.sync_gradients:
                step += 1
                ema.update(accelerator.unwrap_model(model), step=step)
            seen += len(x) * accelerator.num_processes
            loss_sum += float(loss.detach()) * len(x)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        rate = seen / (time.perf_counter() - t0)
        train_loss = float(accelerator.reduce(torch.tensor(loss_sum, device=accelerator.device),
                                              "sum")) / seen

        eval_model = ema.module if ema is not None else model
        val_loss, true, pred = _evaluate(eval_model, val_loader, accelerator, norms, head)
        metrics = regression_metrics(true, pred)
        row = {"epoch": epoch + 1, "lr": scheduler.get_last_lr()[-1], "train_loss": train_loss,
               "val_loss": val_loss, "images_per_s": rate}
        for key in ("mae", "rmse", "r2"):
            row.update({f"{key}_{n}": float(v) for n, v in zip(names, metrics[key], strict=True)})

        improved = val_loss < state["best"]
        state.update(epoch=epoch + 1, bad_epochs=0 if improved else state["bad_epochs"] + 1)
        if improved:
            state.update(best=val_loss, best_epoch=epoch + 1)
        if main:
            _append_csv(run / "metrics.csv", row)
            if writer is not None:
                for key, value in row.items():
                    writer.add_scalar(key, value, epoch + 1)
            if improved:
                save_export(run / "best", accelerator.unwrap_model(eval_model), _meta(
                    cfg, accelerator.unwrap_model(model), info, norms, row))
        _save_checkpoint(accelerator, run, epoch + 1, state, ema, cfg.train.keep_checkpoints)
        if cfg.train.early_stop_patience and state["bad_epochs"] >= cfg.train.early_stop_patience:
            break
        if on_epoch is not None and on_epoch(row):
            state["stopped"] = f"stopped by on_epoch after epoch {epoch + 1}"
            break
    accelerator.wait_for_everyone()
    if writer is not None:
        writer.close()
    return state


def _save_checkpoint(accelerator, run: Path, epoch: int, state: dict, ema, keep: int) -> None:
    path = run / "checkpoints" / f"epoch_{epoch:04d}"
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "trainer.json").write_text(json.dumps(state))
        if ema is not None:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in ema.module.state_dict().items()},
                      str(path / "ema.safetensors"))
        for old in _checkpoints(run)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def _tensorboard(run: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(run / "tensorboard"))


def _versions() -> dict:
    import accelerate
    import timm

    return {"darklens": __version__, "torch": torch.__version__, "timm": timm.__version__,
            "accelerate": accelerate.__version__, "numpy": np.__version__}


def _meta(cfg, model, info, norms, row) -> dict:
    return {
        "model_spec": model.model_spec(),
        "targets": list(cfg.data.targets),
        "inputs": list(cfg.data.inputs),
        "image_shape": list(info.image_shape),
        "image_norm": norms["image"].to_dict(),
        "target_norm": norms["target"].to_dict(),
        "input_norm": norms["input"].to_dict() if norms["input"] is not None else None,
        "head": cfg.model.head,
        "epoch": row["epoch"],
        "val_metrics": row,
        "config": resolved_yaml(cfg),
        "versions": _versions(),
    }
