"""Training data: datasets with normalisations fitted on the training split, and loaders.

Batches are drawn by :class:`EpochSampler`, a permutation that depends only on (seed, epoch), so
a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from darklens.errors import DarklensError
from darklens.train.config import TrainConfig

__all__ = ["EpochSampler", "build_data", "encode_inputs", "make_loader"]


class EpochSampler(torch.utils.data.Sampler):
    """A permutation of the training samples that depends only on (seed, epoch)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


def _splits(cfg: TrainConfig):
    """Dataset descriptions and the train / val rows: a split of ``files``, or ``val_files``."""
    from darklens.data.catalog import describe, split_indices

    d = cfg.data
    info = describe(d.files)
    if d.val_files:
        val_info = describe(d.val_files)
        if val_info.image_shape != info.image_shape:
            raise DarklensError(f"data.val_files: image shape {val_info.image_shape} differs "
                                f"from {info.image_shape} of data.files")
        split = {"train": np.arange(info.n), "val": np.arange(val_info.n)}
    else:
        split = split_indices(info.n, tuple(d.split), d.split_seed)
    if len(split["train"]) < cfg.train.batch_size or len(split["val"]) == 0:
        raise DarklensError(
            f"data.split: {len(split['train'])} training and {len(split['val'])} validation "
            f"images for batch_size {cfg.train.batch_size}; use more data or a smaller batch"
        )
    return info, split


def build_data(cfg: TrainConfig):
    """Train and validation datasets with normalisations fitted on the training split.

    Returns
    -------
    info : DatasetInfo
        Of the training files.
    train, val : LensDataset
    norms : dict
        ``"image"`` (ImageNorm), ``"target"`` and ``"input"`` (TargetNorm or None).
    """
    from darklens.data.dataset import LensDataset
    from darklens.data.normalize import ImageNorm, TargetNorm

    d = cfg.data
    info, split = _splits(cfg)
    probe = LensDataset(d.files, d.targets, d.inputs, split["train"])
    target_norm = TargetNorm.fit(probe.raw_targets, d.targets)
    # known inputs (redshifts, exposure) are standardised too, with their own statistics
    input_norm = TargetNorm.fit(probe.raw_inputs, d.inputs) if d.inputs else None
    # image statistics from (up to) the first 512 training images
    first = probe.load_images(np.arange(min(512, len(probe))))
    image_norm = ImageNorm(mode=d.image_norm, stretch=d.stretch).fit(first)

    def make(files, rows, augment):
        return LensDataset(files, d.targets, d.inputs, rows, augment=augment,
                           image_norm=image_norm, target_norm=target_norm, seed=cfg.train.seed)

    norms = {"image": image_norm, "target": target_norm, "input": input_norm}
    val = make(d.val_files or d.files, split["val"], False)
    return info, make(d.files, split["train"], d.augment), val, norms


def encode_inputs(batch: dict, norms: dict) -> torch.Tensor:
    """The batch's known inputs, standardised as the model was trained."""
    x = batch["inputs"]
    return norms["input"].encode(x) if norms["input"] is not None else x


def make_loader(ds, cfg: TrainConfig, train: bool) -> torch.utils.data.DataLoader:
    """A DataLoader; training ones shuffle by :class:`EpochSampler` and drop the last batch."""
    sampler = EpochSampler(len(ds), cfg.train.seed) if train else None
    workers = cfg.data.num_workers
    if workers is None:
        workers = min(8, (os.cpu_count() or 2) // 2) if torch.cuda.is_available() else 0
    return torch.utils.data.DataLoader(
        ds, batch_size=cfg.train.batch_size, sampler=sampler, drop_last=train,
        num_workers=workers, pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,  # set_epoch reaches them (shared memory)
    )
