"""What a set of darklens dataset files holds: sizes, image shape, per-sample columns, splits.

Cheap metadata reads (no images) shared by the torch dataset, training and inference.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from darklens.data.merge import missing_shards
from darklens.data.schema import IMAGE, SAMPLE, X, Y
from darklens.errors import DarklensError

__all__ = ["DatasetInfo", "check_finite", "dataset_attrs", "describe", "read_columns",
           "read_images", "split_indices"]

SPLITS = ("train", "val", "test")
#: 1-D variables that are coordinates of the image, not per-sample quantities
_COORDS = (SAMPLE, Y, X, "band")
CHUNK_CACHE = {"rdcc_nbytes": 256 << 20, "rdcc_nslots": 10007}


def split_indices(
    n: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, np.ndarray]:
    """Split rows ``0..n-1`` into train/val/test by a seeded permutation.

    Parameters
    ----------
    n : int
        Number of rows.
    fractions : tuple of float
        Train, val and test fractions, each >= 0, summing to at most 1; the remainder is left
        unused. Split boundaries are ``round(cumsum(fractions) * n)``, so fractions summing to
        1 use every row.
    seed : int
        Seed of the permutation; the result depends only on ``(n, fractions, seed)``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"train"``, ``"val"``, ``"test"``: disjoint ``int64`` row indices, each sorted (reads
        in file order are faster; a DataLoader shuffles anyway).
    """
    f = tuple(float(v) for v in fractions)
    if len(f) != 3 or not all(np.isfinite(v) and v >= 0 for v in f) or sum(f) > 1 + 1e-9:
        raise DarklensError(
            f"split fractions {tuple(fractions)}: expected three fractions >= 0 "
            f"(train, val, test) summing to at most 1"
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise DarklensError(f"split: expected a number of rows n >= 0, got {n!r}")
    perm = np.random.default_rng(seed).permutation(int(n)).astype(np.int64)
    ends = np.minimum(np.rint(np.cumsum(f) * n).astype(np.int64), n)
    starts = np.concatenate([[0], ends[:-1]])
    return {name: np.sort(perm[a:b]) for name, a, b in zip(SPLITS, starts, ends, strict=True)}


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`describe` found in a list of files.

    Attributes
    ----------
    paths : tuple of Path
        The files, in concatenation order.
    n_per_file : tuple of int
        Samples in each file.
    n : int
        Total samples.
    image_shape : tuple of int
        ``(bands, H, W)`` in pixels; bands is 1 for ``image(sample, y, x)`` files.
    variables : tuple of str
        Numeric 1-D per-sample variables present in every file (order of the first file).
    """

    paths: tuple[Path, ...]
    n_per_file: tuple[int, ...]
    n: int
    image_shape: tuple[int, int, int]
    variables: tuple[str, ...]


def _as_paths(paths) -> tuple[Path, ...]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out = tuple(Path(p) for p in paths)
    if not out:
        raise DarklensError("dataset: no files given")
    return out


def open_h5(path: Path, **kwargs) -> h5py.File:
    """Open a dataset file read-only; a user-facing error if it is missing or unreadable."""
    if not path.is_file():
        raise DarklensError(f"{path}: dataset file not found")
    try:
        missing = missing_shards(path)
        f = h5py.File(path, "r", **kwargs)
    except OSError:
        raise DarklensError(f"{path}: not an HDF5 file (expected a darklens dataset)") from None
    if missing:
        f.close()
        # h5py would silently read zeros for images of a missing shard
        raise DarklensError(
            f"{path}: merged dataset references missing shard {missing[0]} "
            f"({len(missing)} missing); keep shards next to the merged file"
        )
    image = f.get(IMAGE)
    if not isinstance(image, h5py.Dataset) or image.ndim not in (3, 4):
        f.close()
        raise DarklensError(
            f"{path}: not a darklens dataset (expected image(sample, y, x) or "
            f"image(sample, band, y, x))"
        )
    return f


def _numeric_columns(f: h5py.File, n: int) -> list[str]:
    return [
        name
        for name, obj in f.items()
        if name not in (IMAGE, *_COORDS)
        and isinstance(obj, h5py.Dataset)
        and obj.shape == (n,)
        and obj.dtype.kind in "fiub"
    ]


