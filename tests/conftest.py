"""Shared fixtures: a fixed global seed for every test, and small fast configs."""

from __future__ import annotations

import random

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed():
    """Code under test must use its own seeded generators; this pins anything that does not."""
    random.seed(1234)
    np.random.seed(1234)  # noqa: NPY002 - pins legacy global-state users on purpose


def tiny(kind: str = "none", **extra) -> dict:
    """A small, quick config mapping (32x32 HST-like pixels) for tests."""
    cfg = {
        "n": 8,
        "seed": 7,
        "instrument": {"base": "hst-wfc3-f160w", "num_pix": 32},
        "supersampling": 2,
        "substructure": {"kind": kind},
        "params": {"z_lens": 0.5, "z_source": 1.0, "log10_halo_mass": {"uniform": [11.0, 11.4]}},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests run where a CUDA device is, and are skipped (with the reason) elsewhere."""
    gpu = [item for item in items if "gpu" in item.keywords]
    if gpu and not _has_cuda():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in gpu:
            item.add_marker(skip)
