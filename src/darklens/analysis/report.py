"""``darklens analyze``: metrics, calibration numbers, plots and a Markdown/HTML report of a
labelled predictions table (as written by ``darklens infer`` plus ``T_true`` columns)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from darklens import columns as C
from darklens.analysis import calibration as cal
from darklens.analysis import plots
from darklens.analysis.metrics import (
    crps_gaussian,
    gaussian_nll,
    per_bin_metrics,
    regression_metrics,
)
from darklens.analysis.report_text import html_report, markdown_report
from darklens.atomic import write_text_atomic
from darklens.errors import DarklensError

__all__ = ["analyze", "read_prediction_table", "read_predictions"]



def read_prediction_table(path: str | Path, truth: str | Path | None = None):
    """Read a predictions CSV written by ``darklens infer``.

    Parameters
    ----------
    path : path
        Table written by ``darklens infer``.
    truth : path, optional
        Labels CSV with a ``source`` column and ``T_true`` columns (as ``darklens export``
        writes), joined onto the predictions by file name; its values replace any
        ``T_true`` columns the predictions already have.

    Returns
    -------
    table : pandas.DataFrame
    predicted : list of str
        Targets with a ``T_mean`` column, in table order.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DarklensError(f"{path}: predictions table not found")
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DarklensError(f"{path}: not a readable CSV table ({first})") from None
    if truth is not None:
        table = _join_truth(table, Path(truth))
    predicted = C.predicted_targets(table.columns)
    if not predicted:
        raise DarklensError(
            f"{path}: no '<target>_mean' columns; expected a table written by darklens infer"
        )
    return table, predicted


def read_predictions(path: str | Path, truth: str | Path | None = None):
    """Read a predictions CSV and find its labelled targets (see
    :func:`read_prediction_table`).

    Returns
    -------
    table : pandas.DataFrame
    targets : list of str
        Targets with both ``T_mean`` and ``T_true`` columns, in table order.
    """
    table, predicted = read_prediction_table(path, truth)
    targets = [t for t in predicted if C.true_column(t) in table.columns]
    if not targets:
        raise DarklensError(
            f"{path}: no '<target>_true' column for {', '.join(predicted)}; "
            "analysis needs the true values (add T_true columns)"
        )
    return table, targets


def _join_truth(table, truth: Path):
    import pandas as pd

    try:
        labels = pd.read_csv(truth)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DarklensError(f"{truth}: not a readable labels CSV ({first})") from None
    true_cols = [c for c in labels.columns if c.endswith(C.true_column(""))]
    if C.SOURCE not in labels.columns or not true_cols:
        raise DarklensError(f"{truth}: expected a 'source' column and '<target>_true' columns")
    if C.SOURCE not in table.columns:
        raise DarklensError("predictions table has no 'source' column to join the labels on")
    # joined by file name: the folder may have been given to infer by another (relative) path
    key = table[C.SOURCE].map(lambda s: Path(str(s)).name)
    if key.duplicated().any():
        raise DarklensError(f"predictions table: file name {key[key.duplicated()].iloc[0]!r} "
                            f"appears twice; cannot join {truth} by file name")
    labels = labels.assign(_key=labels[C.SOURCE].map(lambda s: Path(str(s)).name))
    table = table.drop(columns=[c for c in true_cols if c in table.columns]).assign(_key=key)
    joined = table.merge(labels[["_key", *true_cols]], on="_key", how="left").drop(columns="_key")
    if joined[true_cols].isna().all(axis=None):
        raise DarklensError(f"{truth}: no 'source' matches the predictions' sources")
    return joined


