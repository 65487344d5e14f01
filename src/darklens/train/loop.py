"""One readable ``train(cfg)``: data, model, optimiser, then epochs of step / validate / save.

The same code runs in one process (``darklens train``) and on N processes, GPUs or nodes
(``accelerate launch -m darklens.train``); accelerate handles devices, DDP, mixed precision and
gradient accumulation. Batches are split across processes (``split_batches``), so the global
batch and the learning-rate schedule do not depend on the process count. Only the main process
writes files and shows progress.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from darklens.analysis.metrics import regression_metrics
from darklens.artifact import RunDir, load_weights, save_model
from darklens.columns import TARGET_METRICS, metric_column
from darklens.errors import DarklensError
from darklens.train.checkpoints import (
    fit_export_ood,
    log_epoch,
    model_meta,
    open_run,
    save_checkpoint,
    tensorboard,
)
from darklens.train.config import TrainConfig
from darklens.train.data import StreamLoader, build_data, encode_inputs, make_loader
from darklens.train.optim import SAM, build_optimizer, build_scheduler, frozen_bn_stats

__all__ = ["train"]


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
    from accelerate.utils import set_seed

    from darklens.models.build import build_model

    accelerator = _accelerator(cfg)
    set_seed(cfg.train.seed)
    world = accelerator.num_processes
    info, train_ds, val_ds, norms = build_data(cfg, accelerator.process_index, world)
    model = build_model(cfg.model, info.image_shape[0], info.image_shape[-1],
                        len(cfg.data.targets), len(cfg.data.inputs))
    if cfg.model.init_from and not resume:
        load_weights(model, cfg.model.init_from)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    head, optimizer = model.head, build_optimizer(cfg.optim, model)
    train_loader = make_loader(train_ds, cfg, True, world)
    val_loader = make_loader(val_ds, cfg, False)
    steps_per_epoch = len(train_loader) // cfg.train.grad_accum
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)
    if isinstance(train_loader, StreamLoader):  # already split over the processes
        model, optimizer, val_loader, scheduler = accelerator.prepare(
            model, optimizer, val_loader, scheduler)
        train_loader.device = accelerator.device
    else:
        model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
            model, optimizer, train_loader, val_loader, scheduler)
    loop = _Loop(accelerator, cfg, model, head, optimizer, scheduler, norms, steps_per_epoch)

    run = RunDir(resume or cfg.out)
    state = open_run(accelerator, run, cfg, bool(resume), loop.ema)
    main = accelerator.is_main_process
    writer = tensorboard(run) if main else None
    for epoch in range(state["epoch"], cfg.train.epochs):
        train_ds.set_epoch(epoch)
        train_loss, rate = loop.epoch(train_loader, epoch)
        eval_model = loop.ema.module if loop.ema is not None else model
        val_loss, true, pred = _evaluate(eval_model, val_loader, accelerator, norms, head)
        row = {"epoch": epoch + 1, "lr": scheduler.get_last_lr()[-1], "train_loss": train_loss,
               "val_loss": val_loss, "images_per_s": rate,
               **_target_metrics(true, pred, cfg.data.targets)}

        improved = val_loss < state["best"]
        state.update(epoch=epoch + 1, bad_epochs=0 if improved else state["bad_epochs"] + 1)
        if improved:
            state.update(best=val_loss, best_epoch=epoch + 1)
        if main:
            log_epoch(run, writer, row)
            if improved:
                unwrapped = accelerator.unwrap_model(model)
                save_model(run.best, accelerator.unwrap_model(eval_model),
                           model_meta(cfg, unwrapped, info, norms, row))
        save_checkpoint(accelerator, run, epoch + 1, state, loop.ema, cfg.train.keep_checkpoints)
        if cfg.train.early_stop_patience and state["bad_epochs"] >= cfg.train.early_stop_patience:
            break
        if on_epoch is not None and on_epoch(row):
            state["stopped"] = f"stopped by on_epoch after epoch {epoch + 1}"
            break
    accelerator.wait_for_everyone()
    if main and run.best.is_dir():
        training = train_ds.raw_targets if hasattr(train_ds, "raw_targets") else val_ds.raw_targets
        fit_export_ood(run, val_ds, training, cfg.data.targets)
    accelerator.wait_for_everyone()
    if writer is not None:
        writer.close()
    return state


def _target_metrics(true, pred, targets: list[str]) -> dict:
    """The per-target validation columns of a metrics row."""
    metrics = regression_metrics(true, pred)
    return {metric_column(key, n): float(v) for key in TARGET_METRICS
            for n, v in zip(targets, metrics[key], strict=True)}


def _accelerator(cfg: TrainConfig):
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    accelerator = Accelerator(
        mixed_precision=cfg.train.mixed_precision,
        gradient_accumulation_steps=cfg.train.grad_accum,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        cpu=not torch.cuda.is_available(),
    )
    if cfg.optim.sam and cfg.train.grad_accum > 1:
        raise DarklensError("optim.sam: cannot be combined with train.grad_accum > 1")
    if cfg.train.batch_size % accelerator.num_processes:
        raise DarklensError(f"train.batch_size: {cfg.train.batch_size} must divide evenly over "
                            f"{accelerator.num_processes} processes")
    return accelerator


class _Loop:
    """The optimisation step and its helpers (SAM, EMA, backbone freezing) for one run."""

    def __init__(self, accelerator, cfg: TrainConfig, model, head, optimizer, scheduler, norms,
                 steps_per_epoch: int):
        self.accelerator, self.cfg, self.model, self.head = accelerator, cfg, model, head
        self.optimizer, self.scheduler, self.norms = optimizer, scheduler, norms
        self.steps_per_epoch = steps_per_epoch
        self.sam = SAM(optimizer, cfg.optim.sam_rho) if cfg.optim.sam else None
        self.ema = None
        if cfg.train.ema_decay > 0:
            from timm.utils import ModelEmaV3

            # warm-up: decay 1 - (1 + step)^(-2/3), capped at ema_decay, so the average forgets
            # the random initial weights within the first epochs of a short run
            self.ema = ModelEmaV3(accelerator.unwrap_model(model), decay=cfg.train.ema_decay,
                                  use_warmup=True)

    def epoch(self, loader, epoch: int) -> tuple[float, float]:
        """Train one epoch; returns the mean training loss and images per second."""
        from tqdm.auto import tqdm

        acc, cfg = self.accelerator, self.cfg
        frozen = epoch < cfg.model.freeze_backbone_epochs
        self.model.train()
        loader.set_epoch(epoch)
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        step = epoch * self.steps_per_epoch
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
                   disable=not (acc.is_main_process and cfg.train.progress), leave=False)
        for batch in bar:
            loss = self.step(batch, frozen)
            if self.ema is not None and acc.sync_gradients:
                step += 1
                self.ema.update(acc.unwrap_model(self.model), step=step)
            seen += len(batch["image"]) * acc.num_processes
            loss_sum += float(loss) * len(batch["image"])
            bar.set_postfix(loss=f"{float(loss):.4f}")
        rate = seen / (time.perf_counter() - t0)
        total = acc.reduce(torch.tensor(loss_sum, device=acc.device), "sum")
        return float(total) / seen, rate

    def step(self, batch: dict, frozen: bool) -> torch.Tensor:
        """One (accumulated) optimisation step on a batch; returns its detached loss."""
        acc, cfg, model, head = self.accelerator, self.cfg, self.model, self.head
        x = batch["image"]
        if cfg.train.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        known = encode_inputs(batch, self.norms)
        with acc.accumulate(model):
            loss = head.loss(model(x, known), batch["target"])
            acc.backward(loss)
            if self.sam is not None:
                self.sam.ascend()
                self.optimizer.zero_grad()
                with frozen_bn_stats(model):
                    acc.backward(head.loss(model(x, known), batch["target"]))
            if acc.sync_gradients and cfg.optim.grad_clip > 0:
                acc.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            if frozen:  # the backbone learns nothing while frozen (safe under DDP)
                for group in self.optimizer.param_groups:
                    if group["name"] == "backbone":
                        group["lr"] = 0.0
            if self.sam is not None:
                self.sam.descend()
            else:
                self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad()
        return loss.detach()


def _evaluate(model, loader, accelerator, norms, head):
    """Validation loss (standardised units, mean over samples) and true / predicted values in
    physical units; every process gets the same numbers whatever the process count."""
    model.eval()
    outs, trues = [], []
    with torch.no_grad():
        for batch in loader:
            out = model(batch["image"], encode_inputs(batch, norms))
            outs.append(accelerator.gather_for_metrics({k: v.float() for k, v in out.items()}))
            trues.append(accelerator.gather_for_metrics(batch["target"].float()))
    out = {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
    true = torch.cat(trues)
    val_loss = float(head.loss(out, true))
    decode = norms["target"].decode_mean
    return val_loss, decode(true.cpu().numpy()), decode(out["mean"].cpu().numpy())
