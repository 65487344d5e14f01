"""Backbone registry and creation on top of timm.

Every backbone is one :func:`register_backbone` line: a friendly name, the timm model name, and
what the model needs from its input (a minimum size, a size multiple, ``img_size=`` at creation).
Any other timm model name works too; its needs are read from timm's pretrained config.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F
from torch import nn

from darklens.errors import DarklensError
from darklens.models.weights import check_weight_keys, timm_errors, weight_keys
from darklens.registry import Registry

__all__ = [
    "BACKBONES",
    "Backbone",
    "BackboneSpec",
    "create_backbone",
    "register_backbone",
    "resolve_backbone",
]


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone needs.

    Attributes
    ----------
    timm_name : str
        The timm model name.
    min_size : int
        Smallest input side the network accepts; smaller images are resized inside the model.
    multiple : int
        The input side must be a multiple of this (e.g. CoAtNet's window partitions).
    needs_img_size : bool
        Pass ``img_size=`` at creation (models with position embeddings or fixed windows).
    stem : str or None
        A :data:`STEMS` entry that changes the network's stem after creation (small images).
    """

    timm_name: str
    min_size: int = 1
    multiple: int = 1
    needs_img_size: bool = False
    stem: str | None = None

    def input_size(self, img_size: int) -> int:
        """The side the network is run at for images of side ``img_size``."""
        side = max(img_size, self.min_size)
        return math.ceil(side / self.multiple) * self.multiple


#: friendly name -> what its timm model needs
BACKBONES: Registry[BackboneSpec] = Registry("backbone")
#: stem change name -> ``adapt(model)``, applied in place after timm creates the model
STEMS: Registry = Registry("backbone stem")


def _first_strided_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1))


@STEMS.register("no_pool")
def _no_pool(model: nn.Module) -> None:
    """ResNet stem without its max-pool: 2x instead of 4x downsampling before the first block."""
    model.maxpool = nn.Identity()


@STEMS.register("stride1")
def _stride1(model: nn.Module) -> None:
    """ResNet stem at full resolution: stride-1 first convolution and no max-pool, so the
    first block sees every pixel (sub-pixel arc perturbations survive); ~16x the compute."""
    _first_strided_conv(model).stride = (1, 1)
    model.maxpool = nn.Identity()


def register_backbone(name: str, timm_name: str | None = None, **needs) -> BackboneSpec:
    """Register friendly ``name`` for timm model ``timm_name`` (default: ``name``)."""
    return BACKBONES.register(name, BackboneSpec(timm_name or name, **needs))


# Minimum sides measured with timm 1.0 (see MACHINE-NOTES.md): the Inception stems need 75 px,
# DenseNet/VGG 32 px; CoAtNet needs a multiple of 32 and ViT/CoAtNet need img_size at creation.
_INCEPTION = {"min_size": 75}
_SMALL32 = {"min_size": 32}
_VIT = {"needs_img_size": True, "min_size": 16}
_COATNET = {"needs_img_size": True, "min_size": 32, "multiple": 32}

register_backbone("resnet18")
register_backbone("resnet34")
register_backbone("resnet50")
# small-image variants: ImageNet stems shrink a 64-px lens image 4x before the first block
for _name in ("resnet10t", "resnet18", "resnet34"):
    register_backbone(f"{_name}_nopool", _name, stem="no_pool")
    register_backbone(f"{_name}_s1", _name, stem="stride1")
register_backbone("resnext50", "resnext50_32x4d")
register_backbone("densenet121", **_SMALL32)
register_backbone("densenet161", **_SMALL32)
register_backbone("densenet201", **_SMALL32)
register_backbone("vgg16", **_SMALL32)
register_backbone("vgg19", **_SMALL32)
register_backbone("inception_v3", **_INCEPTION)
register_backbone("inception_v4", **_INCEPTION)
register_backbone("inception_resnet_v2", **_INCEPTION)
register_backbone("efficientnet_b0")
register_backbone("efficientnet_b1")
register_backbone("efficientnet_b2")
register_backbone("efficientnet_b3")
register_backbone("bit", "resnetv2_50x1_bit")
register_backbone("vit_tiny", "vit_tiny_patch16_224", **_VIT)
register_backbone("vit_small", "vit_small_patch16_224", **_VIT)
register_backbone("nfnet", "dm_nfnet_f0")
register_backbone("eca_nfnet", "eca_nfnet_l0")
register_backbone("coatnet", "coatnet_0_rw_224", **_COATNET)
register_backbone("coatnet_nano", "coatnet_nano_rw_224", **_COATNET)


