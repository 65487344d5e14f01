"""Every image under the paths given to ``darklens infer``, one :class:`Source` each.

Files, folders (recursive) and darklens HDF5 datasets (one Source per sample, with its stored
variables) are walked in a reproducible order; a file or sample that cannot be used yields a
Source carrying the reason instead of raising, so one bad file never stops a batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from darklens.errors import DarklensError
from darklens.infer.readers import (
    DATASET_SUFFIXES,
    BadInput,
    check_image,
    read_image_header,
    short_reason,
    suffix_of,
)

__all__ = ["H5_BLOCK", "Source", "iter_inputs"]

#: Samples read from an HDF5 dataset at a time (one chunked read instead of one per sample)
H5_BLOCK = 64


@dataclass
class Source:
    """One image to predict, or the reason it cannot be.

    Attributes
    ----------
    name : str
        The file path, or ``file.h5#index`` for a dataset sample.
    image : numpy.ndarray or None
        float32 ``(H, W)`` or ``(C, H, W)``; None when ``error`` is set.
    header : Mapping or None
        The FITS header of the image HDU (known inputs by keyword), else None.
    values : dict of str to float
        Per-sample variables stored with the image (HDF5 datasets): true targets and inputs.
    error : str or None
        Why the image cannot be used.
    """

    name: str
    image: np.ndarray | None = None
    header: Mapping | None = None
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _expand(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # sorted, so row order (and any error listing) is reproducible across file systems
            files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            yield from files
        else:
            yield p


def _iter_dataset(path: Path, bands: int | None) -> Iterator[Source]:
    import h5py

    from darklens.data.catalog import describe, open_h5, read_columns
    from darklens.data.schema import IMAGE

    try:
        info = describe(path)
        columns = read_columns(path, info.variables)
    except DarklensError as err:
        # describe's message starts with the path; the errors table has its own path column
        yield Source(str(path), error=str(err).removeprefix(f"{path}: "))
        return
    except OSError as err:
        yield Source(str(path), error=f"unreadable HDF5 ({short_reason(err)})")
        return
    with open_h5(path) as f:
        image: h5py.Dataset = f[IMAGE]
        for start in range(0, info.n, H5_BLOCK):
            block = image[start : start + H5_BLOCK]
            for j, img in enumerate(block):
                k = start + j
                values = dict(zip(info.variables, columns[k].tolist(), strict=True))
                name = f"{path}#{k}"
                try:
                    yield Source(name, check_image(img, bands), values=values)
                except BadInput as err:
                    yield Source(name, values=values, error=err.reason)


def iter_inputs(paths: Iterable[str | os.PathLike], bands: int | None = None) -> Iterator[Source]:
    """Yield every image found under ``paths``, one :class:`Source` each.

    Parameters
    ----------
    paths : iterable of path
        Image files, folders (searched recursively, sorted; hidden files skipped) and darklens
        HDF5 datasets (``.h5``, ``.hdf5``, ``.nc``; one Source per sample with its stored
        per-sample variables).
    bands : int, optional
        The model's bands, for :func:`check_image`.

    Yields
    ------
    Source
        With ``image`` set, or with ``error`` giving the reason the file/sample is unusable.
    """
    for path in _expand(paths):
        if suffix_of(path) in DATASET_SUFFIXES:
            yield from _iter_dataset(path, bands)
            continue
        try:
            image, header = read_image_header(path)
            yield Source(str(path), check_image(image, bands), header=header)
        except BadInput as err:
            yield Source(str(path), error=err.reason)
