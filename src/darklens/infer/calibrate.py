"""``darklens calibrate``: fit sigma-scaling and split-conformal quantiles on held-out data and
store them in the model export, so ``darklens infer`` reports intervals that really hold; the
same held-out images (re)fit the out-of-distribution checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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

    Notes
    -----
    With at least 100 images the out-of-distribution checks are refitted on them too
    (:mod:`darklens.infer.ood`, false-alarm rate 1 %).
    """
    from darklens.analysis.calibration import fit_calibration, interval_coverage, z_value
    from darklens.artifact import RunDir, write_calibration, write_ood
    from darklens.data.catalog import check_finite, describe, read_columns, read_images
    from darklens.infer.ood import fit_predictor_ood
    from darklens.infer.predict import Predictor

    export = RunDir.model_dir(model_dir)
    predictor = Predictor([export], tta=tta)
    targets, inputs = predictor.targets, predictor.inputs
    info = describe([Path(p) for p in datasets])
    truth, known = read_columns(info.paths, targets), read_columns(info.paths, inputs)
    check_finite(truth, targets, "target", info)
    check_finite(known, inputs, "input", info)
    images = read_images(info.paths)
    pred = predictor.predict(images, known if inputs else None)
    result = {}
    for k, name in enumerate(targets):
        mu, sigma = pred[name]["mean"], pred[name]["std"]
        if not np.all(np.isfinite(sigma)):
            raise DarklensError(f"{export}: target {name!r} has no uncertainty (point head); "
                                "calibration needs a gaussian head")
        cal = fit_calibration(truth[:, k], mu, sigma, levels)
        cal["raw_coverage"] = [
            float(interval_coverage(truth[:, k], mu - z * sigma, mu + z * sigma))
            for z in map(z_value, levels)
        ]
        result[name] = cal
    write_calibration(export, result)
    if len(images) >= 100:
        write_ood(export, fit_predictor_ood(predictor, images,
                                            {t: truth[:, k] for k, t in enumerate(targets)}))
    return result
