"""Inference throughput: `darklens infer` on a folder of FITS files (resnet18, 64x64, CPU), and
the share of wall time spent reading and preprocessing (target <= 10 %), side by side.

    python benchmarks/infer_bench.py            # 2,000 FITS files, ~2 minutes on 2 cores
    python benchmarks/infer_bench.py -n 500
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from darklens.artifact import ModelMeta, save_model
from darklens.data.dataset import LensDataset
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.infer.paths import predict_paths
from darklens.infer.predict import Predictor
from darklens.infer.sources import iter_inputs
from darklens.models.build import build_model
from darklens.models.config import ModelConfig
from darklens.simulate import run

PRESET = Path(__file__).parents[1] / "configs" / "sim" / "hst_halo_mass.yaml"


def make_model(folder: Path, backbone: str) -> Path:
    """An untrained export: throughput does not depend on the weights."""
    from darklens.config import from_dict

    cfg = from_dict(ModelConfig, {"backbone": backbone, "head": {"kind": "gaussian"}})
    model = build_model(cfg, 1, 64, 1, 0)
    meta = ModelMeta(model_spec=model.model_spec(), targets=["log10_halo_mass"],
                     image_shape=[1, 64, 64], image_norm=ImageNorm(stretch="asinh").to_dict(),
                     target_norm=TargetNorm(["log10_halo_mass"], [11.3], [0.35]).to_dict(),
                     head={"kind": "gaussian"})
    return save_model(folder, model, meta)


def write_fits(dataset: Path, folder: Path) -> Path:
    from astropy.io import fits

    ds = LensDataset([dataset], ["log10_halo_mass"])
    folder.mkdir()
    for k, image in enumerate(ds.load_images(np.arange(len(ds)))):
        fits.PrimaryHDU(image[0]).writeto(folder / f"lens_{k:05d}.fits")
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--backbone", default="resnet18")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = run(PRESET, out=tmp / "test.h5", n=args.n, workers=2, progress=False)
        folder = write_fits(data, tmp / "fits")
        predictor = Predictor([make_model(tmp / "model", args.backbone)])
        t = time.perf_counter()
        summary = predict_paths(predictor, [folder], tmp / "pred.csv", progress=False)
        total = time.perf_counter() - t
        # the same reading and preprocessing alone
        t = time.perf_counter()
        for source in iter_inputs([folder]):  # reads each file
            predictor.prepare(source.image)
        reading = time.perf_counter() - t
    print(f"{args.backbone}, {summary.n_ok} FITS files of 64x64, CPU")
    print(f"  darklens infer        {summary.n_ok / total:8.1f} img/s")
    print(f"  reading + preprocessing alone {reading:.2f} s = {reading / total:.1%} of the "
          "inference wall time")


if __name__ == "__main__":
    main()
