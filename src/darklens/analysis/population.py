"""Population inference: the mean and scatter of a target over many lenses (hierarchical).

Each lens's prediction N(m_i, s_i^2) is read as its posterior under the training (interim)
prior, uniform on [lo, hi] (every darklens preset draws its targets uniformly). A network
trained with a Gaussian NLL predicts that posterior's mean and variance, and under a uniform
prior the posterior is the lens's likelihood restricted to [lo, hi]; so the likelihood
N(theta; x_i, sigma_i^2) is the Gaussian whose restriction to [lo, hi] has the predicted
moments. For a population model theta ~ N(mu, tau^2) restricted to [lo, hi], the likelihood of
the hyper-parameters divides the interim prior out of each posterior (importance reweighting,
as paltas / Wagner-Carena et al. 2021 do):

    L(mu, tau) = prod_i  integral  post_i(theta) p(theta | mu, tau) / pi(theta) d theta .

A lens whose posterior is as wide as the prior carries no information and drops out, instead
of pulling the population towards the prior's centre (which averaging the predicted means
does). With flat hyper-priors on mu in [lo - w/2, hi + w/2] (w = hi - lo) and tau in
(0, w], the posterior of (mu, tau) on a grid gives medians and central credible intervals.
Numbers only; the plot is :func:`darklens.analysis.plots.plot_population`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import log_ndtr, logsumexp

from darklens import columns as C
from darklens.errors import DarklensError

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)

__all__ = ["PopulationPosterior", "population_posterior", "population_report"]


@dataclass
class PopulationPosterior:
    """The posterior of (mu, tau) on a grid, with marginal summaries.

    The population is N(mu, tau^2) restricted to the prior's range; its actual mean and
    scatter (``mean``, ``scatter``) are what a user asks for, mu and tau its parameters.

    Attributes
    ----------
    mu, tau : ndarray
        Grid axes (the target's units).
    log_post : ndarray (len(mu), len(tau))
        Normalised log posterior on the grid.
    n : int
        Lenses combined (those narrower than the prior).
    prior : (lo, hi)
        The interim (training) prior's range.
    """

    mu: np.ndarray
    tau: np.ndarray
    log_post: np.ndarray
    n: int
    prior: tuple[float, float]

    def values(self, quantity: str) -> np.ndarray:
        """``quantity`` on the (mu, tau) grid: ``mu``, ``tau``, or the population's ``mean``
        and ``scatter`` (those of N(mu, tau^2) restricted to the prior's range)."""
        mu, tau = np.meshgrid(self.mu, self.tau, indexing="ij")
        if quantity in ("mu", "tau"):
            return mu if quantity == "mu" else tau
        mean, scatter = _truncnorm_moments(mu, tau, *self.prior)
        return mean if quantity == "mean" else scatter

    def interval(self, quantity: str, level: float) -> tuple[float, float]:
        """Central credible interval of ``mu``, ``tau``, ``mean`` or ``scatter``."""
        values = self.values(quantity).ravel()
        weights = np.exp(self.log_post - self.log_post.max()).ravel()
        order = np.argsort(values)
        cdf = np.cumsum(weights[order]) / weights.sum()
        q = (0.5 - level / 2, 0.5 + level / 2)
        return float(np.interp(q[0], cdf, values[order])), float(np.interp(q[1], cdf,
                                                                            values[order]))

    def summary(self) -> dict:
        """Median and 68 % / 95 % intervals of the population mean and scatter, and of the
        underlying mu and tau (JSON-able)."""
        out = {"n": self.n, "prior": list(self.prior)}
        for quantity in ("mean", "scatter", "mu", "tau"):
            out[quantity] = {"median": self.interval(quantity, 0.0)[0],
                             "68": list(self.interval(quantity, 0.68)),
                             "95": list(self.interval(quantity, 0.95))}
        return out


def population_posterior(means, stds, prior: tuple[float, float],
                         n_grid: int = 200) -> PopulationPosterior:
    """Combine per-lens Gaussian posteriors into the posterior of the population mean and
    scatter.

    Parameters
    ----------
    means, stds : array_like (N,)
        Predicted means and standard deviations of the target, one per lens (e.g. the
        ``T_mean`` / ``T_std`` columns of ``darklens infer``).
    prior : (lo, hi)
        Range of the uniform prior the model was trained on (the target's units).
    n_grid : int
        Grid points along mu and along tau.

    Returns
    -------
    PopulationPosterior

    Notes
    -----
    The integral has a closed form: with N(theta; x_i, sigma_i^2) the lens's likelihood
    recovered from its predicted moments, and c and v the mean and variance of its product with
    N(theta; mu, tau^2),

        L_i = N(x_i; mu, sigma_i^2 + tau^2) [Phi((hi - c) / sqrt v) - Phi((lo - c) / sqrt v)] / Z,

    Z = Phi((hi - mu) / tau) - Phi((lo - mu) / tau) normalising the population on [lo, hi]
    (a lens's own normalisation on [lo, hi] does not depend on mu, tau).
    """
    lo, hi = (float(v) for v in prior)
    if not hi > lo:
        raise DarklensError(f"population: prior range [{lo}, {hi}] is empty")
    m, s2 = _likelihoods(np.asarray(means, dtype=np.float64),
                         np.asarray(stds, dtype=np.float64), lo, hi)
    # the population may sit at an edge of the prior: its untruncated mean can lie outside
    width = hi - lo
    coarse = 60
    mu = np.linspace(lo - width / 2, hi + width / 2, coarse)
    tau = np.linspace(width / coarse, width, coarse)
    log_like = _log_likelihood(m, s2, mu, tau, lo, hi)
    # second pass on the box that holds the posterior, so intervals are not grid-quantised
    keep = log_like > log_like.max() - 25
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    mu = np.linspace(mu[max(rows[0] - 1, 0)], mu[min(rows[-1] + 1, coarse - 1)], n_grid)
    tau = np.linspace(tau[cols[0] - 1] if cols[0] else width / 1000,
                      tau[min(cols[-1] + 1, coarse - 1)], n_grid)
    log_like = _log_likelihood(m, s2, mu, tau, lo, hi)
    return PopulationPosterior(mu, tau, log_like - logsumexp(log_like), len(m), (lo, hi))


def population_report(predictions: str | Path, target: str, out_dir: str | Path,
                      prior: tuple[float, float] | None = None, model: str | Path | None = None,
                      keep_flagged: bool = False) -> dict:
    """``darklens population``: the population posterior of ``target`` from a predictions
    table, written as ``population.json`` and ``population.png`` in ``out_dir``.

    Parameters
    ----------
    predictions : path
        Table written by ``darklens infer`` (``T_mean``, ``T_std`` columns).
    target : str
        Target to combine.
    out_dir : path
        Folder for the summary and the plot.
    prior : (lo, hi), optional
        The training prior's range (target units); else read from ``model``.
    model : path, optional
        The model (run directory or export) that made the predictions: its training range.
    keep_flagged : bool
        Also combine images flagged as out of distribution (dropped by default).

    Returns
    -------
    dict
        :meth:`PopulationPosterior.summary`, plus ``n_flagged`` dropped and, when the table
        has ``T_true``, the true sample ``truth`` (mean, scatter) of the lenses combined.
    """
    from darklens.analysis.plots import plot_population
    from darklens.analysis.report import flagged, read_prediction_table
    from darklens.atomic import write_text_atomic

    table, predicted = read_prediction_table(predictions)
    if target not in predicted or C.std_column(target) not in table.columns:
        raise DarklensError(f"{predictions}: no {C.mean_column(target)} and "
                            f"{C.std_column(target)} columns; expected one of "
                            f"{', '.join(predicted)} with standard deviations")
    prior = _prior_range(target, prior, model)
    is_flagged = flagged(table)
    dropped = 0
    if is_flagged is not None and not keep_flagged:
        dropped, table = int(is_flagged.sum()), table[~is_flagged]
    post = population_posterior(table[C.mean_column(target)].to_numpy(),
                                table[C.std_column(target)].to_numpy(), prior)
    summary = post.summary() | {"target": target, "n_flagged": dropped}
    truth = None
    if C.true_column(target) in table.columns:
        values = table[C.true_column(target)].to_numpy(dtype=float)
        truth = summary["truth"] = {"mean": float(values.mean()), "scatter": float(values.std())}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "population.json", json.dumps(summary, indent=2))
    plot_population(post, out_dir / "population.png", target, truth)
    return summary


def _prior_range(target: str, prior, model) -> tuple[float, float]:
    """The interim prior's range: given, or the training range the model export carries."""
    if prior is not None:
        return float(prior[0]), float(prior[1])
    if model is None:
        raise DarklensError("population: give --prior LO HI (the training prior's range of "
                            f"{target}) or --model RUN (the model that made the predictions)")
    from darklens.artifact import read_meta

    ranges = read_meta(model).ood.get("target_ranges", {})
    if target not in ranges:
        raise DarklensError(f"{model}: the model carries no training range of {target}; "
                            "give --prior LO HI")
    return tuple(ranges[target])


def _log_likelihood(m, s2, mu, tau, lo: float, hi: float) -> np.ndarray:
    """log L(mu, tau) on the grid (closed form, see :func:`population_posterior`), summed over
    lenses in chunks so memory stays ~100 MB whatever the number of lenses."""
    mu_, t2 = mu[None, :, None], tau[None, None, :] ** 2
    z = _log_between((lo - mu[:, None]) / tau[None, :], (hi - mu[:, None]) / tau[None, :])
    total_log = -len(m) * z
    step = max(1, 2_000_000 // (len(mu) * len(tau)))
    for start in range(0, len(m), step):
        mi, si = m[start:start + step, None, None], s2[start:start + step, None, None]
        total = si + t2
        log_n = -0.5 * (mi - mu_) ** 2 / total - 0.5 * np.log(2 * np.pi * total)
        c, v = (mi * t2 + mu_ * si) / total, si * t2 / total
        inside = _log_between((lo - c) / np.sqrt(v), (hi - c) / np.sqrt(v))
        total_log = total_log + (log_n + inside).sum(axis=0)
    return total_log


def _log_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(b) - Phi(a)) for a < b, accurate far in either tail."""
    a, b = np.broadcast_arrays(a, b)
    flip = a > 0  # both in the upper tail: use Phi(-a) - Phi(-b)
    lo, hi = np.where(flip, -b, a), np.where(flip, -a, b)
    top, bottom = log_ndtr(hi), log_ndtr(lo)
    return top + np.log1p(-np.exp(np.minimum(bottom - top, -1e-300)))


def _truncnorm_moments(mu, tau, lo: float, hi: float):
    """Mean and standard deviation of N(mu, tau^2) restricted to [lo, hi], stable in the
    tails (ratios phi / Z taken in log space)."""
    a, b = (lo - mu) / tau, (hi - mu) / tau
    log_z = _log_between(a, b)
    ra = np.exp(-0.5 * a**2 - _LOG_SQRT_2PI - log_z)
    rb = np.exp(-0.5 * b**2 - _LOG_SQRT_2PI - log_z)
    var = tau**2 * (1 + a * ra - b * rb - (ra - rb) ** 2)
    return mu + tau * (ra - rb), np.sqrt(np.maximum(var, 0.0))


def _likelihoods(means: np.ndarray, stds: np.ndarray, lo: float, hi: float):
    """Each lens's Gaussian likelihood N(x, sigma^2) in the target, from its predicted posterior
    mean and standard deviation under the uniform interim prior on [lo, hi].

    A network trained with a Gaussian NLL predicts the posterior's mean and variance; under a
    uniform prior that posterior is the likelihood restricted to [lo, hi], so (x, sigma) are
    the parameters whose restriction has those moments (solved by Newton's method in
    (x, log sigma)). A lens as wide as the prior carries no information and is dropped.
    """
    width = hi - lo
    ok = np.isfinite(means) & np.isfinite(stds) & (stds > 0) & (stds < 0.999 * width / 12**0.5)
    m = np.clip(means[ok], lo + 1e-4 * width, hi - 1e-4 * width)
    s = stds[ok]
    if len(m) < 2:
        raise DarklensError("population: needs at least 2 lenses whose predictions are narrower "
                            "than the training prior")
    x, log_sigma = m.copy(), np.log(s)
    for _ in range(60):
        f = np.stack(_truncnorm_moments(x, np.exp(log_sigma), lo, hi)) - np.stack([m, s])
        if np.all(np.abs(f) < 1e-9 * width):
            break
        h = 1e-6 * width
        jx = (np.stack(_truncnorm_moments(x + h, np.exp(log_sigma), lo, hi)) - f
              - np.stack([m, s])) / h
        js = (np.stack(_truncnorm_moments(x, np.exp(log_sigma + 1e-6), lo, hi)) - f
              - np.stack([m, s])) / 1e-6
        det = jx[0] * js[1] - js[0] * jx[1]
        det = np.where(np.abs(det) < 1e-300, 1e-300, det)
        dx = (js[1] * f[0] - js[0] * f[1]) / det
        ds = (jx[0] * f[1] - jx[1] * f[0]) / det
        # damped steps: far outside the range the moments barely move with x
        x = x - np.clip(dx, -width, width)
        log_sigma = log_sigma - np.clip(ds, -1.0, 1.0)
    return x, np.exp(2 * log_sigma)
