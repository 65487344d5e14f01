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


def build_data(cfg: TrainConfig, rank: int = 0, world: int = 1):
    """Train and validation datasets with normalisations fitted on the training split.

    Parameters
    ----------
    cfg : TrainConfig
    rank, world : int
        This process and the number of processes (a simulated stream deals images out).

    Returns
    -------
    info : DatasetInfo
        Of the training files (of the validation files for a simulated stream).
    train : LensDataset or SimulatedStream
    val : LensDataset
    norms : dict
        ``"image"`` (ImageNorm), ``"target"`` and ``"input"`` (TargetNorm or None).
    """
    from darklens.data.dataset import LensDataset
    from darklens.data.normalize import ImageNorm, TargetNorm

    d = cfg.data
    if d.simulate is not None:
        return _stream_data(cfg, rank, world)
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


def make_loader(ds, cfg: TrainConfig, train: bool, world: int = 1):
    """A DataLoader; training ones shuffle by :class:`EpochSampler` and drop the last batch.

    A simulated stream gives each of the ``world`` processes its own loader of
    ``batch_size / world`` images per step (:class:`StreamLoader`), already split, so accelerate
    does not prepare it.
    """
    from darklens.data.stream import SimulatedStream

    workers = cfg.data.num_workers
    if workers is None:
        # CPU: reading is ~50x faster than training and workers steal the model's cores; a
        # stream renders, so it gets workers everywhere
        many = torch.cuda.is_available() or isinstance(ds, SimulatedStream)
        workers = min(8, (os.cpu_count() or 2) // 2) if many else 0
    if isinstance(ds, SimulatedStream):
        loader = torch.utils.data.DataLoader(
            ds, batch_size=cfg.train.batch_size // world, num_workers=workers,
            pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0)
        return StreamLoader(loader, ds.steps)
    sampler = EpochSampler(len(ds), cfg.train.seed) if train else None
    return torch.utils.data.DataLoader(
        ds, batch_size=cfg.train.batch_size, sampler=sampler, drop_last=train,
        num_workers=workers, pin_memory=torch.cuda.is_available(),
        persistent_workers=workers > 0,  # set_epoch reaches them (shared memory)
    )


class StreamLoader:
    """The training loader of a simulated stream: ``steps`` batches an epoch, moved to the
    device (what accelerate's prepared loaders do)."""

    def __init__(self, loader, steps: int):
        self.loader, self.steps, self.device = loader, steps, torch.device("cpu")

    def __len__(self) -> int:
        return self.steps

    def set_epoch(self, epoch: int) -> None:
        self.loader.dataset.set_epoch(epoch)

    def __iter__(self):
        for batch in self.loader:
            yield {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                   for k, v in batch.items()}


def _stream_data(cfg: TrainConfig, rank: int, world: int):
    """A simulated training stream, and the fixed validation files."""
    from darklens.config import dump_yaml
    from darklens.data.catalog import describe
    from darklens.data.dataset import LensDataset
    from darklens.data.normalize import ImageNorm
    from darklens.data.stream import SimulatedStream, fit_stream_norms

    d = cfg.data
    config_yaml = dump_yaml(d.simulate)
    info = describe(d.val_files)
    _check_val_is_not_training(info, d.simulate)
    image_norm, target_norm, input_norm = fit_stream_norms(
        config_yaml, d.targets, d.inputs, ImageNorm(mode=d.image_norm, stretch=d.stretch))
    stream = SimulatedStream(config_yaml, d.targets, d.inputs, d.images_per_epoch,
                             cfg.train.batch_size, image_norm, target_norm, rank, world)
    if stream.image_shape != info.image_shape:
        raise DarklensError(f"data.val_files: image shape {info.image_shape} differs from the "
                            f"simulated {stream.image_shape}")
    if d.images_per_epoch < cfg.train.batch_size:
        raise DarklensError(f"data.images_per_epoch: {d.images_per_epoch} is less than one "
                            f"batch ({cfg.train.batch_size})")
    val = LensDataset(d.val_files, d.targets, d.inputs, image_norm=image_norm,
                      target_norm=target_norm, seed=cfg.train.seed)
    return info, stream, val, {"image": image_norm, "target": target_norm, "input": input_norm}


def _check_val_is_not_training(info, sim: dict) -> None:
    """Validation images simulated with the stream's seed would be training images too."""
    from darklens.config import parse_yaml
    from darklens.data.catalog import open_h5

    for path in info.paths:
        with open_h5(path) as f:
            stored = f.attrs.get("config")
        stored = parse_yaml(stored.decode() if isinstance(stored, bytes) else stored or "{}")
        if isinstance(stored, dict) and stored.get("seed") == sim.get("seed"):
            raise DarklensError(f"{path}: simulated with seed {sim.get('seed')}, the seed of "
                                "data.simulate, so its images are training images too; "
                                "simulate the validation set with another seed")
