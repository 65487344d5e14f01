"""``darklens calibrate``: fit sigma-scaling and split-conformal quantiles on held-out data and
store them in the model export, so ``darklens infer`` reports intervals that really hold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from darklens.atomic import write_text_atomic
from darklens.errors import DarklensError

__all__ = ["calibrate"]


def calibrate(model_dir: str | Path, datasets: list[str | Path], levels=(0.68, 0.95),
              tta: bool = False) -> dict:
    """Fit the calibration of every target on labelled datasets the model never saw.

    Parameters
    ----------
    model_dir : path
        A run directory or its ``best/`` export; its ``model.json`` gains a ``calibration``
        entry (written atomically).
    datasets : list of path
        darklens HDF5 files simulated for calibration (e.g. the training config with another
        seed); every sample is used.
    levels : tuple of float
        Central-interval levels to calibrate.

    Returns
    -------
    dict
        Per target: ``sigma_scale``, ``levels``, ``quantiles``, ``n``, and the coverage of the
        raw Gaussian intervals before calibration.
    """
    from darklens.analysis.calibration import fit_calibration, interval_coverage
    from darklens.data.dataset import LensDataset
    from darklens.infer.predict import Predictor
    from darklens.train.export import META

    export = Path(model_dir)
    if (export / "best" / META).is_file():
        export = export / "best"
    predictor = Predictor([export], tta=tta)
    targets, inputs = predictor.targets, predictor.inputs
    ds = LensDataset([Path(p) for p in datasets], targets, inputs)
    images, truth = ds.load_images(np.arange(len(ds))), ds.raw_targets
    pred = predictor.predict(images, ds.raw_inputs if inputs else None)
    result = {}
    for k, name in enumerate(targets):
        mu, sigma = pred[name]["mean"], pred[name]["std"]
        if not np.all(np.isfinite(sigma)):
            raise DarklensError(f"{export}: target {name!r} has no uncertainty (point head); "
                                "calibration needs a gaussian head")
        cal = fit_calibration(truth[:, k], mu, sigma, levels)
        cal["raw_coverage"] = [float(interval_coverage(truth[:, k], mu - z * sigma, mu + z * sigma))
                               for z in _z(levels)]
        result[name] = cal
    meta_path = export / META
    meta = json.loads(meta_path.read_text())
    meta["calibration"] = result
    write_text_atomic(meta_path, json.dumps(meta, indent=2, default=float))
    return result


def _z(levels):
    from scipy.stats import norm

    return [float(norm.ppf(0.5 + level / 2)) for level in levels]
