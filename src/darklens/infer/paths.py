"""``predict_paths``: every image under files and folders -> one table row each, with bad inputs
listed (never fatal unless ``strict``), known inputs from HDF5 / FITS headers / a CSV, and the
table written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from darklens import columns as C
from darklens.errors import DarklensError
from darklens.infer.band_groups import adapt_source, check_band_suffixes
from darklens.infer.predict import Predictor, intervals
from darklens.infer.readers import BadInput
from darklens.infer.sources import Source, iter_inputs
from darklens.infer.tables import check_output, errors_path, write_table

__all__ = ["Summary", "predict_paths"]


@dataclass(frozen=True)
class Summary:
    """What :func:`predict_paths` did.

    Attributes
    ----------
    n_ok, n_bad : int
        Images predicted, and inputs (files or samples) reported as bad.
    n_ood : int or None
        Predicted images flagged as out of distribution (None: the model has no checks).
    paths : dict of str to Path
        ``"table"``: the predictions; ``"errors"``: the errors CSV (path, reason).
    """

    n_ok: int
    n_bad: int
    paths: dict[str, Path]
    n_ood: int | None = None


def _read_inputs_csv(path, names: list[str]) -> dict[str, np.ndarray]:
    """``source`` (full path and bare file name) -> known input values from a CSV."""
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise DarklensError(f"{path}: unreadable inputs CSV ({err})") from None
    missing = [c for c in (C.SOURCE, *names) if c not in table.columns]
    if missing:
        raise DarklensError(
            f"{path}: inputs CSV lacks columns {missing} (expected {C.SOURCE}, {', '.join(names)})"
        )
    rows = {}
    for _, r in table.iterrows():
        values = r[names].to_numpy(dtype=np.float64)
        rows[str(r[C.SOURCE])] = values
        rows.setdefault(Path(str(r[C.SOURCE])).name, values)
    return rows


def _known_inputs(src: Source, names, csv_rows, header_keys) -> np.ndarray:
    """The source's known inputs from (in this order) stored values, the CSV, the header."""
    out = np.empty(len(names))
    row = csv_rows.get(src.name, csv_rows.get(Path(src.name).name)) if csv_rows else None
    for j, name in enumerate(names):
        key = header_keys.get(name, name.upper())
        if name in src.values:
            value = src.values[name]
        elif row is not None:
            value = row[j]
        elif src.header is not None and key in src.header:
            value = src.header[key]
        else:
            raise BadInput(f"no value for known input {name!r} (header keyword {key}, or CSV)")
        try:
            out[j] = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"known input {name!r} is {value!r}, expected a number") from None
        if not np.isfinite(out[j]):
            raise BadInput(f"known input {name!r} is {value!r}, expected a finite number")
    return out


def _rows(predictor: Predictor, batch: list[tuple[Source, np.ndarray, np.ndarray, list]]) -> list:
    """Predict one batch of prepared images; one table row (dict) per image."""
    images = np.stack([b[1] for b in batch])
    known = np.stack([b[2] for b in batch]) if predictor.inputs else None
    means, covs = predictor.predict_arrays(images, known)
    stds = np.sqrt(np.diagonal(covs, axis1=1, axis2=2))
    ood = _ood(predictor, images, means, [b[3] for b in batch])
    rows = []
    targets = predictor.targets
    # a calibrated model reports its sigma-scaled std (the best Gaussian one)
    scales = [float((predictor.calibration.get(t) or {}).get("sigma_scale", 1.0))
              for t in targets]
    for i, (src, *_) in enumerate(batch):
        row: dict = {C.SOURCE: src.name, **ood[i]}
        if predictor.full_covariance:  # scaled as the stds are, so correlations are kept
            row.update({C.cov_column(a, b): covs[i, j, k] * scales[j] * scales[k]
                        for j, a in enumerate(targets) for k, b in enumerate(targets) if k > j})
        for j, t in enumerate(targets):
            mu, sd = means[i, j], stds[i, j]
            cal = predictor.calibration.get(t)
            row[C.mean_column(t)] = mu
            row[C.std_column(t)] = sd * scales[j]
            for tag, level in C.LEVELS.items():
                lo, hi = intervals(mu, sd, level, cal)
                lo_col, hi_col = C.interval_columns(t, tag)
                row[lo_col], row[hi_col] = float(lo), float(hi)
            if t in src.values:
                row[C.true_column(t)] = src.values[t]
        rows.append(row)
    return rows


def _ood(predictor: Predictor, images: np.ndarray, means: np.ndarray,
         noise_reasons: list[list[str]]) -> list[dict]:
    """The out-of-distribution columns of each image: the model's checks (NaN when it has
    none) and the cutouts' noise checks."""
    if predictor.ood is None:
        return [{C.OOD: bool(r) if r else np.nan, C.OOD_SCORE: np.nan,
                 C.OOD_REASONS: "; ".join(r)} for r in noise_reasons]
    from darklens.infer.ood import image_stats

    feats = predictor.features(images)
    score = predictor.ood.distance(feats) / predictor.ood.threshold
    reasons = predictor.ood.flags(feats, image_stats(images),
                                  {t: means[:, k] for k, t in enumerate(predictor.targets)})
    reasons = [r + extra for r, extra in zip(reasons, noise_reasons, strict=True)]
    return [{C.OOD: bool(r), C.OOD_SCORE: float(s), C.OOD_REASONS: "; ".join(r)}
            for r, s in zip(reasons, score, strict=True)]


