"""Feature extractors: one pooled backbone, or fused features of several backbones or stages.

Fusion ops (:data:`FUSION_OPS`) combine a list of pooled vectors ``(B, d_i)`` into one
``(B, out_features)``. Without fusion the extractor is :class:`SingleBackbone`; the fusion kinds
(:data:`EXTRACTORS`) are several backbones on the same image, or several stages of one backbone.
"""

from __future__ import annotations

import torch
from torch import nn

from darklens.errors import DarklensError
from darklens.models.backbones import Backbone, create_backbone
from darklens.registry import Registry

__all__ = ["EXTRACTORS", "FUSION_OPS", "SingleBackbone", "build_extractor", "build_fusion_op"]

#: ``model.fusion.op`` -> module ``(in_features, width, attn_heads, where)``
FUSION_OPS: Registry[type[nn.Module]] = Registry("fusion op")
#: ``model.fusion.kind`` -> module ``(model config, in_chans, img_size, where)``
EXTRACTORS: Registry[type[nn.Module]] = Registry("feature extractor")


def build_fusion_op(name: str, in_features: list[int], width: int, attn_heads: int, where: str):
    """Build registered fusion op ``name`` for inputs of widths ``in_features``."""
    return FUSION_OPS.get(name, f"{where}.op")(list(in_features), width, attn_heads, where)


def build_extractor(cfg, in_chans: int, img_size: int, where: str = "model") -> nn.Module:
    """The feature extractor of a validated ``ModelConfig``; it has ``out_features``."""
    fusion = cfg.fusion_config
    if fusion is None:
        return SingleBackbone(cfg, in_chans, img_size, where)
    return EXTRACTORS.get(fusion.kind, f"{where}.fusion.kind")(cfg, in_chans, img_size, where)


@FUSION_OPS.register("concat")
class ConcatFusion(nn.Module):
    """Concatenation; ``out_features`` is the sum of the input widths."""

    def __init__(self, in_features: list[int], width: int, attn_heads: int, where: str):
        super().__init__()
        self.out_features = sum(in_features)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(feats, dim=-1)


class _Projected(nn.Module):
    """Base of the ops that first project every input to the common ``width``."""

    def __init__(self, in_features: list[int], width: int):
        super().__init__()
        self.proj = nn.ModuleList(nn.Linear(d, width) for d in in_features)
        self.out_features = width

    def project(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Stacked projections ``(B, N, width)``."""
        return torch.stack([p(f) for p, f in zip(self.proj, feats, strict=True)], dim=1)


@FUSION_OPS.register("sum")
class SumFusion(_Projected):
    """Sum of the projections to ``width``."""

    def __init__(self, in_features: list[int], width: int, attn_heads: int, where: str):
        super().__init__(in_features, width)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.project(feats).sum(dim=1)


@FUSION_OPS.register("weights")
class WeightedFusion(_Projected):
    """Projections to ``width`` averaged with learned softmax weights (one per input)."""

    def __init__(self, in_features: list[int], width: int, attn_heads: int, where: str):
        super().__init__(in_features, width)
        self.logits = nn.Parameter(torch.zeros(len(in_features)))  # equal weights at start

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        weights = torch.softmax(self.logits, dim=0)
        return torch.einsum("bnd,n->bd", self.project(feats), weights)


@FUSION_OPS.register("attention")
class AttentionFusion(_Projected):
    """Attention pooling: a learned query attends over the projected inputs as tokens.

    Each input gets a learned embedding so the attention can tell the sources apart.
    """

    def __init__(self, in_features: list[int], width: int, attn_heads: int, where: str):
        super().__init__(in_features, width)
        if width % attn_heads:
            raise DarklensError(
                f"{where}.width: expected a multiple of attn_heads ({attn_heads}), got {width}"
            )
        self.source = nn.Parameter(torch.zeros(1, len(in_features), width))
        self.query = nn.Parameter(torch.zeros(1, 1, width))
        nn.init.trunc_normal_(self.source, std=0.02)
        nn.init.trunc_normal_(self.query, std=0.02)
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, attn_heads, batch_first=True)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        tokens = self.norm(self.project(feats) + self.source)
        query = self.query.expand(tokens.shape[0], -1, -1)
        pooled, _ = self.attn(query, tokens, tokens, need_weights=False)
        return pooled.squeeze(1)


def _global_pool(x: torch.Tensor) -> torch.Tensor:
    # Stage maps are (B, C, H, W); pool the spatial dimensions.
    return x.mean(dim=(-2, -1))


def _configured_backbone(cfg, in_chans: int, img_size: int, where: str, **kwargs) -> Backbone:
    """``cfg.backbone`` with the config's weights and drop-path settings."""
    return create_backbone(cfg.backbone, in_chans, img_size, cfg.pretrained, cfg.pretrained_path,
                           cfg.drop_path, where=where, **kwargs)


class SingleBackbone(nn.Module):
    """One pooled backbone."""

    def __init__(self, cfg, in_chans: int, img_size: int, where: str):
        super().__init__()
        self.backbones = nn.ModuleList([_configured_backbone(cfg, in_chans, img_size, where)])
        self.out_features = self.backbones[0].num_features

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.backbones[0](image)


@EXTRACTORS.register("backbones")
class BackboneFusion(nn.Module):
    """Several backbones on the same image, each pooled, fused by a fusion op."""

    def __init__(self, cfg, in_chans: int, img_size: int, where: str):
        super().__init__()
        fusion = cfg.fusion_config
        if len(fusion.backbones) < 2:
            raise DarklensError(
                f"{where}.fusion.backbones: kind backbones needs a list of at least 2 backbone "
                f"names, got {fusion.backbones!r}"
            )
        if cfg.pretrained_path:
            raise DarklensError(
                f"{where}.pretrained_path: a single weights file cannot initialise several "
                "backbones; use pretrained: true or fuse stages of one backbone"
            )
        self.backbones = nn.ModuleList(
            create_backbone(
                name, in_chans, img_size, cfg.pretrained, None, cfg.drop_path, where=where
            )
            for name in fusion.backbones
        )
        self.fuse = build_fusion_op(
            fusion.op,
            [b.num_features for b in self.backbones],
            fusion.width,
            fusion.attn_heads,
            f"{where}.fusion",
        )
        self.out_features = self.fuse.out_features

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fuse([b(image) for b in self.backbones])


@EXTRACTORS.register("stages")
class StageFusion(nn.Module):
    """Several stages of one backbone (timm ``features_only``), each pooled, then fused."""

    def __init__(self, cfg, in_chans: int, img_size: int, where: str):
        super().__init__()
        fusion = cfg.fusion_config
        if not fusion.out_indices:
            raise DarklensError(
                f"{where}.fusion.out_indices: kind stages needs a list of stage indices, "
                "e.g. [-3, -2, -1]"
            )
        backbone = _configured_backbone(cfg, in_chans, img_size, where, features_only=True,
                                        out_indices=fusion.out_indices)
        self.backbones = nn.ModuleList([backbone])
        self.fuse = build_fusion_op(
            fusion.op,
            backbone.feature_info.channels(),
            fusion.width,
            fusion.attn_heads,
            f"{where}.fusion",
        )
        self.out_features = self.fuse.out_features

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fuse([_global_pool(m) for m in self.backbones[0](image)])
