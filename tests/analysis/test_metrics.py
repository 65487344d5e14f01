"""Per-bin, NLL and CRPS metrics against direct computation and numerical integration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from darklens.analysis.metrics import crps_gaussian, gaussian_nll, per_bin_metrics
from darklens.errors import DarklensError


def test_per_bin_metrics_matches_direct_computation():
    y = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
    pred = y + np.array([0.1, -0.1, 0.2, 0.2, -0.3, 0.0, 0.5, -0.5])
    bins = per_bin_metrics(y, pred, n_bins=2)
    assert [b["n"] for b in bins] == [4, 4]  # 4.0 (the maximum) lands in the last bin
    assert bins[0]["lo"] == 0.0 and bins[1]["hi"] == 4.0 and bins[0]["hi"] == 2.0
    err = pred - y
    np.testing.assert_allclose(bins[0]["mae"], np.abs(err[:4]).mean())
    np.testing.assert_allclose(bins[1]["rmse"], np.sqrt((err[4:] ** 2).mean()))
    np.testing.assert_allclose(bins[1]["bias"], err[4:].mean())


def test_per_bin_metrics_empty_bin_is_nan():
    bins = per_bin_metrics([0.0, 0.1, 10.0], [0.0, 0.1, 10.0], n_bins=5)
    assert sum(b["n"] for b in bins) == 3
    assert bins[2]["n"] == 0 and np.isnan(bins[2]["mae"])


def test_gaussian_nll_matches_scipy():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=50), rng.uniform(0.1, 2.0, 50)
    y = mu + sigma * rng.normal(size=50)
    expected = -stats.norm.logpdf(y, mu, sigma).mean()
    np.testing.assert_allclose(gaussian_nll(y, mu, sigma), expected, rtol=1e-12)


def _crps_numeric(y, mu, sigma):
    """CRPS = integral of (F(x) - 1[x >= y])² dx, split at y where the integrand jumps."""
    f = stats.norm(mu, sigma).cdf
    left = integrate.quad(lambda x: f(x) ** 2, mu - 40 * sigma, y, limit=200)[0]
    right = integrate.quad(lambda x: (1 - f(x)) ** 2, y, mu + 40 * sigma, limit=200)[0]
    return left + right


@pytest.mark.parametrize(("y", "mu", "sigma"), [(0.3, 0.0, 1.0), (-2.0, 1.0, 0.5), (5.0, 5.0, 3.0)])
def test_crps_gaussian_matches_numerical_integration(y, mu, sigma):
    np.testing.assert_allclose(
        crps_gaussian([y], [mu], [sigma]), _crps_numeric(y, mu, sigma), rtol=1e-6
    )


def test_crps_gaussian_is_mean_over_samples_and_tends_to_mae():
    y, mu = np.array([0.0, 1.0, 3.0]), np.array([0.5, 1.0, 2.0])
    sigma = np.array([1.0, 0.2, 2.0])
    each = [_crps_numeric(*v) for v in zip(y, mu, sigma, strict=True)]
    np.testing.assert_allclose(crps_gaussian(y, mu, sigma), np.mean(each), rtol=1e-6)
    np.testing.assert_allclose(
        crps_gaussian(y, mu, np.full(3, 1e-9)), np.abs(y - mu).mean(), atol=1e-8
    )


def test_bad_inputs_raise_one_line_errors():
    with pytest.raises(DarklensError, match="sigma") as err:
        gaussian_nll([1.0], [1.0], [0.0])
    assert "\n" not in str(err.value)
    with pytest.raises(DarklensError, match="lengths"):
        crps_gaussian([1.0, 2.0], [1.0], [1.0])
