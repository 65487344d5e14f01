"""Helpers shared by the analysis tests: PNG validity."""

from __future__ import annotations

from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    """The file starts with the PNG signature and decodes to a non-empty image."""
    from matplotlib.image import imread

    path = Path(path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
