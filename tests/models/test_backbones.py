"""Backbone registry, input resizing, pretrained weights (local file and offline download)."""

from __future__ import annotations

import urllib.error

import pytest
import timm
import torch
from safetensors.torch import save_file

from darklens.errors import DarklensError
from darklens.models.backbones import BACKBONES, create_backbone, resolve_backbone

# Cheap representatives of the families run by default; the rest are marked slow.
FAST = {"resnet18", "efficientnet_b0", "vit_tiny", "densenet121"}


def _params(names):
    return [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in names]


def test_registry_covers_the_seed_list():
    seed = {
        "resnet18", "resnet34", "resnet50", "resnext50", "densenet121", "densenet161",
        "densenet201", "vgg16", "vgg19", "inception_v3", "inception_v4", "inception_resnet_v2",
        "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "bit",
        "vit_tiny", "vit_small", "nfnet", "coatnet",
    }  # fmt: skip
    assert seed <= set(BACKBONES)
    for name, spec in BACKBONES.items():
        assert timm.is_model(spec.timm_name), name


@pytest.mark.parametrize("name", _params(sorted(BACKBONES)))
def test_forward_backward(name):
    backbone = create_backbone(name, in_chans=1, img_size=64)
    x = torch.randn(2, 1, 64, 64)
    feats = backbone(x)
    assert feats.shape == (2, backbone.num_features)
    feats.square().mean().backward()
    grads = [p.grad for p in backbone.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:1] + grads[-1:])
    assert torch.isfinite(feats).all()


def test_small_image_is_resized_inside_for_inception():
    backbone = create_backbone("inception_v3", in_chans=2, img_size=32)
    assert backbone.input_size == 75
    seen = []
    backbone.model.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    out = backbone(torch.randn(2, 2, 32, 32))
    assert seen == [torch.Size([2, 2, 75, 75])]
    assert out.shape == (2, 2048)


def test_coatnet_needs_a_multiple_of_32():
    spec = resolve_backbone("coatnet")
    assert spec.needs_img_size and spec.input_size(48) == 64 and spec.input_size(64) == 64


@pytest.mark.slow
def test_vgg_width_includes_pre_logits():
    # timm's VGG pools through a 4096-wide ConvMlp while its num_features says 512.
    backbone = create_backbone("vgg16", in_chans=1, img_size=32)
    assert backbone.model.num_features == 512
    assert backbone.num_features == 4096


def test_any_timm_name_works_and_fixed_size_models_get_img_size():
    backbone = create_backbone("deit_tiny_patch16_224", in_chans=1, img_size=48)
    assert backbone.timm_name == "deit_tiny_patch16_224"
    assert backbone(torch.randn(1, 1, 48, 48)).shape == (1, 192)
    # a timm name of a registered model inherits its needs
    assert resolve_backbone("inception_v3.tv_in1k").min_size == 75


def test_unknown_backbone_suggests_close_names():
    with pytest.raises(DarklensError) as err:
        create_backbone("resnet81", 1, 64)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("model.backbone: unknown backbone 'resnet81'")
    assert "resnet18" in msg


def test_drop_path_unsupported_is_a_config_error():
    with pytest.raises(DarklensError, match=r"^model\.drop_path: backbone densenet121"):
        create_backbone("densenet121", 1, 64, drop_path=0.1)
    assert create_backbone("resnet18", 1, 64, drop_path=0.1)(torch.randn(1, 1, 64, 64)).shape[1]


def _state(model):
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def test_pretrained_path_loads_safetensors(tmp_path):
    source = timm.create_model("resnet18", in_chans=1, num_classes=0)
    path = tmp_path / "resnet18.safetensors"
    save_file(_state(source), str(path))
    loaded = create_backbone("resnet18", 1, 64, pretrained_path=str(path))
    fresh = create_backbone("resnet18", 1, 64)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    assert not torch.equal(fresh.model.conv1.weight, source.conv1.weight)