def describe(paths) -> DatasetInfo:
    """Open one or more dataset files and check that they concatenate.

    Parameters
    ----------
    paths : path or sequence of paths
        Dataset files, concatenated in the order given.

    Returns
    -------
    DatasetInfo

    Raises
    ------
    DarklensError
        For a missing or non-dataset file, or a file whose image shape differs from the first
        file's.
    """
    paths = _as_paths(paths)
    sizes, shape, common = [], None, None
    for path in paths:
        with open_h5(path) as f:
            image = f[IMAGE]
            n = image.shape[0]
            this = (1, *image.shape[1:]) if image.ndim == 3 else tuple(image.shape[1:])
            if shape is None:
                shape = this
            elif this != shape:
                raise DarklensError(
                    f"{path}: image shape (bands, H, W) = {this} differs from {shape} "
                    f"in {paths[0]}; files of one dataset must share image shape"
                )
            names = _numeric_columns(f, n)
            common = names if common is None else [c for c in common if c in names]
            sizes.append(n)
    return DatasetInfo(paths, tuple(sizes), sum(sizes), shape, tuple(common))


def read_columns(paths, names: Sequence[str]) -> np.ndarray:
    """Read numeric 1-D variables of one or more files, concatenated.

    Parameters
    ----------
    paths : path or sequence of paths
        Dataset files, concatenated in the order given.
    names : sequence of str
        Variable names, e.g. ``["log10_halo_mass", "theta_E"]``.

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(N, len(names))``, in each variable's stored units.

    Raises
    ------
    DarklensError
        If a file lacks a variable, or the variable is not a numeric per-sample column.
    """
    names = list(names)
    parts = []
    for path in _as_paths(paths):
        with open_h5(path) as f:
            n = f[IMAGE].shape[0]
            block = np.empty((n, len(names)), np.float64)
            for j, name in enumerate(names):
                obj = f.get(name) if name != IMAGE else None
                if not isinstance(obj, h5py.Dataset):
                    available = ", ".join(_numeric_columns(f, n)) or "none"
                    raise DarklensError(f"{path}: no variable {name!r} (available: {available})")
                if obj.dtype.kind not in "fiub":
                    kind = "str" if h5py.check_string_dtype(obj.dtype) else str(obj.dtype)
                    raise DarklensError(
                        f"{path}: variable {name!r} is {kind}, expected a numeric column"
                    )
                if obj.shape != (n,):
                    raise DarklensError(
                        f"{path}: variable {name!r} has shape {obj.shape}, expected ({n},) "
                        f"(one value per sample)"
                    )
                block[:, j] = obj[()]
            parts.append(block)
    return np.concatenate(parts) if parts else np.empty((0, len(names)))


def read_images(paths, rows=None) -> np.ndarray:
    """Raw images of rows of the files' concatenation (all rows by default), no torch needed.

    Rows are read in increasing order per file (one pass over the chunks), then returned in
    the order asked.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(len(rows), C, H, W)``, in the stored pixel units.
    """
    info = describe(paths)
    rows = np.arange(info.n) if rows is None else np.asarray(rows, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(info.n_per_file)]).astype(np.int64)
    unique, inverse = np.unique(rows, return_inverse=True)
    files = np.searchsorted(offsets, unique, side="right") - 1
    read = np.empty((len(unique), *info.image_shape), np.float32)
    for i in np.unique(files):
        sel = files == i
        with open_h5(info.paths[i], **CHUNK_CACHE) as f:
            block = f[IMAGE][unique[sel] - offsets[i]]
        read[sel] = np.asarray(block, np.float32).reshape(-1, *info.image_shape)
    return read[inverse.reshape(-1)]


def check_finite(values: np.ndarray, names: list[str], what: str, info: DatasetInfo,
                 rows: np.ndarray | None = None) -> None:
    """Raise a one-line error naming the file and row of the first NaN/inf in ``values``.

    Parameters
    ----------
    values : numpy.ndarray
        ``(N, len(names))`` columns as from :func:`read_columns`.
    what : str
        What the columns are (``"target"``, ``"input"``), for the message.
    info : DatasetInfo
        The files the values were read from.
    rows : numpy.ndarray, optional
        Rows of the concatenation the values belong to (all rows by default).
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows = np.arange(len(values)) if rows is None else rows
    col = int(np.nonzero(bad.any(axis=0))[0][0])
    first = int(rows[np.nonzero(bad[:, col])[0][0]])
    offsets = np.cumsum(info.n_per_file)
    path = info.paths[int(np.searchsorted(offsets, first, side="right"))]
    raise DarklensError(
        f"{path}: {what} {names[col]!r} has {int(bad[:, col].sum())} NaN/inf value(s) among the "
        f"{len(values)} selected samples (first at row {first}); drop those rows via indices"
    )


def dataset_attrs(path) -> dict:
    """The global attributes of a dataset file (strings decoded, numbers as Python numbers)."""
    with open_h5(Path(path)) as f:
        attrs = dict(f.attrs)
    out = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray) and value.size == 1:  # h5netcdf stores numbers as 1-arrays
            value = value.reshape(()).item()
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out
