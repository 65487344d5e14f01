"""Point and probabilistic metrics per target (numbers only; plots live in analysis/plots.py)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from darklens.errors import DarklensError

__all__ = ["crps_gaussian", "gaussian_nll", "per_bin_metrics", "regression_metrics"]


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


def _columns(*arrays: np.ndarray, names: str = "y, mu, sigma") -> list[np.ndarray]:
    """1-D float copies of equally long arrays; a mismatch names the arguments."""
    out = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    if len({len(a) for a in out}) != 1 or len(out[0]) == 0:
        raise DarklensError(
            f"{names}: expected non-empty 1-D arrays of one length, got lengths "
            f"{[len(a) for a in out]}"
        )
    return out


def _checked_sigma(sigma: np.ndarray) -> np.ndarray:
    if not np.all(sigma > 0):
        raise DarklensError(
            "sigma: expected predicted standard deviations > 0 (a point model "
            "has no uncertainty to score)"
        )
    return sigma


def per_bin_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_bins: int = 5) -> list[dict]:
    """MAE, RMSE and bias in equal-width bins of the true value.

    Errors usually grow towards the edges of the prior, which one global number hides.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N,)
        True and predicted values of one target.
    n_bins : int
        Number of equal-width bins spanning ``[min(y_true), max(y_true)]``.

    Returns
    -------
    list of dict
        One dict per bin with ``lo``, ``hi``, ``n`` and ``mae``, ``rmse``, ``bias`` (NaN for an
        empty bin). The last bin includes its upper edge.
    """
    if int(n_bins) < 1:
        raise DarklensError(f"n_bins={n_bins!r}: expected a positive integer")
    y_true, y_pred = _columns(y_true, y_pred, names="y_true, y_pred")
    lo, hi = float(y_true.min()), float(y_true.max())
    edges = np.linspace(lo, hi, int(n_bins) + 1)
    # digitize against the inner edges puts the maximum in the last bin, not one past it
    which = np.digitize(y_true, edges[1:-1], right=False)
    err = y_pred - y_true
    rows = []
    for k in range(int(n_bins)):
        e = err[which == k]
        nan = float("nan")
        rows.append(
            {
                "lo": float(edges[k]),
                "hi": float(edges[k + 1]),
                "n": int(e.size),
                "mae": float(np.abs(e).mean()) if e.size else nan,
                "rmse": float(np.sqrt((e**2).mean())) if e.size else nan,
                "bias": float(e.mean()) if e.size else nan,
            }
        )
    return rows


def _standardised(y, mu, sigma) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``sigma`` and the residuals in units of it, ``z = (y - mu) / sigma``."""
    y, mu, sigma = _columns(y, mu, sigma)
    sigma = _checked_sigma(sigma)
    return sigma, (y - mu) / sigma


def gaussian_nll(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Mean negative log-likelihood of ``y`` under ``N(mu, sigma²)`` (natural log, per sample).

    Parameters
    ----------
    y, mu, sigma : ndarray, shape (N,)
        Truth, predicted mean and predicted standard deviation (> 0) of one target.

    Returns
    -------
    float
    """
    sigma, z = _standardised(y, mu, sigma)
    return float(np.mean(0.5 * np.log(2.0 * np.pi) + np.log(sigma) + 0.5 * z**2))


def crps_gaussian(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Mean continuous ranked probability score of Gaussian predictions (closed form).

    ``CRPS = sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi))`` with ``z = (y - mu) / sigma``
    (Gneiting & Raftery 2007); it is in the target's units and equals the MAE for sigma -> 0.

    Parameters
    ----------
    y, mu, sigma : ndarray, shape (N,)
        Truth, predicted mean and predicted standard deviation (> 0) of one target.

    Returns
    -------
    float
    """
    sigma, z = _standardised(y, mu, sigma)
    pdf = np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi)
    return float(np.mean(sigma * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * pdf - 1.0 / np.sqrt(np.pi))))