def resolve_backbone(name: str, where: str = "model.backbone") -> BackboneSpec:
    """The :class:`BackboneSpec` of a friendly name or a timm model name.

    Raises
    ------
    DarklensError
        For an unknown name, with the closest known names.
    """
    if name in BACKBONES:
        return BACKBONES[name]
    for spec in BACKBONES.values():
        if spec.timm_name == name.split(".")[0] and spec.stem is None:
            return BackboneSpec(name, spec.min_size, spec.multiple, spec.needs_img_size)
    if timm.is_model(name):
        cfg = timm.get_pretrained_cfg(name)
        return BackboneSpec(name, needs_img_size=bool(cfg and cfg.fixed_input_size))
    known = list(BACKBONES) + timm.list_models()
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = f"close matches: {', '.join(close)}" if close else "see timm.list_models()"
    raise DarklensError(f"{where}: unknown backbone {name!r}; {hint} (any timm model name works)")


class Backbone(nn.Module):
    """A timm network plus the input resize it needs.

    ``forward`` returns pooled features ``(B, num_features)``, or with ``features_only`` the
    list of stage maps described by ``feature_info``.
    """

    def __init__(
        self,
        name: str,
        timm_name: str,
        model: nn.Module,
        input_size: int | None,
        features_only: bool,
    ):
        super().__init__()
        self.name = name
        self.timm_name = timm_name
        self.model = model
        self.input_size = input_size
        self.features_only = features_only
        if features_only:
            self.feature_info = model.feature_info
            self.num_features = sum(model.feature_info.channels())
        else:
            # head_hidden_size covers pre-logits layers (VGG's 4096-wide ConvMlp).
            self.num_features = getattr(model, "head_hidden_size", None) or model.num_features

    def forward(self, x: torch.Tensor):
        if self.input_size is not None and tuple(x.shape[-2:]) != (self.input_size,) * 2:
            x = F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        return self.model(x)


def create_backbone(
    name: str,
    in_chans: int,
    img_size: int,
    pretrained: bool = False,
    pretrained_path: str | None = None,
    drop_path: float = 0.0,
    features_only: bool = False,
    out_indices: list[int] | None = None,
    where: str = "model",
) -> Backbone:
    """Create a backbone with ``in_chans`` input bands for square images of side ``img_size``.

    Parameters
    ----------
    name : str
        Friendly name (:data:`BACKBONES`) or timm model name.
    in_chans, img_size : int
        Input bands and image side. Images smaller than the backbone's minimum are resized
        (bilinear) inside the returned module.
    pretrained : bool
        Use timm's pretrained weights (hub or local cache); the first convolution is adapted to
        ``in_chans`` by timm.
    pretrained_path : str or None
        Local weights file (``.safetensors``, ``.pth``, ``.bin``); never touches the network.
    drop_path : float
        Stochastic-depth rate (only passed when > 0; not every family supports it).
    features_only, out_indices
        Return the stage maps ``out_indices`` instead of pooled features.
    where : str
        Dotted config path used in error messages.

    Returns
    -------
    Backbone
        Pooled features with ``num_features``, or stage maps with ``feature_info``.
    """
    spec = resolve_backbone(name, f"{where}.backbone")
    size = spec.input_size(img_size)
    kwargs: dict = {"in_chans": in_chans, "num_classes": 0}
    if spec.needs_img_size:
        kwargs["img_size"] = size
    if drop_path > 0:
        kwargs["drop_path_rate"] = drop_path
    if features_only:
        kwargs["features_only"] = True
        if out_indices:
            kwargs["out_indices"] = tuple(out_indices)
    if pretrained_path:
        keys = weight_keys(name, pretrained_path, f"{where}.pretrained_path")
        # timm loads the file as it loads downloaded weights
        kwargs["pretrained_cfg_overlay"] = {"file": str(pretrained_path)}
    with timm_errors(name, where, pretrained_path, out_indices if features_only else None):
        model = timm.create_model(
            spec.timm_name, pretrained=pretrained or bool(pretrained_path), **kwargs
        )
    if pretrained_path:
        check_weight_keys(name, model, keys, pretrained_path, f"{where}.pretrained_path")
    if spec.stem is not None:
        STEMS.get(spec.stem)(model)
    return Backbone(name, spec.timm_name, model, size if size != img_size else None, features_only)
