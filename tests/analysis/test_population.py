"""Population inference: the recovered population mean covers the truth at its stated rate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import truncnorm

from darklens.analysis.population import _likelihoods, population_posterior
from darklens.cli import main

LO, HI = -24.0, -22.0  # the training prior of log10 m_a (uniform)


def _network_posteriors(theta, sigma, rng):
    """What a Gaussian network trained on the uniform prior predicts for lenses with true
    values ``theta`` and Gaussian measurement error ``sigma``: the mean and standard deviation
    of each posterior (the likelihood restricted to [LO, HI])."""
    x = theta + sigma * rng.standard_normal(theta.shape)
    a, b = (LO - x) / sigma, (HI - x) / sigma
    return truncnorm.mean(a, b, loc=x, scale=sigma), truncnorm.std(a, b, loc=x, scale=sigma)


def test_the_likelihood_is_recovered_exactly_from_the_posterior_moments():
    x = np.array([-23.0, -22.1, -21.5, -24.3, -23.9, -22.0])
    sigma = np.array([0.1, 0.3, 0.5, 0.2, 0.05, 1.0])
    a, b = (LO - x) / sigma, (HI - x) / sigma
    mean, var = _likelihoods(truncnorm.mean(a, b, loc=x, scale=sigma),
                             truncnorm.std(a, b, loc=x, scale=sigma), LO, HI)
    np.testing.assert_allclose(mean, x, atol=1e-6)
    np.testing.assert_allclose(var, sigma**2, rtol=1e-5)


def test_population_mean_intervals_cover_the_truth_at_their_rate():
    """100 populations of 50 lenses from a prior narrower than training (mean -22.5, scatter
    0.1, near the upper edge), each lens measured to only 0.5 dex, so every posterior is
    truncated by the training prior."""
    rng = np.random.default_rng(2024)
    mu, tau = -22.5, 0.1
    a, b = (LO - mu) / tau, (HI - mu) / tau
    true_mean = truncnorm.mean(a, b, loc=mu, scale=tau)
    hits68 = hits95 = naive68 = 0
    for _ in range(100):
        theta = truncnorm.rvs(a, b, loc=mu, scale=tau, size=50, random_state=rng)
        means, stds = _network_posteriors(theta, 0.5, rng)
        post = population_posterior(means, stds, (LO, HI))
        lo68, hi68 = post.interval("mean", 0.68)
        lo95, hi95 = post.interval("mean", 0.95)
        hits68 += lo68 <= true_mean <= hi68
        hits95 += lo95 <= true_mean <= hi95
        # averaging the predictions is pulled towards the prior's centre
        err = means.std() / np.sqrt(len(means))
        naive68 += abs(means.mean() - true_mean) <= err
    assert 63 <= hits68 <= 73
    assert 90 <= hits95 <= 99
    assert naive68 < 30


def test_uninformative_lenses_drop_out():
    rng = np.random.default_rng(5)
    means = np.r_[-23.5 + 0.05 * rng.standard_normal(30), np.full(30, -23.0)]
    stds = np.r_[np.full(30, 0.05), np.full(30, 2 / 12**0.5)]  # the prior's own width
    post = population_posterior(means, stds, (LO, HI))
    assert post.n == 30
    lo, hi = post.interval("mean", 0.95)
    assert lo < -23.5 < hi


def _table(tmp_path, flagged: bool):
    rng = np.random.default_rng(11)
    theta = np.clip(-22.6 + 0.2 * rng.standard_normal(40), LO, HI)
    means, stds = _network_posteriors(theta, 0.15, rng)
    table = pd.DataFrame({"source": [f"lens_{i}.fits" for i in range(40)],
                          "log10_m_axion_mean": means, "log10_m_axion_std": stds,
                          "log10_m_axion_true": theta})
    if flagged:  # two confident nonsense answers that the OOD checks caught
        table.loc[:1, "log10_m_axion_mean"] = -23.9
        table.loc[:1, "log10_m_axion_std"] = 0.01
        table["ood"] = [True, True] + [False] * 38
    path = tmp_path / "predictions.csv"
    table.to_csv(path, index=False)
    return path


def test_the_verb_writes_a_summary_and_a_plot_and_leaves_out_flagged_images(tmp_path, capsys):
    path = _table(tmp_path, flagged=True)
    out = tmp_path / "pop"
    assert main(["population", str(path), "--target", "log10_m_axion",
                 "--prior", str(LO), str(HI), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "38 lenses combined (2 flagged" in printed
    summary = json.loads((out / "population.json").read_text())
    assert summary["n"] == 38 and summary["n_flagged"] == 2
    lo, hi = summary["mean"]["95"]
    assert lo <= summary["truth"]["mean"] <= hi
    assert (out / "population.png").stat().st_size > 1000


@pytest.mark.parametrize("extra, message", [
    ([], "give --prior LO HI"),
    (["--prior", "-24", "-22", "--target", "f_sub"], "no f_sub_mean and f_sub_std columns"),
    (["--prior", "-22", "-24"], "prior range [-22.0, -24.0] is empty"),
])
def test_bad_requests_are_one_line(tmp_path, capsys, extra, message):
    path = _table(tmp_path, flagged=False)
    argv = ["population", str(path), "--out", str(tmp_path / "p")] + extra
    if "--target" not in extra:
        argv += ["--target", "log10_m_axion"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