def test_pretrained_path_pth_rgb_weights_are_adapted_to_bands(tmp_path):
    # An ImageNet-style checkpoint (3 bands, classifier, wrapped in "state_dict").
    source = timm.create_model("resnet18", in_chans=3)
    path = tmp_path / "rgb.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    loaded = create_backbone("resnet18", 1, 64, pretrained_path=str(path))
    # timm's adapt_input_conv sums the RGB filters for one band
    expect = source.conv1.weight.sum(dim=1, keepdim=True)
    torch.testing.assert_close(loaded.model.conv1.weight, expect)
    assert torch.equal(loaded.model.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_pretrained_path_stages_with_renamed_modules(tmp_path):
    # features_only wrappers rename modules (densenet: "features_denseblock1")
    source = timm.create_model("densenet121", in_chans=1, num_classes=0)
    path = tmp_path / "densenet.safetensors"
    save_file(_state(source), str(path))
    loaded = create_backbone(
        "densenet121", 1, 64, pretrained_path=str(path), features_only=True, out_indices=[-1]
    )
    got = loaded.model.state_dict()["features_denseblock1.denselayer1.conv1.weight"]
    assert torch.equal(got, source.features.denseblock1.denselayer1.conv1.weight)


def test_pretrained_path_of_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "vit.safetensors"
    save_file(
        _state(timm.create_model("vit_tiny_patch16_224", in_chans=1, num_classes=0)), str(path)
    )
    with pytest.raises(DarklensError, match=r"^model\.pretrained_path: .* lacks \d+ weights"):
        create_backbone("resnet18", 1, 64, pretrained_path=str(path))
    # some names shared, other shapes (efficientnet's bn1 is 32 wide, resnet18's 64)
    path = tmp_path / "effnet.safetensors"
    save_file(_state(timm.create_model("efficientnet_b0", in_chans=1, num_classes=0)), str(path))
    with pytest.raises(DarklensError, match=r"^model\.pretrained_path: .* does not fit .*size mi"):
        create_backbone("resnet18", 1, 64, pretrained_path=str(path))
    with pytest.raises(DarklensError, match=r"^model\.pretrained_path: weights file .* not found"):
        create_backbone("resnet18", 1, 64, pretrained_path=str(tmp_path / "none.safetensors"))
    (tmp_path / "junk.pth").write_text("not weights")
    with pytest.raises(DarklensError, match=r"^model\.pretrained_path: cannot read"):
        create_backbone("resnet18", 1, 64, pretrained_path=str(tmp_path / "junk.pth"))


def test_pretrained_download_offline_is_one_line(monkeypatch):
    import timm.models._builder as timm_builder
    from huggingface_hub.errors import LocalEntryNotFoundError

    # Every loader timm fetches pretrained weights with is replaced by one that raises what
    # huggingface_hub / torch.hub raise offline, so no hub or URL is ever contacted.
    asked: list[str] = []

    def offline_hf(*args, **kwargs):
        asked.append("hf")
        raise LocalEntryNotFoundError("offline mode is enabled")

    def offline_url(*args, **kwargs):
        asked.append("url")
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(timm_builder, "load_state_dict_from_hf", offline_hf)
    monkeypatch.setattr(timm_builder, "load_state_dict_from_url", offline_url)
    monkeypatch.setattr(timm_builder, "download_cached_file", offline_url)
    with pytest.raises(DarklensError) as err:
        create_backbone("resnet18", 1, 64, pretrained=True)
    assert asked == ["hf"]
    assert str(err.value) == (
        "backbone resnet18: pretrained weights could not be downloaded (offline?); download "
        "them once or set model.pretrained_path to a local file"
    )


@pytest.mark.parametrize(("name", "side"), [("resnet10t", 2), ("resnet10t_nopool", 4),
                                            ("resnet10t_s1", 8)])
def test_small_image_stems_keep_more_resolution(name, side):
    backbone = create_backbone(name, 1, 64)
    assert backbone.model.forward_features(torch.zeros(1, 1, 64, 64)).shape[-1] == side
    assert backbone(torch.zeros(2, 1, 64, 64)).shape == (2, backbone.num_features)
