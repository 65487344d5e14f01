"""Build a :class:`DarklensModel` from a :class:`ModelConfig`, or rebuild it from its spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from darklens.config import from_dict, to_dict
from darklens.errors import DarklensError
from darklens.models.config import ModelConfig
from darklens.models.fusion import build_extractor
from darklens.models.heads import build_head

__all__ = ["SPEC_FORMAT", "DarklensModel", "build_model", "build_model_from_spec"]

SPEC_FORMAT = "darklens-model/1"


class DarklensModel(nn.Module):
    """Image (+ known scalar inputs) -> head output dict.

    Attributes
    ----------
    features : nn.Module
        Backbone(s) and fusion; ``features.out_features`` wide.
    head : nn.Module
        The registered head; see :mod:`darklens.models.heads`.
    n_inputs : int
        Number of known scalar inputs concatenated to the features before the head.
    """

    def __init__(
        self, cfg: ModelConfig, in_chans: int, img_size: int, n_targets: int, n_inputs: int = 0
    ):
        super().__init__()
        where = cfg.where
        self.cfg = cfg
        self.in_chans, self.img_size = in_chans, img_size
        self.n_targets, self.n_inputs = n_targets, n_inputs
        self.features = build_extractor(cfg, in_chans, img_size, where)
        self.head = build_head(
            self.features.out_features + n_inputs, n_targets, cfg.head_config, f"{where}.head"
        )

    def forward(self, image: torch.Tensor, inputs: torch.Tensor | None = None) -> dict:
        """Head output (``mean``, and ``var`` etc. for probabilistic heads).

        Parameters
        ----------
        image : Tensor
            ``(B, C, H, W)``.
        inputs : Tensor or None
            ``(B, n_inputs)`` known scalar inputs; required when ``n_inputs > 0``.
        """
        feats = self.features(image)
        if self.n_inputs:
            if inputs is None or inputs.shape != (feats.shape[0], self.n_inputs):
                got = None if inputs is None else tuple(inputs.shape)
                raise ValueError(
                    f"model expects inputs of shape ({feats.shape[0]}, {self.n_inputs}), got {got}"
                )
            feats = torch.cat([feats, inputs.to(feats.dtype)], dim=-1)
        elif inputs is not None and inputs.numel():
            raise ValueError("model was built with n_inputs=0 but got inputs")
        return self.head(feats)

    def loss(self, out: dict, target: torch.Tensor) -> torch.Tensor:
        """The head's loss (scalar, mean over the batch)."""
        return self.head.loss(out, target)

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the backbone(s) only (frozen for ``freeze_backbone_epochs``)."""
        return self.features.backbones.parameters()

    def model_spec(self) -> dict[str, Any]:
        """Plain data that rebuilds this architecture with :func:`build_model_from_spec`.

        Pretrained-weight options are dropped: the weights come from the saved state dict.
        """
        model = to_dict(self.cfg)
        # Resolved sub-configs (defaults filled in), so later default changes cannot alter it.
        fusion = self.cfg.fusion_config
        model.update(
            pretrained=False,
            pretrained_path=None,
            init_from=None,
            head=to_dict(self.cfg.head_config),
            fusion=None if fusion is None else to_dict(fusion),
        )
        return {
            "format": SPEC_FORMAT,
            "model": model,
            "in_chans": self.in_chans,
            "img_size": self.img_size,
            "n_targets": self.n_targets,
            "n_inputs": self.n_inputs,
            "backbones": [
                {"name": b.name, "timm_name": b.timm_name, "input_size": b.input_size}
                for b in self.features.backbones
            ],
            "features": self.features.out_features,
            "head": self.cfg.head_config.kind,
        }


def build_model(
    cfg: ModelConfig, in_chans: int, img_size: int, n_targets: int, n_inputs: int = 0
) -> DarklensModel:
    """Build the model described by ``cfg``.

    Parameters
    ----------
    cfg : ModelConfig
        The ``model:`` config section (registry names are checked here).
    in_chans, img_size : int
        Image bands and side.
    n_targets : int
        Number of regressed parameters.
    n_inputs : int
        Number of known scalar inputs given to ``forward``.
    """
    return DarklensModel(cfg, in_chans, img_size, n_targets, n_inputs)


def build_model_from_spec(spec: dict[str, Any]) -> DarklensModel:
    """Rebuild a model (random weights) from :meth:`DarklensModel.model_spec` data."""
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT:
        got = spec.get("format") if isinstance(spec, dict) else type(spec).__name__
        raise DarklensError(f"model spec: expected format {SPEC_FORMAT!r}, got {got!r}")
    cfg = from_dict(ModelConfig, spec["model"], "model")
    try:
        sizes = [int(spec[k]) for k in ("in_chans", "img_size", "n_targets", "n_inputs")]
    except (KeyError, TypeError, ValueError) as err:
        raise DarklensError(f"model spec: missing or invalid {err}") from None
    return build_model(cfg, *sizes)
