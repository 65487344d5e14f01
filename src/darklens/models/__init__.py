"""Models: timm backbones, feature fusion and regression heads.

``darklens.models.config`` imports no torch; the rest is imported on first use, so
``from darklens.models import ModelConfig`` stays cheap.
"""

from __future__ import annotations

from darklens.lazy import lazy_attributes
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


__getattr__ = lazy_attributes("darklens.models", _LAZY)
