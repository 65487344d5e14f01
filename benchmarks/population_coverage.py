"""Coverage of ``darklens population`` over repeated simulated populations.

Each population: 50 lenses with true values from N(mu, tau^2) restricted to the training prior
[-24, -22] (log10 m_a, narrower than training), each measured with Gaussian error sigma; the
"network" predicts the exact posterior mean and standard deviation under the uniform training
prior (what a Gaussian-NLL network converges to). Printed: how often the 68 % / 95 % intervals
of the population mean cover the true one, ours vs averaging the predicted means (+- its
standard error), over 100 populations per row.

    python benchmarks/population_coverage.py [--populations 100]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import truncnorm

from darklens.analysis.population import population_posterior

LO, HI = -24.0, -22.0
CASES = [  # (mu, tau, sigma): centre, near an edge, weak data, at the edge with weak data
    (-23.0, 0.2, 0.1), (-23.0, 0.2, 0.4), (-23.3, 0.3, 0.2), (-23.8, 0.2, 0.15),
    (-22.5, 0.1, 0.5),
]


def coverage(mu, tau, sigma, populations, rng, n=50):
    a, b = (LO - mu) / tau, (HI - mu) / tau
    true_mean = truncnorm.mean(a, b, loc=mu, scale=tau)
    hits = np.zeros(4)
    for _ in range(populations):
        theta = truncnorm.rvs(a, b, loc=mu, scale=tau, size=n, random_state=rng)
        x = theta + sigma * rng.standard_normal(n)
        xa, xb = (LO - x) / sigma, (HI - x) / sigma
        means = truncnorm.mean(xa, xb, loc=x, scale=sigma)
        stds = truncnorm.std(xa, xb, loc=x, scale=sigma)
        post = population_posterior(means, stds, (LO, HI))
        err = means.std() / np.sqrt(n)
        for k, level in enumerate((0.68, 0.95)):
            lo, hi = post.interval("mean", level)
            hits[k] += lo <= true_mean <= hi
            z = 1.0 if level == 0.68 else 1.96
            hits[2 + k] += abs(means.mean() - true_mean) <= z * err
    return hits / populations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'mu':>6} {'tau':>5} {'sigma':>5} | ours 68 %  ours 95 % | mean-of-means 68 %  95 %")
    for mu, tau, sigma in CASES:
        c = coverage(mu, tau, sigma, args.populations, rng)
        print(f"{mu:6.2f} {tau:5.2f} {sigma:5.2f} |   {c[0]:.2f}       {c[1]:.2f}    |"
              f"        {c[2]:.2f}        {c[3]:.2f}")


if __name__ == "__main__":
    main()
