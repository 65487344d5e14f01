"""Point-prediction metrics per target (numbers only; plots live in analysis/plots.py)."""

from __future__ import annotations

import numpy as np

__all__ = ["regression_metrics"]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """MAE, RMSE, R², bias and median |error| per column.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N, T)
        True and predicted values in physical units.

    Returns
    -------
    dict of str to ndarray (T,)
        ``mae``, ``rmse``, ``r2`` (1 - SSE/SST; NaN when the truth is constant), ``bias``
        (mean of pred - true) and ``median_abs``.
    """
    y_true = np.asarray(y_true, float).reshape(len(y_true), -1)
    err = np.asarray(y_pred, float).reshape(y_true.shape) - y_true
    sst = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(sst > 0, 1.0 - (err**2).sum(axis=0) / sst, np.nan)
    return {
        "mae": np.abs(err).mean(axis=0),
        "rmse": np.sqrt((err**2).mean(axis=0)),
        "r2": r2,
        "bias": err.mean(axis=0),
        "median_abs": np.median(np.abs(err), axis=0),
    }
