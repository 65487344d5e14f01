"""Training images simulated on the fly: a run never sees the same image twice.

``data.simulate: <sim config>`` trains on a stream instead of files. Epoch ``e`` is images
``e * N .. (e + 1) * N - 1`` of the config's dataset (``N = data.images_per_epoch`` rounded
down to whole batches), each a pure function of (config, seed, index) exactly as ``darklens
simulate`` would write them. Global batch ``j`` of an epoch is images ``e * N + j * B ..``
(``B = train.batch_size``); process ``r`` of ``R`` renders its ``B / R`` slice of it (as
accelerate splits batches) and DataLoader worker ``w`` of ``W`` the batches ``j = w, w + W, ...``
(the order a DataLoader takes them in). So every batch holds the same images whatever the
number of processes and workers, nothing is rendered twice, and a resumed run continues with
the images an uninterrupted one would have drawn. Validation still reads a fixed file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from darklens.config import parse_yaml
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.errors import DarklensError

__all__ = ["SimulatedStream", "fit_stream_norms"]


class SimulatedStream(IterableDataset):
    """Fresh simulated images, targets and known inputs, for a ``DataLoader``.

    Parameters
    ----------
    config_yaml : str
        The resolved simulation config (YAML text, as a dataset stores it).
    targets, inputs : list of str
        Regression targets and known scalar inputs (per-image simulation parameters).
    images_per_epoch : int
        Images in one epoch (over all processes), rounded down to whole batches.
    batch_size : int
        Global batch (over all processes).
    image_norm, target_norm : ImageNorm, TargetNorm
        As for :class:`~darklens.data.dataset.LensDataset`.
    rank, world : int
        This process and the number of training processes.
    """

    def __init__(self, config_yaml: str, targets, inputs, images_per_epoch: int,
                 batch_size: int, image_norm: ImageNorm, target_norm: TargetNorm,
                 rank: int = 0, world: int = 1):
        from darklens.simulate.config import load_sim_config

        self.config_yaml = config_yaml
        cfg = load_sim_config(parse_yaml(config_yaml))
        stored = cfg.stored_names()
        missing = [n for n in (*targets, *inputs) if n not in stored]
        if missing:
            raise DarklensError(f"data.simulate: {missing[0]!r} is not a parameter of this "
                                f"simulation; expected one of {', '.join(stored)}")
        self.targets, self.inputs = list(targets), list(inputs)
        if batch_size % world:
            raise DarklensError(f"train.batch_size: {batch_size} must divide evenly over "
                                f"{world} processes")
        self.batch_size, self.rank, self.world = int(batch_size), rank, world
        #: global batches per epoch
        self.steps = int(images_per_epoch) // self.batch_size
        self.image_norm, self.target_norm = image_norm, target_norm
        self.image_shape = (len(cfg.band_list), cfg.inst.num_pix, cfg.inst.num_pix)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._sim = None  # (cfg, renderer), built in the process that renders

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose images the next iteration yields (reaches persistent workers)."""
        self._epoch.fill_(int(epoch))

    def indices(self, epoch: int, worker: int = 0, workers: int = 1) -> np.ndarray:
        """Global image indices this process and worker render in ``epoch``, in order."""
        b, part = self.batch_size, self.batch_size // self.world
        starts = epoch * self.steps * b + np.arange(worker, self.steps, workers) * b
        mine = (starts + self.rank * part)[:, None] + np.arange(part)[None, :]
        return mine.ravel()

    def _simulator(self):
        if self._sim is None:
            from darklens.simulate.config import load_sim_config
            from darklens.simulate.render import Renderer
            from darklens.simulate.runner import keep_freed_memory

            if get_worker_info() is not None:  # a DataLoader worker: our own process
                keep_freed_memory()
            cfg = load_sim_config(parse_yaml(self.config_yaml))
            self._sim = (cfg, Renderer(cfg))
        return self._sim

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_sim": None}  # renderers are rebuilt in each worker

    def __iter__(self):
        from darklens.simulate.samples import render_samples

        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        cfg, renderer = self._simulator()
        for index in self.indices(int(self._epoch), worker, workers):
            images, params = render_samples(cfg, renderer, [index])
            image = self.image_norm.apply(_with_bands(images))[0]
            target = self.target_norm.encode(np.array([params[t][0] for t in self.targets]))
            yield {
                "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
                "inputs": torch.tensor([params[n][0] for n in self.inputs], dtype=torch.float32),
                "target": torch.from_numpy(np.asarray(target, dtype=np.float32)),
                "index": int(index),
            }


def _with_bands(images: np.ndarray) -> np.ndarray:
    """(n, bands, H, W): single-band renders come without the band axis."""
    return images if images.ndim == 4 else images[:, None]


def fit_stream_norms(config_yaml: str, targets, inputs, image_norm: ImageNorm,
                     n_values: int = 4096, n_images: int = 256):
    """Normalisations of a stream, from its first images (as files use their first ones).

    Targets and inputs come from the scenes of the first ``n_values`` images (no rendering
    needed), pixel statistics from the first ``n_images`` rendered images.

    Returns
    -------
    image_norm : ImageNorm
    target_norm : TargetNorm
    input_norm : TargetNorm or None
    """
    from darklens.simulate.config import load_sim_config
    from darklens.simulate.render import Renderer
    from darklens.simulate.samples import render_samples
    from darklens.simulate.scene import build_scene, sample_values, streams

    cfg = load_sim_config(parse_yaml(config_yaml))
    rows = []
    for i in range(n_values):
        rng_params, rng_sub, _ = streams(cfg.seed, i)
        values = build_scene(cfg, sample_values(cfg, rng_params), rng_sub).values
        rows.append([values[n] for n in (*targets, *inputs)])
    rows = np.asarray(rows, dtype=np.float64).reshape(n_values, len(targets) + len(inputs))
    target_norm = TargetNorm.fit(rows[:, : len(targets)], list(targets))
    input_norm = TargetNorm.fit(rows[:, len(targets):], list(inputs)) if inputs else None
    images, _ = render_samples(cfg, Renderer(cfg), range(n_images))
    return image_norm.fit(_with_bands(images)), target_norm, input_norm
