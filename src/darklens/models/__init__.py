"""Models: timm backbones, feature fusion and regression heads.

``darklens.models.config`` imports no torch; the rest is imported on first use, so
``from darklens.models import ModelConfig`` stays cheap.
"""

from __future__ import annotations

import importlib

from darklens.models.config import FusionConfig, HeadConfig, ModelConfig

__all__ = [
    "BACKBONES",
    "DarklensModel",
    "FusionConfig",
    "HeadConfig",
    "ModelConfig",
    "build_model",
    "build_model_from_spec",
    "create_backbone",
]

_LAZY = {
    "BACKBONES": "darklens.models.backbones",
    "create_backbone": "darklens.models.backbones",
    "DarklensModel": "darklens.models.build",
    "build_model": "darklens.models.build",
    "build_model_from_spec": "darklens.models.build",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'darklens.models' has no attribute {name!r}")
