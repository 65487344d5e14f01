"""``darklens demo``: the whole path on an embedded default, on a laptop CPU.

simulate (train / calibration / test sets, disjoint seeds) -> train a small probabilistic model
-> calibrate it -> write the test set as a folder of FITS files -> ``infer`` on the folder ->
``analyze`` the predictions -> print where the report is.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from darklens.command import Command

__all__ = ["COMMANDS", "demo"]

#: HST-like halo-mass task (configs/sim/hst_halo_mass.yaml), embedded so the demo runs anywhere
SIM = {
    "instrument": "hst-wfc3-f160w",
    # 4 x 4 rays (PSF at that resolution) is within chi2 ~15 of 16 x 16 for smooth lenses,
    # and keeps the demo at ~3 minutes on 2 cores; substructure needs the default 8
    "supersampling": 4,
    "substructure": {"kind": "none"},
    "params": {"z_lens": 0.5, "z_source": 2.0, "log10_halo_mass": {"uniform": [10.7, 11.9]}},
}
TARGET = "log10_halo_mass"
SIZES = {False: {"train": 3000, "calib": 600, "test": 300, "epochs": 10},
         True: {"train": 256, "calib": 128, "test": 48, "epochs": 2}}


def demo(out: str | Path = "darklens-demo", quick: bool = False, workers: int = 2,
         progress: bool = True) -> dict:
    """Run the demo into ``out``; returns the test-set metrics of the calibrated model."""
    from darklens.analysis.report import analyze
    from darklens.artifact import RunDir
    from darklens.data.fits_export import export_fits
    from darklens.infer.calibrate import calibrate
    from darklens.infer.paths import predict_paths
    from darklens.infer.predict import Predictor
    from darklens.simulate import run
    from darklens.train.config import load_train_config
    from darklens.train.loop import train

    out, sizes, t0 = Path(out), SIZES[quick], time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)

    def step(text):
        print(f"[{time.perf_counter() - t0:6.1f} s] {text}", flush=True)

    data = {}
    for seed, split in enumerate(("train", "calib", "test"), start=1):
        step(f"simulating {sizes[split]} {split} images")
        path = out / f"{split}.h5"
        if not path.exists():  # rerunning the demo reuses finished datasets
            run(dict(SIM, n=sizes[split], seed=seed), out=path, workers=workers,
                progress=progress)
        data[split] = path

    run_dir = out / "run"
    step(f"training resnet10t with a Gaussian head for {sizes['epochs']} epochs -> {run_dir}")
    cfg = load_train_config({
        "data": {"files": [str(data["train"])], "targets": [TARGET], "stretch": "asinh",
                 "split": [0.9, 0.1, 0.0]},
        "model": {"backbone": "resnet10t", "head": {"kind": "gaussian", "hidden": 128}},
        "optim": {"lr": 2e-3, "warmup_epochs": 1 if not quick else 0.5},
        "train": {"epochs": sizes["epochs"], "batch_size": 64 if not quick else 32,
                  "out": str(run_dir), "progress": progress},
    })
    # an interrupted demo resumes its training; a finished one has nothing left to do
    train(cfg, resume=run_dir if RunDir(run_dir).checkpoints.is_dir() else None)

    step("calibrating on the held-out calibration set")
    cal = calibrate(run_dir, [data["calib"]])[TARGET]

    step(f"writing the {sizes['test']} test images as FITS files")
    fits_dir = out / "test_fits"
    _, labels = export_fits(data["test"], fits_dir, inputs=["z_lens", "z_source"])

    step("darklens infer on the FITS folder")
    predictions = out / "predictions.csv"
    summary = predict_paths(Predictor([run_dir]), [fits_dir], predictions, progress=progress)

    step("darklens analyze")
    metrics = analyze(predictions, out / "report", truth=labels)[TARGET]
    step(f"done: {summary.n_ok} test images; MAE {metrics['mae']:.4f} dex, "
         f"68 % / 95 % coverage {metrics['interval_coverage_68']:.3f} / "
         f"{metrics['interval_coverage_95']:.3f} (sigma scale {cal['sigma_scale']:.2f})")
    print(f"report: {out / 'report' / 'report.html'}")
    return metrics


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="darklens-demo", help="folder for everything it makes")
    p.add_argument("--quick", action="store_true", help="a tiny version (seconds; for CI)")
    p.add_argument("--workers", type=int, default=2, help="simulation worker processes")
    p.add_argument("-q", "--quiet", action="store_true")


def _demo(args: argparse.Namespace) -> int:
    demo(args.out, quick=args.quick, workers=args.workers, progress=not args.quiet)
    return 0


COMMANDS = {"demo": Command(_arguments, _demo)}