def _usable(predictor: Predictor, sources, options: dict, errors: list, strict: bool):
    """``(source, prepared image, known inputs, noise reasons)`` of every usable source; the
    others are recorded in ``errors`` (or raised with ``strict``)."""
    trained_on = predictor.trained_on
    for src in sources:
        try:
            if src.error is not None:
                raise BadInput(src.error, src.name)
            image, noise, noise_reasons = adapt_source(src, trained_on, options["resample"])
            if options["subtract_lens_light"]:  # in the model's units and scale, before resizing
                from darklens.infer.lens_light import subtract_lens_light

                image = subtract_lens_light(image, trained_on.pixel_scale or 1.0, noise)
            image = predictor.prepare(image, resize=options["resize"], crop=options["crop"])
            known = _known_inputs(src, predictor.inputs, options["csv_rows"],
                                  options["header_keys"])
        except BadInput as err:
            if strict:
                raise BadInput(err.reason, src.name) from None
            errors.append({"path": src.name, "reason": err.reason})
            continue
        yield src, image, known, noise_reasons


def predict_paths(
    predictor: Predictor,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    resize: bool = False,
    crop: bool = False,
    resample: bool = False,
    strict: bool = False,
    progress: bool = True,
    inputs_csv: str | os.PathLike | None = None,
    header_keys: dict[str, str] | None = None,
    band_suffixes: Sequence[str] | None = None,
    subtract_lens_light: bool = False,
) -> Summary:
    """Predict every image under ``inputs`` and write one table row per image.

    Parameters
    ----------
    predictor : Predictor
    inputs : list of path
        Image files, folders and darklens HDF5 datasets (see :func:`iter_inputs`).
    out : path
        Output table; ``.csv``, ``.parquet`` (needs pyarrow) or ``.nc`` (netCDF). Columns:
        :func:`darklens.columns.prediction_columns` (``source``, then per target T ``T_mean``,
        ``T_std``, ``T_lo68``, ``T_hi68``, ``T_lo95``, ``T_hi95``) and, when some input
        carries labels, ``T_true``.
    resize, crop : bool
        Adapt other image sizes (see :meth:`Predictor.prepare`).
    resample : bool
        Resample FITS cutouts of another pixel scale onto the model's (flux conserved,
        :func:`darklens.infer.cutouts.adapt`); without it they are listed as errors.
    strict : bool
        Raise on the first bad input instead of recording it in ``<out stem>.errors.csv``.
    progress : bool
        Show a tqdm progress bar.
    inputs_csv : path, optional
        Known inputs per image: a ``source`` column (file path or name) and one per input.
    header_keys : dict, optional
        Input name -> FITS header keyword (default: the name upper-cased).
    band_suffixes : list of str, optional
        One file per band (``X_g.fits``, ``X_r.fits`` -> ``X``; :mod:`.band_groups`).
    subtract_lens_light : bool
        Subtract each image's fitted lens light (:mod:`.lens_light`); adds a column
        ``lens_light_subtracted``.

    Returns
    -------
    Summary
    """
    from tqdm.auto import tqdm

    out = check_output(out)
    if band_suffixes:
        check_band_suffixes(list(band_suffixes), predictor.bands)
    options = {
        "resize": resize, "crop": crop, "resample": resample,
        "subtract_lens_light": bool(subtract_lens_light),
        "header_keys": dict(header_keys or {}),
        "csv_rows": _read_inputs_csv(inputs_csv, predictor.inputs) if inputs_csv else None,
    }
    rows: list[dict] = []
    errors: list[dict] = []
    batch: list = []
    bar = tqdm(desc="infer", unit="image", disable=not progress)
    sources = iter_inputs(inputs, predictor.bands, list(band_suffixes or []) or None)
    for item in _usable(predictor, _counted(sources, bar), options, errors, strict):
        batch.append(item)
        if len(batch) >= predictor.batch_size:
            rows += _rows(predictor, batch)
            batch.clear()
    if batch:
        rows += _rows(predictor, batch)
    bar.close()
    table = _table(predictor, rows, subtract_lens_light)
    table_path = write_table(table, out)
    err_path = errors_path(out)
    write_table(pd.DataFrame(errors, columns=["path", "reason"]), err_path)
    n_ood = int(table[C.OOD].astype(bool).sum()) if predictor.ood is not None else None
    return Summary(len(rows), len(errors), {"table": table_path, "errors": err_path}, n_ood)


def _table(predictor: Predictor, rows: list[dict], subtract_lens_light: bool) -> pd.DataFrame:
    """The predictions table: the prediction columns, then ``T_true`` for the targets some
    input carries, then ``lens_light_subtracted`` when the lens light was taken out."""
    table = pd.DataFrame(rows)
    labelled = [C.true_column(t) for t in predictor.targets]
    columns = C.prediction_columns(predictor.targets, predictor.full_covariance)
    table = table.reindex(columns=columns + [c for c in labelled if c in table.columns])
    if subtract_lens_light:  # the predictions are of images without their lens light
        from darklens.infer.lens_light import COLUMN

        table[COLUMN] = True
    return table


def _counted(sources, bar):
    for src in sources:
        bar.update()
        yield src
