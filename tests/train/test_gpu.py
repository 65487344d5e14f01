"""Training on a CUDA device in bf16 (skipped automatically without one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darklens.artifact import load_model
from darklens.simulate import run
from darklens.train import loop
from tests.conftest import tiny
from tests.train.test_train import _cfg, _rows

pytestmark = pytest.mark.gpu


def test_bf16_training_on_the_gpu_learns_and_exports_a_cpu_model(tmp_path):
    data = run(tiny("none", n=320, params={
        "z_lens": 0.5, "z_source": 2.0, "log10_halo_mass": {"uniform": [10.8, 11.6]}}),
        out=tmp_path / "halo.h5", workers=2, progress=False)
    cfg = _cfg(data, tmp_path / "run", data={"num_workers": 2},
               train={"epochs": 6, "mixed_precision": "bf16", "channels_last": True})
    loop.train(cfg)
    rows = _rows(tmp_path / "run")
    assert np.isfinite([float(r["train_loss"]) for r in rows]).all()
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    model, meta = load_model(tmp_path / "run", device="cpu")
    x = torch.randn(4, *meta.image_shape)
    on_gpu = model.to("cuda")(x.to("cuda"))["mean"].float().cpu()
    on_cpu = model.to("cpu")(x)["mean"]
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-3, atol=1e-3)
