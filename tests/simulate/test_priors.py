"""Priors: samples follow the stated distribution and stay inside the support."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from darklens.errors import DarklensError
from darklens.simulate.priors import parse_prior


@pytest.mark.parametrize(
    ("spec", "dist"),
    [
        ({"uniform": [-1.0, 3.0]}, stats.uniform(-1.0, 4.0)),
        ({"loguniform": [1e6, 1e10]}, stats.loguniform(1e6, 1e10)),
        ({"normal": [0.5, 0.2]}, stats.norm(0.5, 0.2)),
        ({"truncnormal": [0.8, 0.3, 0.5, 1.0]}, stats.truncnorm(-1.0, 2 / 3, 0.8, 0.3)),
    ],
)
def test_continuous_priors_match_their_distribution(spec, dist):
    prior = parse_prior(spec, "p")
    rng = np.random.default_rng(0)
    x = np.array([prior.sample(rng) for _ in range(4000)])
    lo, hi = prior.support()
    assert x.min() >= lo and x.max() <= hi
    assert stats.kstest(x, dist.cdf).pvalue > 1e-3
    assert parse_prior(prior.spec(), "p") == prior


def test_discrete_priors():
    rng = np.random.default_rng(1)
    pois = parse_prior({"poisson": 25}, "p")
    x = np.array([pois.sample(rng) for _ in range(4000)])
    assert abs(x.mean() - 25) < 0.5 and abs(x.var() - 25) < 2.5
    choice = parse_prior({"choice": [1.0, 1.5, 2.0]}, "p")
    y = [choice.sample(rng) for _ in range(300)]
    assert set(y) == {1.0, 1.5, 2.0}
    assert parse_prior(0.3, "p").sample(rng) == 0.3


def test_same_stream_same_values():
    prior = parse_prior({"truncnormal": [0.0, 1.0, -1.0, 1.0]}, "p")
    a = [prior.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("wide", "expected a number or a one-key prior"),
        ({"uniform": [2, 1]}, "uniform needs low <= high"),
        ({"loguniform": [0, 1]}, "loguniform needs 0 < low <= high"),
        ({"normal": [0, -1]}, "normal needs sigma >= 0"),
        ({"uniform": [0, "a"]}, "expected a number, got 'a'"),
        ({"uniform": 1, "normal": 2}, "expected a number or a one-key prior"),
    ],
)
def test_bad_prior_specs(spec, message):
    with pytest.raises(DarklensError, match=message):
        parse_prior(spec, "params.x")
