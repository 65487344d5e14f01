"""Optimisers, the warm-up + cosine schedule, and SAM.

SAM (Foret et al. 2021) takes two passes per step: the gradient at w gives the ascent step
e = rho g / |g|; the gradient at w + e is applied at w. Under DDP both backward passes
all-reduce, so every process computes the same |g| and the same update. BatchNorm running
statistics are left alone on the second pass (:func:`frozen_bn_stats`).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

from darklens.train.config import OptimConfig
from darklens.train.optimizers import OPTIMIZERS

__all__ = ["SAM", "build_optimizer", "build_scheduler", "frozen_bn_stats", "warmup_cosine"]


def build_optimizer(cfg: OptimConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The configured optimiser with two named parameter groups, ``backbone`` and ``head``
    (everything else), so the backbone can be frozen by giving its group a zero learning rate
    (safe under DDP, unlike toggling requires_grad)."""
    backbone = list(model.backbone_parameters())
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": backbone, "name": "backbone"}, {"params": rest, "name": "head"}]
    return OPTIMIZERS.get(cfg.name, "optim.name")(groups, cfg)


def build_scheduler(optimizer, cfg, steps_per_epoch: int):
    """Linear warm-up over ``optim.warmup_epochs``, then cosine to ``optim.min_lr_ratio``."""
    total = steps_per_epoch * cfg.train.epochs
    warmup = int(cfg.optim.warmup_epochs * steps_per_epoch)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, total, warmup, cfg.optim.min_lr_ratio))


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class SAM:
    """Sharpness-aware minimisation around any optimiser (AdamW, SGD, accelerate-wrapped).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The base optimiser; its ``step`` applies the update computed at the perturbed weights.
    rho : float
        Radius of the ascent step (in parameter-norm units).
    """

    def __init__(self, optimizer, rho: float):
        self.optimizer, self.rho = optimizer, rho
        self._eps: dict[nn.Parameter, torch.Tensor] = {}

    def _params(self):
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield p

    @torch.no_grad()
    def ascend(self) -> None:
        """Move to w + rho g/|g| (call after the first backward)."""
        params = list(self._params())
        if not params:
            return
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        scale = self.rho / (norm + 1e-12)
        for p in params:
            eps = p.grad * scale
            p.add_(eps)
            self._eps[p] = eps

    @torch.no_grad()
    def descend(self) -> None:
        """Return to w and step with the gradient taken at w + e (call after the 2nd backward)."""
        for p, eps in self._eps.items():
            p.sub_(eps)
        self._eps.clear()
        self.optimizer.step()


@contextmanager
def frozen_bn_stats(model: nn.Module):
    """Within the block, BatchNorm layers normalise with batch statistics but do not update their
    running mean/variance (momentum 0)."""
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            saved.append((m, m.momentum))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in saved:
            m.momentum = momentum
