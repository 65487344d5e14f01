"""Calibration numbers on synthetic Gaussian predictions whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from darklens.analysis.calibration import (
    DEFAULT_LEVELS,
    conformal_quantiles,
    coverage,
    fit_calibration,
    fit_sigma_scale,
    interval_coverage,
    miscalibration_area,
    pit,
    pit_ks,
)
from darklens.errors import DarklensError


def _sample(n, factor, seed, df=None):
    """Predictions whose stated sigma is ``factor`` times too small: true sd = factor * sigma.

    ``df`` draws residuals from a Student t (scaled to unit variance) instead of a Gaussian.
    """
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-2.0, 2.0, n)
    sigma = rng.uniform(0.2, 1.0, n)
    noise = rng.normal(size=n) if df is None else rng.standard_t(df, n) / np.sqrt(df / (df - 2))
    return mu + factor * sigma * noise, mu, sigma


def test_calibrated_predictions():
    y, mu, sigma = _sample(20000, 1.0, seed=1)
    cov = coverage(y, mu, sigma)
    np.testing.assert_allclose(cov, DEFAULT_LEVELS, atol=0.02)
    assert pit_ks(pit(y, mu, sigma))[1] > 0.01
    assert miscalibration_area(DEFAULT_LEVELS, cov) < 0.01
    np.testing.assert_allclose(fit_sigma_scale(y, mu, sigma), 1.0, atol=0.02)


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_miscalibrated_predictions(factor):
    y, mu, sigma = _sample(20000, factor, seed=2)
    cov = coverage(y, mu, sigma)
    if factor > 1:  # over-confident: stated sigma too small
        assert np.all(cov < DEFAULT_LEVELS)
    else:
        assert np.all(cov > DEFAULT_LEVELS)
    np.testing.assert_allclose(fit_sigma_scale(y, mu, sigma), factor, rtol=0.02)
    assert pit_ks(pit(y, mu, sigma))[1] < 1e-6
    assert miscalibration_area(DEFAULT_LEVELS, cov) > 0.1
    # sigma-scaling repairs a purely scaled sigma
    scaled = coverage(y, mu, sigma * fit_sigma_scale(y, mu, sigma))
    np.testing.assert_allclose(scaled, DEFAULT_LEVELS, atol=0.02)


@pytest.mark.parametrize(("factor", "df"), [(1.0, None), (2.5, None), (0.4, None), (1.7, 3)])
def test_conformal_intervals_hold_on_fresh_data(factor, df):
    y, mu, sigma = _sample(2000, factor, seed=3, df=df)
    cal = fit_calibration(y, mu, sigma, levels=(0.68, 0.95))
    assert cal["levels"] == [0.68, 0.95] and cal["n"] == 2000
    y2, mu2, sigma2 = _sample(20000, factor, seed=4, df=df)
    for level, q in zip(cal["levels"], cal["quantiles"], strict=True):
        held = interval_coverage(y2, mu2 - q * sigma2, mu2 + q * sigma2)
        assert abs(held - level) < 0.02, (level, held)


def test_conformal_quantile_rank_and_small_samples():
    scores = np.arange(1.0, 11.0)  # n = 10: ceil(11 * 0.5) = 6th smallest
    zeros = np.zeros(10)
    assert conformal_quantiles(scores, zeros, np.ones(10), levels=[0.5]) == [6.0]
    # (n + 1) * 0.95 = 10.45 > 10: no finite quantile can guarantee 95 %
    assert conformal_quantiles(scores, zeros, np.ones(10), levels=[0.95]) == [np.inf]
    # exactly (n + 1) * level = 11 * (6 / 11) must not round up one rank
    assert conformal_quantiles(scores, zeros, np.ones(10), levels=[6 / 11]) == [6.0]


def test_fit_calibration_is_plain_json_data():
    import json

    y, mu, sigma = _sample(100, 1.0, seed=5)
    cal = fit_calibration(y, mu, sigma)
    assert isinstance(cal["sigma_scale"], float) and isinstance(cal["n"], int)
    assert json.loads(json.dumps(cal)) == cal


def test_interval_coverage_and_errors():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    assert interval_coverage(y, y - 0.5, y + 0.5) == 1.0
    assert interval_coverage(y, [0.5, 0.5, np.nan, 0.5], [1.5, 1.5, 9.0, 1.5]) == 1 / 3
    assert np.isnan(interval_coverage(y, np.full(4, np.nan), np.full(4, np.nan)))
    with pytest.raises(DarklensError, match="levels"):
        coverage(y, y, np.ones(4), levels=[0.5, 1.0])
    with pytest.raises(DarklensError, match="sigma"):
        pit(y, y, np.zeros(4))


def test_pit_and_ks_values():
    assert pit([1.0], [1.0], [2.0])[0] == pytest.approx(0.5)
    np.testing.assert_allclose(pit([2.0], [0.0], [1.0]), stats.norm.cdf(2.0))
    stat, p = pit_ks(np.linspace(0.0, 1.0, 1001))
    assert stat < 0.01 and p > 0.99


def test_miscalibration_area_values():
    levels = np.array([0.1, 0.5, 0.9])
    assert miscalibration_area(levels, levels) == 0.0
    assert miscalibration_area(levels, levels + 0.1) == pytest.approx(0.1)
    assert miscalibration_area([0.5], [0.3]) == pytest.approx(0.2)
