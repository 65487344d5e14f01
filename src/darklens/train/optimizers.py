"""The optimisers ``optim.name`` can pick, one registered factory each.

Imported by the (torch-free) training config for its choices, so torch is imported inside the
factories only.
"""

from __future__ import annotations

from darklens.registry import Registry

__all__ = ["OPTIMIZERS"]

#: ``optim.name`` -> ``factory(param_groups, OptimConfig) -> torch.optim.Optimizer``
OPTIMIZERS: Registry = Registry("optimizer")


@OPTIMIZERS.register("adamw")
def _adamw(groups: list[dict], cfg):
    import torch

    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("sgd")
def _sgd(groups: list[dict], cfg):
    import torch

    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0)
