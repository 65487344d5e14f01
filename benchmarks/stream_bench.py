"""Training images per second: simulated on the fly (``data.simulate``) vs read from HDF5.

    python benchmarks/stream_bench.py                  # hst_axion, 1 and 2 workers
    python benchmarks/stream_bench.py --workers 1 4 8 15 --presets hst_axion model1_vortex

For each preset it simulates a small HDF5 file, then measures, side by side in one run, how
many normalised training items per second a DataLoader delivers (a) reading that file with
``LensDataset`` and (b) rendering fresh images with ``SimulatedStream``, for each worker
count. Training consumes ~100-300 img/s on a 2-core CPU (resnet18 / resnet10t at 64 px) and
thousands on a GPU, so the ratio says how many cores a stream needs to keep a model fed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from darklens.config import dump_yaml
from darklens.data.dataset import LensDataset
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.data.stream import SimulatedStream
from darklens.simulate import load_sim_config, run

PRESETS = Path(__file__).parents[1] / "configs" / "sim"


def rate(dataset, workers: int, batch: int, n_batches: int, **kwargs) -> float:
    """Items/s of a DataLoader over ``dataset`` after one warm-up batch per worker."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers,
                                         persistent_workers=workers > 0, **kwargs)
    it = iter(loader)
    for _ in range(max(1, workers)):
        next(it)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    return n_batches * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["hst_axion"])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--batches", type=int, default=8, help="timed batches per measurement")
    args = p.parse_args()
    print(f"{'preset':<16} {'workers':>7} {'stream img/s':>12} {'HDF5 img/s':>11} {'ratio':>7}")
    for name in args.presets:
        cfg = load_sim_config(PRESETS / f"{name}.yaml")
        target = cfg.sampled_names()[-1]
        norm_i, norm_t = ImageNorm(stretch="asinh"), TargetNorm([target], [0.0], [1.0])
        with tempfile.TemporaryDirectory() as tmp:
            n_file = args.batch * (args.batches + max(args.workers)) * 2
            path = run(cfg, out=Path(tmp) / "f.h5", n=n_file, workers=2, progress=False)
            files = LensDataset([path], [target], image_norm=norm_i, target_norm=norm_t)
            for w in args.workers:
                per_epoch = args.batch * (args.batches + w) * 4
                stream = SimulatedStream(dump_yaml(cfg), [target], [], per_epoch, args.batch,
                                         norm_i, norm_t)
                s = rate(stream, w, args.batch, args.batches)
                f = rate(files, w, args.batch, args.batches, shuffle=True)
                print(f"{name:<16} {w:>7} {s:>12.0f} {f:>11.0f} {f / s:>6.0f}x")


if __name__ == "__main__":
    main()