def _target_metrics(table, name: str, source: Path) -> tuple[dict, dict]:
    """Metrics of one target and the arrays the plots need."""
    y = table[C.true_column(name)].to_numpy(float)
    mu = table[C.mean_column(name)].to_numpy(float)
    ok = np.isfinite(y) & np.isfinite(mu)  # unlabelled or failed rows carry no information
    if not ok.any():
        raise DarklensError(
            f"{source}: column {name}_true has no row with both a true and a predicted value"
        )
    y, mu = y[ok], mu[ok]
    point = regression_metrics(y[:, None], mu[:, None])
    out: dict = {"n": int(y.size)}
    out.update({k: float(v[0]) for k, v in point.items()})
    out["per_bin"] = per_bin_metrics(y, mu)
    arrays = {"y": y, "mu": mu, "sigma": None}

    if C.std_column(name) in table.columns:
        sigma = table[C.std_column(name)].to_numpy(float)[ok]
        has = np.isfinite(sigma) & (sigma > 0)  # point models write NaN
        if has.any():
            ys, ms, ss = y[has], mu[has], sigma[has]
            levels = cal.DEFAULT_LEVELS
            cov = cal.coverage(ys, ms, ss, levels)
            pit_values = cal.pit(ys, ms, ss)
            ks = cal.pit_ks(pit_values)
            out.update(
                {
                    "n_std": int(has.sum()),
                    "mean_std": float(ss.mean()),
                    "nll": gaussian_nll(ys, ms, ss),
                    "crps": crps_gaussian(ys, ms, ss),
                    "coverage_levels": [float(v) for v in levels],
                    "coverage": [float(v) for v in cov],
                    "miscalibration_area": cal.miscalibration_area(levels, cov),
                    "pit_ks_stat": ks[0],
                    "pit_ks_pvalue": ks[1],
                    "sigma_scale_fit": cal.fit_sigma_scale(ys, ms, ss),
                }
            )
            if has.all():
                arrays["sigma"] = ss
            arrays.update(levels=levels, coverage=cov, pit=pit_values, ks=ks)

    # the table's own intervals (possibly conformal-calibrated by infer), at whatever levels
    for col in table.columns:
        parsed = C.parse_interval(col)
        lo_col, hi_col = C.interval_columns(name, parsed[1]) if parsed else (None, None)
        if parsed and parsed[0] == name and hi_col in table.columns:
            lo, hi = table[lo_col].to_numpy(float)[ok], table[hi_col].to_numpy(float)[ok]
            value = cal.interval_coverage(y, lo, hi)
            if math.isfinite(value):
                out[f"interval_coverage_{parsed[1]}"] = value
                edges = [b["lo"] for b in out["per_bin"]] + [out["per_bin"][-1]["hi"]]
                for b, c in zip(out["per_bin"], cal.binned_coverage(y, lo, hi, edges),
                                strict=True):
                    b[f"coverage_{parsed[1]}"] = c
    return out, arrays


def flagged(table):
    """Rows flagged as out of distribution, or None when the table has no such flags."""
    if C.OOD not in table.columns or table[C.OOD].isna().all():
        return None
    return table[C.OOD].fillna(False).astype(bool).to_numpy()


def joint_calibration(table, targets: list[str]) -> dict | None:
    """TARP coverage of the joint predictive of two or more targets (None for one target or
    point predictions); covariances from the table's ``cov_*`` columns, else diagonal."""
    stds = [C.std_column(t) for t in targets]
    if len(targets) < 2 or not set(stds) <= set(table.columns):
        return None
    cols = [C.true_column(t) for t in targets] + [C.mean_column(t) for t in targets] + stds
    rows = table[cols].dropna()
    if len(rows) < 20 or (rows[stds] <= 0).any(axis=None):
        return None
    y = rows[[C.true_column(t) for t in targets]].to_numpy(float)
    mu = rows[[C.mean_column(t) for t in targets]].to_numpy(float)
    cov = np.zeros((len(rows), len(targets), len(targets)))
    for j, a in enumerate(targets):
        cov[:, j, j] = rows[C.std_column(a)].to_numpy(float) ** 2
        for k, b in enumerate(targets[j + 1:], start=j + 1):
            if C.cov_column(a, b) in table.columns:
                cov[:, j, k] = cov[:, k, j] = table.loc[rows.index, C.cov_column(a, b)]
    alpha, ecp, error = cal.tarp_coverage(y, mu, cov)
    return {"targets": list(targets), "n": len(rows), "tarp_error": error,
            "alpha": alpha.tolist(), "ecp": ecp.tolist(),
            "covariance": "full" if any(c.startswith("cov_") for c in table.columns)
            else "diagonal"}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _draw(name: str, m: dict, a: dict, out_dir: Path) -> list[tuple[str, str]]:
    """Draw one target's figures; returns (caption, file name) pairs."""
    stem = _safe(name)
    figs = [
        ("true vs predicted", f"{stem}_true_vs_pred.png"),
        ("residuals vs truth", f"{stem}_residuals.png"),
        ("MAE per bin of the truth", f"{stem}_bin_mae.png"),
    ]
    plots.plot_true_vs_pred(a["y"], a["mu"], out_dir / figs[0][1], sigma=a["sigma"], name=name)
    plots.plot_residuals(a["y"], a["mu"], out_dir / figs[1][1], per_bin=m["per_bin"], name=name)
    plots.plot_bin_mae(m["per_bin"], out_dir / figs[2][1], name=name)
    if "coverage" in a:
        extra = {}
        own = [
            (int(k.rsplit("_", 1)[1]) / 100, v)
            for k, v in m.items()
            if k.startswith("interval_coverage_")
        ]
        if own:
            extra["table's intervals"] = tuple(zip(*sorted(own), strict=True))
        figs.append(("reliability (coverage)", f"{stem}_coverage.png"))
        plots.plot_coverage(
            a["levels"], a["coverage"], out_dir / figs[-1][1], name=name, extra=extra
        )
        figs.append(("PIT histogram", f"{stem}_pit.png"))
        plots.plot_pit(a["pit"], out_dir / figs[-1][1], name=name, ks=a["ks"])
    return figs


