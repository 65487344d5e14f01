"""Regression heads: point estimates or Gaussian predictions with uncertainties.

Every head is an MLP on the (fused) features, registered in :data:`HEADS`, built
from ``(in_features, n_targets, HeadConfig)``, and shares one interface:

- ``forward(features) -> dict`` with ``mean`` ``(B, T)``; probabilistic heads add ``var``
  ``(B, T)`` (marginal variances) and ``gaussian_full`` adds ``scale_tril`` ``(B, T, T)``;
- ``loss(out, target) -> scalar``: the per-sample loss summed over targets, averaged over the
  batch (for Gaussian heads the negative log-likelihood, constants included).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from darklens.errors import DarklensError
from darklens.models.config import HeadConfig
from darklens.registry import Registry

__all__ = ["HEADS", "POINT_LOSSES", "build_head"]

#: ``model.head.kind`` -> head class ``(in_features, n_targets, HeadConfig, where)``
HEADS: Registry[type[nn.Module]] = Registry("head")
#: ``model.head.loss`` of point heads -> elementwise loss ``(pred, target, HeadConfig)``
POINT_LOSSES: Registry[Callable[[torch.Tensor, torch.Tensor, HeadConfig], torch.Tensor]] = (
    Registry("point loss")
)

_LOG_2PI = math.log(2.0 * math.pi)


def build_head(in_features: int, n_targets: int, cfg: HeadConfig, where: str = "model.head"):
    """Build the registered head ``cfg.kind``."""
    return HEADS.get(cfg.kind, f"{where}.kind")(in_features, n_targets, cfg, where)


def _mlp(in_features: int, out_features: int, cfg: HeadConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(cfg.layers):
        layers += [nn.Linear(width, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout)]
        width = cfg.hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def _no_beta_nll(cfg: HeadConfig, where: str) -> None:
    if cfg.beta_nll:
        raise DarklensError(f"{where}.beta_nll: only for kind gaussian, got kind {cfg.kind}")


def _no_loss_option(cfg: HeadConfig, where: str) -> None:
    if cfg.loss is not None:
        raise DarklensError(
            f"{where}.loss: only for kind point; kind {cfg.kind} is trained by its negative "
            "log-likelihood (remove loss)"
        )


POINT_LOSSES.register("mse", lambda pred, target, cfg: F.mse_loss(pred, target, reduction="none"))
POINT_LOSSES.register("mae", lambda pred, target, cfg: F.l1_loss(pred, target, reduction="none"))
POINT_LOSSES.register("huber", lambda pred, target, cfg: F.huber_loss(
    pred, target, reduction="none", delta=cfg.huber_delta))


@HEADS.register("point")
class PointHead(nn.Module):
    """Means only, trained with ``mse`` (default), ``mae`` or ``huber``."""

    def __init__(self, in_features: int, n_targets: int, cfg: HeadConfig, where: str):
        super().__init__()
        _no_beta_nll(cfg, where)
        self.loss_fn = POINT_LOSSES.get(cfg.loss or "mse", f"{where}.loss")
        self.cfg = cfg
        self.net = _mlp(in_features, n_targets, cfg)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"mean": self.net(features)}

    def loss(self, out: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        per_element = self.loss_fn(out["mean"], target, self.cfg)
        return per_element.sum(-1).mean()


@HEADS.register("gaussian")
class GaussianHead(nn.Module):
    """Independent Gaussians: means and log-variances (clamped), NLL loss."""

    def __init__(self, in_features: int, n_targets: int, cfg: HeadConfig, where: str):
        super().__init__()
        _no_loss_option(cfg, where)
        self.n_targets = n_targets
        self.log_var_range = (cfg.log_var_min, cfg.log_var_max)
        self.beta_nll = cfg.beta_nll
        self.net = _mlp(in_features, 2 * n_targets, cfg)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, raw = self.net(features).split(self.n_targets, dim=-1)
        log_var = raw.clamp(*self.log_var_range)
        return {"mean": mean, "log_var": log_var, "var": log_var.exp()}

    def loss(self, out: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        log_var = out["log_var"]
        nll = 0.5 * (_LOG_2PI + log_var + (target - out["mean"]) ** 2 * torch.exp(-log_var))
        if self.beta_nll:
            nll = nll * torch.exp(self.beta_nll * log_var.detach())
        return nll.sum(-1).mean()


@HEADS.register("gaussian_full")
class FullGaussianHead(nn.Module):
    """A multivariate Gaussian with full covariance ``L L^T`` (log-Cholesky parametrisation).

    The diagonal of ``L`` is ``exp(log_var / 2)`` with ``log_var`` clamped like the diagonal
    head; the strictly lower triangle is free.
    """

    def __init__(self, in_features: int, n_targets: int, cfg: HeadConfig, where: str):
        super().__init__()
        _no_loss_option(cfg, where)
        _no_beta_nll(cfg, where)
        t = n_targets
        self.n_targets = t
        self.log_var_range = (cfg.log_var_min, cfg.log_var_max)
        rows, cols = torch.tril_indices(t, t, offset=-1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.net = _mlp(in_features, 2 * t + t * (t - 1) // 2, cfg)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        t = self.n_targets
        raw = self.net(features)
        mean, log_diag, lower = raw[:, :t], raw[:, t : 2 * t], raw[:, 2 * t :]
        log_var = log_diag.clamp(*self.log_var_range)
        strict_lower = raw.new_zeros(raw.shape[0], t, t)
        strict_lower[:, self.rows, self.cols] = lower
        scale_tril = strict_lower + torch.diag_embed(torch.exp(0.5 * log_var))
        var = (scale_tril**2).sum(-1)  # diag(L L^T)
        return {"mean": mean, "log_var": log_var, "scale_tril": scale_tril, "var": var}

    def loss(self, out: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        scale_tril = out["scale_tril"]
        diff = (target - out["mean"]).unsqueeze(-1)
        z = torch.linalg.solve_triangular(scale_tril, diff, upper=False).squeeze(-1)
        # log det(L L^T) / 2 = sum(log L_ii) = sum(log_var) / 2
        nll = 0.5 * (z**2).sum(-1) + 0.5 * out["log_var"].sum(-1) + 0.5 * self.n_targets * _LOG_2PI
        return nll.mean()
