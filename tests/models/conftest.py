"""Model tests run on the CPU with few threads and never touch the network."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)
