"""How often ``darklens infer`` flags images as out of distribution, per kind of image.

For a trained model and the simulation config of its training data: fresh images of the
training distribution (the false-alarm rate, stated 1 % per check), instrument changes (0.6"
seeing, a tenth of the exposure, Euclid VIS), pure noise at the training background, unlensed
Sersic galaxies with the training images' flux, and integer ramps. Everything goes through
``predict_paths`` as a user's files would. With ``--calibrate`` the model's checks are first
fitted (``darklens calibrate`` on a fresh held-out set), for exports older than the checks.

    python benchmarks/ood_rates.py RUN configs/sim/hst_axion.yaml --out /tmp/ood [--calibrate]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def shifts(config) -> dict:
    """name -> simulate ``--set`` overrides of the config's instrument."""
    import yaml

    inst = yaml.safe_load(Path(config).read_text())["instrument"]
    base = inst if isinstance(inst, str) else inst.get("base", "hst-wfc3-f160w")
    from darklens.simulate.instruments import resolve_instrument

    own = resolve_instrument(base)
    exposure = own.exposure_time  # a prior in some presets: its lower end
    exposure = float(np.ravel(next(iter(exposure.values())))[0]) if isinstance(
        exposure, dict) else float(exposure)
    return {
        "seeing 0.6\"": [f"instrument={{base: {base}, psf_fwhm: 0.6}}"],
        "exposure / 10": [f"instrument={{base: {base}, exposure_time: {exposure / 10}}}"],
        "Euclid VIS on these pixels": [f"instrument={{base: euclid-vis, num_pix: {own.num_pix}, "
                                       f"pixel_scale: {own.pixel_scale}}}"],
    }


def simulate(config, out: Path, n: int, seed: int, sets=()) -> Path:
    if out.exists():  # a rerun reuses what an earlier one simulated
        return out
    cmd = ["darklens", "simulate", str(config), "--out", str(out), "-n", str(n), "--seed",
           str(seed), "--workers", "2", "-q"]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True)
    return out


def fakes(reference: np.ndarray, n: int, folder: Path, rng) -> dict:
    """Noise, unlensed galaxies and ramps matched to the reference images' statistics."""
    from lenstronomy.LightModel.light_model import LightModel

    from darklens.infer.ood import image_stats

    stats = image_stats(reference)
    size = reference.shape[-1]
    background, noise = np.median(stats[:, 0]), np.median(stats[:, 1])
    axis = np.arange(size) - (size - 1) / 2
    xx, yy = np.meshgrid(axis, axis)
    light = LightModel(["SERSIC_ELLIPSE"])
    kinds = {"pure noise": [], "unlensed galaxy": [], "integer ramp": []}
    for _ in range(n):
        kinds["pure noise"].append(background + noise * rng.standard_normal((size, size)))
        g = light.surface_brightness(xx.ravel(), yy.ravel(), [{
            "amp": 1.0, "R_sersic": rng.uniform(2, 6), "n_sersic": rng.uniform(1, 4),
            "e1": rng.uniform(-0.2, 0.2), "e2": rng.uniform(-0.2, 0.2),
            "center_x": 0.0, "center_y": 0.0}]).reshape(size, size)
        g *= rng.choice(stats[:, 2]) / g.sum()
        kinds["unlensed galaxy"].append(g + background + noise * rng.standard_normal(g.shape))
        kinds["integer ramp"].append(np.add.outer(axis, axis) + size)
    paths = {}
    for kind, images in kinds.items():
        paths[kind] = folder / kind.replace(" ", "_")
        paths[kind].mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            np.save(paths[kind] / f"{i:04d}.npy", np.asarray(image, np.float32))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("config")
    parser.add_argument("--out", required=True)
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=880000)
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    from darklens.data.catalog import read_images
    from darklens.infer.paths import predict_paths
    from darklens.infer.predict import Predictor

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.calibrate:
        calib = simulate(args.config, out / "calib.h5", 1000, args.seed)
        subprocess.run(["darklens", "calibrate", args.run, str(calib)], check=True)
    inputs = {"training distribution": simulate(args.config, out / "in.h5", args.n,
                                                args.seed + 1)}
    for k, (name, sets) in enumerate(shifts(args.config).items()):
        inputs[name] = simulate(args.config, out / f"shift{k}.h5", args.n, args.seed + 2 + k,
                                sets)
    reference = read_images([inputs["training distribution"]])
    inputs |= fakes(reference, args.n, out, np.random.default_rng(args.seed))
    predictor = Predictor([args.run])
    print("| images | n | flagged | commonest reason |\n|---|---|---|---|")
    for kind, path in inputs.items():
        summary = predict_paths(predictor, [path], out / "p.csv", progress=False)
        table = pd.read_csv(summary.paths["table"])
        reasons = table["ood_reasons"].fillna("").str.split("; ").explode()
        reasons = reasons[reasons != ""].str.split(" ").str[0]
        top = reasons.value_counts().index[0] if len(reasons) else "-"
        print(f"| {kind} | {len(table)} | {table['ood'].mean():.3f} | {top} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
