"""Small exported models and fake ensemble members for the inference tests."""

from __future__ import annotations

import pytest
import torch

from darklens.artifact import ModelMeta, save_model
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.models.build import build_model
from darklens.models.config import ModelConfig

TARGET = "log10_halo_mass"


def meta(
    targets=(TARGET,),
    inputs=(),
    shape=(1, 32, 32),
    mean=(0.0,),
    std=(1.0,),
    image_mode="none",
    head=None,
    **extra,
) -> ModelMeta:
    """A model export's metadata with identity normalisations unless told otherwise."""
    return ModelMeta(
        targets=list(targets),
        inputs=list(inputs),
        image_shape=list(shape),
        image_norm=ImageNorm(mode=image_mode).to_dict(),
        target_norm=TargetNorm(list(targets), list(mean), list(std)).to_dict(),
        input_norm=TargetNorm(list(inputs), [0.0] * len(inputs), [1.0] * len(inputs)).to_dict()
        if inputs
        else None,
        head=head or {"kind": "gaussian"},
        **extra,
    )


def export(directory, inputs=(), seed=0, **extra):
    """Save a random-weight resnet10t gaussian model for 1x32x32 images; return its dir."""
    torch.manual_seed(seed)
    model = build_model(
        ModelConfig(backbone="resnet10t", head={"kind": "gaussian"}), 1, 32, 1, len(inputs)
    )
    m = meta(inputs=inputs, mean=(11.2,), std=(0.2,), image_mode="per_image", **extra)
    m.model_spec = model.model_spec()
    return save_model(directory, model, m)


class Fake(torch.nn.Module):
    """A member with fixed outputs, or (``corner``) whose mean is the top-left pixel value."""

    def __init__(self, mean: float, var: float | None, corner: bool = False):
        super().__init__()
        self.mean, self.var, self.corner = mean, var, corner

    def forward(self, image, inputs=None):
        b = image.shape[0]
        mean = image[:, :1, 0, 0] if self.corner else torch.full((b, 1), self.mean)
        out = {"mean": mean}
        if self.var is not None:
            out["var"] = torch.full((b, 1), self.var)
        return out


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return export(tmp_path_factory.mktemp("model") / "best")
