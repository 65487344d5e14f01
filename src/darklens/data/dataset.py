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

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from darklens.data.catalog import (
    CHUNK_CACHE,
    check_finite,
    describe,
    open_h5,
    read_columns,
    read_images,
)
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.data.schema import IMAGE
from darklens.errors import DarklensError

__all__ = ["LensDataset"]


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
        check_finite(raw_t, self.targets, "target", info, self.indices)
        check_finite(raw_x, self.inputs, "input", info, self.indices)
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
            self._files = [open_h5(p, **CHUNK_CACHE) for p in self.paths]
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

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(k), C, H, W)``, in the stored pixel units.
        """
        return read_images(self.paths, self.indices[np.asarray(k, dtype=np.int64)])

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
