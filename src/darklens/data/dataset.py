"""Training data: splits, file description, column reads and a torch ``Dataset`` over HDF5 files.

One dataset is one or more darklens HDF5 files (assembled or virtual merges) read as their
concatenation, in the order given. Rows are addressed by their position in that concatenation
(0..N-1), which is what :func:`split_indices` returns and what ``item["index"]`` reports.

Reading follows DESIGN.md section 3 and MACHINE-NOTES ("h5py for training"): the small 1-D
columns are read once at construction; images are read per item through an h5py dataset handle
opened lazily in each process (so a ``DataLoader`` worker opens its own) with a 256 MiB chunk
cache, which keeps random access to gzip-compressed 16-image chunks fast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from darklens.data.merge import missing_shards
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.data.schema import IMAGE, SAMPLE, X, Y
from darklens.errors import DarklensError

__all__ = ["DatasetInfo", "LensDataset", "describe", "read_columns", "split_indices"]

SPLITS = ("train", "val", "test")
#: 1-D variables that are coordinates of the image, not per-sample quantities
_COORDS = (SAMPLE, Y, X, "band")
_CACHE = {"rdcc_nbytes": 256 << 20, "rdcc_nslots": 10007}


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


def _open(path: Path, **kwargs) -> h5py.File:
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
        with _open(path) as f:
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
        with _open(path) as f:
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


def _check_finite(values: np.ndarray, names: list[str], what: str, rows, offsets, paths):
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    col = int(np.nonzero(bad.any(axis=0))[0][0])
    first = int(rows[np.nonzero(bad[:, col])[0][0]])
    path = paths[int(np.searchsorted(offsets, first, side="right")) - 1]
    raise DarklensError(
        f"{path}: {what} {names[col]!r} has {int(bad[:, col].sum())} NaN/inf value(s) among the "
        f"{len(values)} selected samples (first at row {first}); drop those rows via indices"
    )


class LensDataset(Dataset):
    """Images, targets and scalar inputs of darklens HDF5 files, for a ``DataLoader``.

    Parameters
    ----------
    paths : path or sequence of paths
        Dataset files, concatenated in order.
    targets : list of str
        Regression targets (numeric 1-D variables), e.g. ``["log10_halo_mass"]``.
    inputs : list of str
        Extra scalar inputs fed to the model beside the image (e.g. ``["z_lens"]``), raw values.
    indices : numpy.ndarray, optional
        Rows of the concatenation this dataset serves (e.g. a split); all rows by default.
    augment : bool
        Apply a random element of D4 (k * 90 degree rotation, then an optional left-right flip)
        to each image. The draw is seeded by ``(seed, epoch, row)``, so it does not depend on
        worker count or order; scalar targets are invariant under D4.
    image_norm : ImageNorm, optional
        Pixel normalisation; raw pixels if None.
    target_norm : TargetNorm, optional
        Target standardisation (its names must equal ``targets``); raw values if None.
    seed : int
        Augmentation seed.

    Notes
    -----
    Items are dicts: ``image`` float32 ``(C, H, W)``, ``inputs`` float32 ``(n_inputs,)``,
    ``target`` float32 ``(n_targets,)`` and ``index`` (int, the row in the concatenation).
    The epoch lives in a shared-memory tensor, so :meth:`set_epoch` reaches persistent
    DataLoader workers too.
    """

    def __init__(
        self,
        paths,
        targets: list[str],
        inputs: Sequence[str] = (),
        indices: np.ndarray | None = None,
        augment: bool = False,
        image_norm: ImageNorm | None = None,
        target_norm: TargetNorm | None = None,
        seed: int = 0,
    ) -> None:
        info = describe(paths)
        self.paths = info.paths
        self.info = info
        self.targets, self.inputs = list(targets), list(inputs)
        self.offsets = np.concatenate([[0], np.cumsum(info.n_per_file)]).astype(np.int64)
        if indices is None:
            indices = np.arange(info.n, dtype=np.int64)
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise DarklensError(
                f"dataset indices: expected 1-D integer rows, got "
                f"{indices.dtype} array of shape {indices.shape}"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= info.n):
            raise DarklensError(
                f"dataset indices: rows must lie in 0..{info.n - 1}, got "
                f"{indices.min()}..{indices.max()}"
            )
        self.indices = indices.astype(np.int64)
        if target_norm is not None and target_norm.names != self.targets:
            raise DarklensError(
                f"target norm names {target_norm.names} do not match the targets {self.targets}"
            )
        raw_t = read_columns(self.paths, self.targets)[self.indices]
        raw_x = read_columns(self.paths, self.inputs)[self.indices]
        _check_finite(raw_t, self.targets, "target", self.indices, self.offsets, self.paths)
        _check_finite(raw_x, self.inputs, "input", self.indices, self.offsets, self.paths)
        #: targets of the served rows in their stored units, float64 (N, T): for fitting norms
        self.raw_targets = raw_t
        #: known inputs of the served rows in their stored units, float64 (N, I)
        self.raw_inputs = raw_x
        enc = target_norm.encode(raw_t) if target_norm is not None else raw_t
        self._targets = np.ascontiguousarray(enc, dtype=np.float32)
        self._inputs = np.ascontiguousarray(raw_x, dtype=np.float32)
        self.augment, self.seed = bool(augment), int(seed)
        self.image_norm, self.target_norm = image_norm, target_norm
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._files: list[h5py.File] | None = None
        self._images: list[h5py.Dataset] = []
        self._pid = -1

    # -- process-local file handles ------------------------------------------------------------
    def _handles(self) -> list[h5py.Dataset]:
        # A forked worker inherits the parent's handles; HDF5 state must not be shared across
        # processes, so each process opens its own files.
        if self._files is None or self._pid != os.getpid():
            self._files = [_open(p, **_CACHE) for p in self.paths]
            self._images = [f[IMAGE] for f in self._files]
            self._pid = os.getpid()
        return self._images

    def close(self) -> None:
        """Close this process's file handles (they reopen on the next read)."""
        if self._files is not None and self._pid == os.getpid():
            for f in self._files:
                f.close()
        self._files, self._images, self._pid = None, [], -1

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_files=None, _images=[], _pid=-1)  # h5py objects do not pickle
        return state

    # -- epoch and augmentation ----------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that seeds the augmentation draws (call before each epoch)."""
        self._epoch.fill_(int(epoch))

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def transform(self, row: int, epoch: int | None = None) -> tuple[int, bool]:
        """Return the D4 element ``(quarter_turns, flip)`` drawn for a row at an epoch."""
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, row])
        k, flip = rng.integers(0, 4), rng.integers(0, 2)
        return int(k), bool(flip)

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.indices)

    def _locate(self, rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, rows, side="right") - 1

    def _read(self, row: int) -> np.ndarray:
        images = self._handles()
        i = int(self._locate(row))
        image = images[i][row - self.offsets[i]]
        return np.asarray(image, dtype=np.float32).reshape(self.info.image_shape)

    def load_images(self, k: np.ndarray) -> np.ndarray:
        """Read raw images (no normalisation, no augmentation) of dataset positions ``k``.

        Rows are read in increasing order per file (one pass over the chunks), then returned in
        the order of ``k``.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(k), C, H, W)``, in the stored pixel units.
        """
        rows = self.indices[np.asarray(k, dtype=np.int64)]
        out = np.empty((len(rows), *self.info.image_shape), np.float32)
        unique, inverse = np.unique(rows, return_inverse=True)
        images, files = self._handles(), self._locate(unique)
        read = np.empty((len(unique), *self.info.image_shape), np.float32)
        for i in np.unique(files):
            sel = files == i
            block = images[i][unique[sel] - self.offsets[i]]
            read[sel] = np.asarray(block, np.float32).reshape(-1, *self.info.image_shape)
        out[:] = read[inverse.reshape(-1)]
        return out

    def __getitem__(self, k: int) -> dict:
        row = int(self.indices[k])
        image = self._read(row)
        if self.image_norm is not None:
            image = self.image_norm.apply(image)
        if self.augment:
            quarter, flip = self.transform(row)
            image = np.rot90(image, quarter, axes=(-2, -1))
            if flip:
                image = image[..., ::-1]
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
            "inputs": torch.from_numpy(self._inputs[k].copy()),
            "target": torch.from_numpy(self._targets[k].copy()),
            "index": row,
        }
