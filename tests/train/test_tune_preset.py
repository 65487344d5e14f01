"""The shipped search presets parse against their training config."""

from pathlib import Path

import pytest

from darklens.config import load_yaml
from darklens.train.search_space import parse_space

PRESETS = sorted((Path(__file__).parents[2] / "configs" / "tune").glob("*.yaml"))


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_search_presets_parse(path):
    data = load_yaml(path)
    space = parse_space(data["search"], {k: v for k, v in data.items()
                                          if k not in ("search", "tune")})
    assert space
