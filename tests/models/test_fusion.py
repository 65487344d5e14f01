"""Fusion ops and the two fusion models give the documented feature widths."""

from __future__ import annotations

import pytest
import torch

from darklens.config import from_dict
from darklens.errors import DarklensError
from darklens.models.build import build_model
from darklens.models.config import ModelConfig
from darklens.models.fusion import FUSION_OPS, build_fusion_op

WIDTHS = [7, 12, 5]


@pytest.mark.parametrize("op", sorted(FUSION_OPS))
def test_ops_widths_and_gradients(op):
    fuse = build_fusion_op(op, WIDTHS, width=16, attn_heads=4, where="model.fusion")
    feats = [torch.randn(3, d, requires_grad=True) for d in WIDTHS]
    out = fuse(feats)
    expect = sum(WIDTHS) if op == "concat" else 16
    assert fuse.out_features == expect
    assert out.shape == (3, expect)
    out.square().sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)


def test_weights_start_as_mean_of_projections():
    fuse = build_fusion_op("weights", WIDTHS, width=4, attn_heads=1, where="f")
    summed = build_fusion_op("sum", WIDTHS, width=4, attn_heads=1, where="f")
    summed.load_state_dict(fuse.state_dict(), strict=False)
    feats = [torch.randn(2, d) for d in WIDTHS]
    torch.testing.assert_close(fuse(feats), summed(feats) / len(WIDTHS))


def test_fusion_errors():
    with pytest.raises(DarklensError, match=r"^model\.fusion\.op: expected one of concat"):
        build_fusion_op("max", WIDTHS, 8, 1, "model.fusion")
    with pytest.raises(DarklensError, match=r"^model\.fusion\.width: expected a multiple of"):
        build_fusion_op("attention", WIDTHS, 10, 4, "model.fusion")


def _model(fusion, backbone="resnet18"):
    cfg = from_dict(
        ModelConfig, {"backbone": backbone, "fusion": fusion, "head": {"kind": "point"}}, "model"
    )
    return build_model(cfg, in_chans=1, img_size=32, n_targets=2)


@pytest.mark.parametrize(("op", "width"), [("concat", 512 + 1280), ("attention", 32)])
def test_backbone_fusion(op, width):
    model = _model({"kind": "backbones", "backbones": ["resnet18", "efficientnet_b0"],
                    "op": op, "width": 32})  # fmt: skip
    assert model.features.out_features == width
    assert model.head.net[0].in_features == width
    out = model(torch.randn(2, 1, 32, 32))
    out["mean"].sum().backward()
    assert len(model.features.backbones) == 2


@pytest.mark.parametrize(
    ("op", "width"), [("concat", 128 + 256 + 512), ("sum", 24), ("weights", 24)]
)
def test_stage_fusion(op, width):
    model = _model({"kind": "stages", "out_indices": [2, 3, 4], "op": op, "width": 24})
    assert model.features.out_features == width
    assert model(torch.randn(2, 1, 32, 32))["mean"].shape == (2, 2)


def test_fusion_config_errors():
    with pytest.raises(DarklensError, match=r"^model\.fusion\.backbones: kind backbones needs"):
        _model({"kind": "backbones", "backbones": ["resnet18"]})
    with pytest.raises(DarklensError, match=r"^model\.fusion\.out_indices: kind stages needs"):
        _model({"kind": "stages"})
    with pytest.raises(DarklensError, match=r"^model\.fusion\.kind: expected one of backbones"):
        _model({"kind": "layers"})
    with pytest.raises(DarklensError, match=r"^model\.fusion\.out_indices: invalid stages"):
        _model({"kind": "stages", "out_indices": [9]})
    with pytest.raises(DarklensError, match=r"^model\.fusion\.width: expected a value >= 1"):
        _model({"kind": "stages", "out_indices": [1], "width": 0})
