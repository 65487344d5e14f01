"""Calibration of Gaussian predictions: coverage, PIT, error numbers, and recalibration.

Numbers only (plots live in analysis/plots.py). Recalibration is fitted on a held-out
calibration split by :func:`fit_calibration`; its dict is stored in the model export as
``meta["calibration"][target]`` and applied by inference as intervals ``mu -/+ q * sigma``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import ndtr, ndtri

from darklens.analysis.metrics import _checked_sigma, _columns
from darklens.errors import DarklensError

__all__ = [
    "DEFAULT_LEVELS",
    "conformal_quantiles",
    "coverage",
    "fit_calibration",
    "fit_sigma_scale",
    "interval_coverage",
    "miscalibration_area",
    "pit",
    "pit_ks",
    "binned_coverage",
    "tarp_coverage",
    "z_value",
]

#: Nominal levels of the reliability curve: 0.1, 0.19, ..., 0.95.
DEFAULT_LEVELS = np.linspace(0.1, 0.95, 10)


def z_value(level: float) -> float:
    """Half-width, in standard deviations, of the central Gaussian interval holding ``level``."""
    if not 0 < level < 1:
        raise DarklensError(f"interval level {level!r}: expected a number between 0 and 1")
    return float(ndtri(0.5 + level / 2.0))


def _levels(levels) -> np.ndarray:
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if levels.size == 0 or not np.all((levels > 0) & (levels < 1)):
        raise DarklensError(f"levels {levels.tolist()}: expected nominal coverages in (0, 1)")
    return levels


def coverage(y, mu, sigma, levels=DEFAULT_LEVELS) -> np.ndarray:
    """Empirical coverage of the central Gaussian intervals ``mu -/+ z(level) * sigma``.

    Parameters
    ----------
    y, mu, sigma : ndarray, shape (N,)
        Truth, predicted mean and standard deviation of one target.
    levels : array_like
        Nominal coverages in (0, 1).

    Returns
    -------
    ndarray, shape (len(levels),)
        Fraction of ``y`` inside each interval; equal to ``levels`` when calibrated.
    """
    y, mu, sigma = _columns(y, mu, sigma)
    z_abs = np.abs(y - mu) / _checked_sigma(sigma)
    half = np.array([z_value(level) for level in _levels(levels)])
    return (z_abs[None, :] <= half[:, None]).mean(axis=1)


def interval_coverage(y, lo, hi) -> float:
    """Fraction of ``y`` inside ``[lo, hi]`` (rows with a non-finite bound are skipped).

    Returns
    -------
    float
        NaN when no row has finite bounds (e.g. a point model wrote NaN intervals).
    """
    y, lo, hi = _columns(y, lo, hi, names="y, lo, hi")
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(y)
    if not ok.any():
        return float("nan")
    return float(np.mean((y[ok] >= lo[ok]) & (y[ok] <= hi[ok])))


def binned_coverage(y, lo, hi, edges) -> list[float]:
    """Coverage of intervals ``[lo, hi]`` in bins of the truth (edges as per_bin_metrics uses:
    the last bin includes its upper edge); NaN for an empty bin.

    One coverage number can hide intervals that are too wide in one part of the prior and too
    narrow in another; this shows where.
    """
    y, lo, hi = _columns(y, lo, hi, names="y, lo, hi")
    which = np.digitize(y, np.asarray(edges)[1:-1], right=False)
    inside = (y >= lo) & (y <= hi)
    return [float(inside[which == k].mean()) if np.any(which == k) else float("nan")
            for k in range(len(edges) - 1)]


def tarp_coverage(y, mu, cov, n_samples: int = 1000, seed: int = 0):
    """Joint calibration of multi-target Gaussian predictions by TARP (Lemos et al. 2023).

    Samples are drawn from each prediction ``N(mu_i, cov_i)``; for random reference points the
    fraction of samples closer to the reference than the truth should be uniform, so the
    expected coverage (ECP) at credibility alpha equals alpha when the joint predictive is
    calibrated, including the correlations a diagonal check misses (the ``tarp`` package).

    Parameters
    ----------
    y, mu : ndarray (N, T)
        Truth and predicted means.
    cov : ndarray (N, T, T)
        Predicted covariances.
    n_samples : int
        Samples per prediction.
    seed : int
        Seed of the samples and reference points.

    Returns
    -------
    alpha, ecp : ndarray
        Credibility levels and their expected coverage.
    error : float
        max |ecp - alpha|: 0 for a calibrated predictive.
    """
    import tarp

    y, mu, cov = (np.asarray(a, dtype=np.float64) for a in (y, mu, cov))
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(cov + 1e-300 * np.eye(cov.shape[-1]))
    z = rng.standard_normal((n_samples, *mu.shape))
    samples = mu[None] + np.einsum("nij,snj->sni", chol, z)
    ecp, alpha = tarp.get_tarp_coverage(samples, y, references="random", norm=True,
                                        seed=int(rng.integers(2**31)))
    return np.asarray(alpha), np.asarray(ecp), float(np.max(np.abs(ecp - alpha)))


def pit(y, mu, sigma) -> np.ndarray:
    """Probability integral transform ``Phi((y - mu) / sigma)``; uniform on [0, 1] if calibrated."""
    y, mu, sigma = _columns(y, mu, sigma)
    return ndtr((y - mu) / _checked_sigma(sigma))


def pit_ks(pit_values) -> tuple[float, float]:
    """Kolmogorov-Smirnov test of PIT values against U(0, 1).

    Returns
    -------
    statistic, pvalue : float
        A small p-value says the predictive distributions are miscalibrated.
    """
    values = np.asarray(pit_values, dtype=np.float64).ravel()
    if values.size == 0:
        raise DarklensError("pit_values: expected at least one value")
    result = stats.kstest(values, "uniform")
    return float(result.statistic), float(result.pvalue)


def miscalibration_area(levels, coverage) -> float:
    """Mean ``|coverage - nominal|`` over the levels (trapezoid integral / level span).

    Dividing by the span makes the number independent of the chosen level range: 0 is perfect,
    0.1 means intervals miss their nominal coverage by 10 points on average.

    Parameters
    ----------
    levels, coverage : array_like, shape (L,)
        Nominal levels (increasing) and the empirical coverage at each.

    Returns
    -------
    float
    """
    levels, cov = _columns(levels, coverage, names="levels, coverage")
    gap = np.abs(cov - levels)
    if levels.size == 1:
        return float(gap[0])
    span = levels[-1] - levels[0]
    if span <= 0:
        raise DarklensError(f"levels {levels.tolist()}: expected increasing nominal levels")
    return float(np.sum((gap[1:] + gap[:-1]) / 2.0 * np.diff(levels)) / span)


def fit_sigma_scale(y, mu, sigma) -> float:
    """The factor ``s`` that minimises the Gaussian NLL of ``y`` under ``N(mu, (s sigma)²)``.

    Setting the derivative of the NLL to zero gives ``s = sqrt(mean(((y - mu) / sigma)²))``:
    ``s > 1`` means the model was over-confident, ``s < 1`` under-confident.
    """
    y, mu, sigma = _columns(y, mu, sigma)
    return float(np.sqrt(np.mean(((y - mu) / _checked_sigma(sigma)) ** 2)))


def conformal_quantiles(y, mu, sigma, levels=(0.68, 0.95)) -> list[float]:
    """Split-conformal quantiles of the scores ``|y - mu| / sigma``.

    With ``n`` calibration scores, the ``ceil((n + 1) level)``-th smallest one ``q`` makes
    ``mu -/+ q sigma`` cover a fresh exchangeable sample with probability >= ``level``, whatever
    the residual distribution (Vovk et al.; Angelopoulos & Bates 2021).

    Parameters
    ----------
    y, mu, sigma : ndarray, shape (N,)
        Held-out truth, predicted mean and standard deviation of one target.
    levels : sequence of float
        Nominal coverages in (0, 1).

    Returns
    -------
    list of float
        One quantile per level; ``inf`` where ``(n + 1) level > n`` (too few samples to
        guarantee the level).
    """
    y, mu, sigma = _columns(y, mu, sigma)
    scores = np.sort(np.abs(y - mu) / _checked_sigma(sigma))
    n = scores.size
    out = []
    for level in _levels(levels):
        # the tolerance keeps an exact integer (n+1)*level from rounding up one rank
        rank = math.ceil((n + 1) * float(level) - 1e-9)
        out.append(float("inf") if rank > n else float(scores[max(rank, 1) - 1]))
    return out


def fit_calibration(y, mu, sigma, levels=(0.68, 0.95)) -> dict:
    """Fit sigma-scaling and split-conformal quantiles of one target on a calibration split.

    Parameters
    ----------
    y, mu, sigma : ndarray, shape (N,)
        Held-out truth, predicted mean and standard deviation (never the training data).
    levels : sequence of float
        Interval levels to calibrate.

    Returns
    -------
    dict
        ``{"sigma_scale": s, "levels": [...], "quantiles": [...], "n": n}`` of plain floats,
        ready for JSON (an infinite quantile is written as ``Infinity``).
    """
    y, mu, sigma = _columns(y, mu, sigma)
    levels = [float(v) for v in _levels(levels)]
    return {
        "sigma_scale": fit_sigma_scale(y, mu, sigma),
        "levels": levels,
        "quantiles": conformal_quantiles(y, mu, sigma, levels),
        "n": int(y.size),
    }
