"""DarklensModel: known scalar inputs, backbone parameters, spec round trip, config errors."""

from __future__ import annotations

import json

import pytest
import torch

from darklens.config import from_dict, to_dict
from darklens.errors import DarklensError
from darklens.models.build import build_model, build_model_from_spec
from darklens.models.config import ModelConfig


def _cfg(**model):
    return from_dict(ModelConfig, model, "model")


def test_known_inputs_change_the_output_and_widen_the_head():
    model = build_model(_cfg(head={"kind": "gaussian"}), 1, 32, n_targets=2, n_inputs=3).eval()
    assert model.head.net[0].in_features == 512 + 3
    image = torch.randn(2, 1, 32, 32)
    a = model(image, torch.zeros(2, 3))
    b = model(image, torch.ones(2, 3))
    assert a["mean"].shape == (2, 2) and a["var"].shape == (2, 2)
    assert not torch.allclose(a["mean"], b["mean"])
    with pytest.raises(ValueError, match="inputs of shape"):
        model(image)
    with pytest.raises(ValueError, match="inputs of shape"):
        model(image, torch.zeros(2, 4))


def test_backbone_parameters_are_the_backbone_only():
    model = build_model(_cfg(), 1, 32, n_targets=2)
    backbone = {id(p) for p in model.backbone_parameters()}
    head = {id(p) for p in model.head.parameters()}
    assert backbone and not backbone & head
    assert backbone | head == {id(p) for p in model.parameters()}


@pytest.mark.parametrize(
    "model_cfg",
    [
        {"backbone": "resnet18", "head": {"kind": "gaussian_full", "layers": 2, "hidden": 32}},
        {
            "backbone": "vit_tiny",
            "fusion": {"kind": "stages", "out_indices": [-2, -1], "op": "attention", "width": 32},
        },
    ],  # fmt: skip
)
def test_spec_rebuilds_an_identical_model(model_cfg):
    model = build_model(_cfg(**model_cfg), in_chans=2, img_size=40, n_targets=3, n_inputs=1)
    spec = json.loads(json.dumps(model.model_spec()))  # plain JSON data
    rebuilt = build_model_from_spec(spec)
    rebuilt.load_state_dict(model.state_dict())
    image, inputs = torch.randn(2, 2, 40, 40), torch.randn(2, 1)
    with torch.no_grad():
        a, b = model.eval()(image, inputs), rebuilt.eval()(image, inputs)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert spec["model"]["head"] == to_dict(model.cfg.head_config)


def test_spec_never_asks_for_pretrained_weights(tmp_path):
    from safetensors.torch import save_file

    source = build_model(_cfg(), 1, 32, 2).features.backbones[0].model
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    model = build_model(_cfg(pretrained_path=str(path)), 1, 32, 2)
    spec = model.model_spec()
    assert spec["model"]["pretrained"] is False and spec["model"]["pretrained_path"] is None
    assert spec["backbones"] == [{"name": "resnet18", "timm_name": "resnet18", "input_size": None}]


def test_spec_errors():
    with pytest.raises(DarklensError, match=r"^model spec: expected format"):
        build_model_from_spec({"model": {}})


def test_config_errors_are_one_line():
    cases = [
        (
            {"head": {"kind": "gaussian", "dropout": 1.5}},
            r"^model\.head\.dropout: expected a value <",
        ),
        ({"head": {"knd": "point"}}, r"^model\.head\.knd: unknown key"),
        ({"fusion": {"op": 3}}, r"^model\.fusion\.op: expected a string"),
        ({"pretrained": True, "pretrained_path": "w.pth"}, r"^model\.pretrained_path: set either"),
        ({"head": {"log_var_min": 1, "log_var_max": 0}}, r"^model\.head\.log_var_min: expected"),
    ]
    for model_cfg, pattern in cases:
        with pytest.raises(DarklensError, match=pattern) as err:
            _cfg(**model_cfg)
        assert "\n" not in str(err.value)


def test_defaults_build_a_gaussian_resnet18():
    cfg = ModelConfig()  # plain construction validates lazily
    model = build_model(cfg, 1, 32, 4)
    assert cfg.head_config.kind == "gaussian" and cfg.fusion_config is None
    assert model.model_spec()["backbones"][0]["timm_name"] == "resnet18"
    assert to_dict(cfg) == to_dict(from_dict(ModelConfig, to_dict(cfg), "model"))