def _json_ready(obj):
    """NaN/inf become null: strict JSON readers (browsers, jq) reject NaN."""
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def analyze(predictions_csv: str | Path, out_dir: str | Path,
            truth: str | Path | None = None) -> dict:
    """Analyse a labelled predictions table and write a report.

    Parameters
    ----------
    predictions_csv : path
        CSV with ``T_mean`` and ``T_true`` (and, for probabilistic models, ``T_std`` and
        ``T_lo68``/``T_hi68``/... interval) columns per target ``T``.
    out_dir : path
        Created if needed; receives ``metrics.json``, PNG plots, ``report.md`` and
        ``report.html`` (images linked by relative name). Every file is written atomically.
    truth : path, optional
        Labels CSV joined by ``source`` (see :func:`read_predictions`).

    Returns
    -------
    dict
        Per labelled target: ``n``, ``mae``, ``rmse``, ``r2``, ``bias``, ``median_abs``,
        ``per_bin``; with a finite std also ``nll``, ``crps``, ``coverage_levels``,
        ``coverage``, ``miscalibration_area``, ``pit_ks_stat``, ``pit_ks_pvalue``,
        ``mean_std``, ``sigma_scale_fit`` (the sigma scale this set would need); and
        ``interval_coverage_LL`` for each of the table's ``T_loLL``/``T_hiLL`` intervals.
        NaN values are written to ``metrics.json`` as null.
    """
    source, out_dir = Path(predictions_csv), Path(out_dir)
    table, targets = read_predictions(source, truth)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics, figures = {}, {}
    is_flagged = flagged(table)
    for name in targets:
        metrics[name], arrays = _target_metrics(table, name, source)
        figures[name] = _draw(name, metrics[name], arrays, out_dir)
        if is_flagged is not None:
            kept, _ = _target_metrics(table[~is_flagged], name, source)
            metrics[name]["n_flagged"] = int(is_flagged.sum())
            metrics[name]["not_flagged"] = {k: v for k, v in kept.items() if k != "per_bin"}
    joint = joint_calibration(table, targets)
    if joint is not None:
        metrics["joint"] = joint
        plots.plot_coverage(joint["alpha"], joint["ecp"], out_dir / "joint_tarp.png",
                            name="joint (TARP)")
        figures["joint"] = [("joint coverage (TARP)", "joint_tarp.png")]
    write_text_atomic(out_dir / "metrics.json", json.dumps(_json_ready(metrics), indent=2))
    write_text_atomic(out_dir / "report.md", markdown_report(source, metrics, figures))
    write_text_atomic(out_dir / "report.html", html_report(source, metrics, figures))
    return metrics
