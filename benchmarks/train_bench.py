"""Training throughput, side by side in one run (ratios, plus absolute CPU images/s).

1. darklens ``train()`` vs a bare torch loop on the same timm model, batch size and images
   (target: darklens at most 5 % slower per training step);
2. the DataLoader's read rate (HDF5 -> normalised, augmented tensors) vs the training step rate
   (target: reading at least 10x faster than training consumes).

    python benchmarks/train_bench.py            # resnet18, 64x64, ~5 minutes on 2 cores
    python benchmarks/train_bench.py --backbone resnet10t --steps 20
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from darklens.data.catalog import split_indices
from darklens.data.dataset import LensDataset
from darklens.data.normalize import ImageNorm
from darklens.simulate import run
from darklens.train import loop
from darklens.train.config import load_train_config

PRESET = Path(__file__).parents[1] / "configs" / "sim" / "hst_halo_mass.yaml"


def bare_torch(backbone, images, targets, batch, steps):
    """The loop a notebook would write: timm model, AdamW, MSE, tensors already in memory."""
    import timm

    model = timm.create_model(backbone, in_chans=1, num_classes=1, pretrained=False)
    model = model.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x_all = torch.from_numpy(images)
    y_all = torch.from_numpy(targets).float()

    def step(i):
        idx = torch.randint(0, len(x_all), (batch,))
        x = x_all[idx].contiguous(memory_format=torch.channels_last)
        loss = torch.nn.functional.mse_loss(model(x), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(0)
    t = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * batch / (time.perf_counter() - t)


def ours(data, backbone, batch, steps, tmp):
    """darklens train() for two epochs of ``steps`` steps; images/s of the second epoch."""
    cfg = load_train_config({
        "data": {"files": [str(data)], "targets": ["log10_halo_mass"], "augment": True,
                 "split": [steps * batch / 2048 + 1e-9, 0.05, 0.0]},
        "model": {"backbone": backbone, "head": {"kind": "point", "loss": "mse"}},
        "optim": {"lr": 1e-3, "warmup_epochs": 0.0, "grad_clip": 0.0},
        "train": {"epochs": 2, "batch_size": batch, "out": str(tmp / "run"), "progress": False},
    })
    loop.train(cfg)
    with open(tmp / "run" / "metrics.csv") as fh:
        return float(list(csv.DictReader(fh))[-1]["images_per_s"])


def read_rate(data, batch, n_batches):
    """DataLoader alone: HDF5 read, normalisation, D4 augmentation, batching (2 workers)."""
    idx = split_indices(2048, (1.0, 0.0, 0.0))["train"]
    ds = LensDataset([data], ["log10_halo_mass"], indices=idx, augment=True,
                     image_norm=ImageNorm(mode="dataset", stretch="asinh"))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=2,
                                         persistent_workers=True)
    it = iter(loader)
    next(it)
    t, seen = time.perf_counter(), 0
    for _ in range(n_batches):
        try:
            seen += len(next(it)["image"])
        except StopIteration:
            it = iter(loader)
    return seen / (time.perf_counter() - t)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=24, help="training steps per measurement")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = run(PRESET, out=tmp / "halo.h5", n=2048, workers=2, progress=False)
        ds = LensDataset([data], ["log10_halo_mass"])
        images = ImageNorm(stretch="asinh").fit(ds.load_images(np.arange(512))).apply(
            ds.load_images(np.arange(512)))
        targets = np.asarray(ds.raw_targets[:512], np.float32)
        # bare torch before and after darklens: a shared machine's speed drifts over minutes
        before = bare_torch(args.backbone, images, targets, args.batch, args.steps)
        mine = ours(data, args.backbone, args.batch, args.steps, tmp)
        after = bare_torch(args.backbone, images, targets, args.batch, args.steps)
        bare = (before + after) / 2
        reads = read_rate(data, args.batch, 60)
    print(f"{args.backbone}, 1x64x64, batch {args.batch}, CPU ({torch.get_num_threads()} threads)")
    print(f"  bare torch loop      {bare:8.1f} img/s  (before {before:.1f}, after {after:.1f})")
    print(f"  darklens train()     {mine:8.1f} img/s  -> {mine / bare:.3f} of bare torch "
          f"({(1 - mine / bare) * 100:+.1f} % slower)")
    print(f"  DataLoader reading   {reads:8.1f} img/s  -> {reads / mine:.1f}x the training rate")


if __name__ == "__main__":
    main()
